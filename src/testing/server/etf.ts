/**
 * A small, defensive decoder for Erlang's External Term Format (ETF), enough to read the message
 * of a Plug.Crypto token (`{identifier, signed_at_ms, max_age}`). It never evaluates anything: funs,
 * pids, references and ports are refused, and every length is bounds-checked, so hostile input
 * only ever yields an error.
 */

/** A decoded ETF term. Integers are `bigint`, binaries `Uint8Array`, atoms `{ atom }`. */
export type EtfTerm =
  | bigint
  | number
  | Uint8Array
  | { readonly atom: string }
  | { readonly tuple: readonly EtfTerm[] }
  | readonly EtfTerm[];

/** Why a byte string is not an acceptable term. */
export class EtfDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EtfDecodeError';
  }
}

const ETF_LIMITS = Object.freeze({ maxDepth: 16, maxElements: 4096 });

const Tag = {
  version: 131,
  newFloat: 70,
  smallInteger: 97,
  integer: 98,
  atom: 100,
  smallTuple: 104,
  largeTuple: 105,
  nil: 106,
  string: 107,
  list: 108,
  binary: 109,
  smallBig: 110,
  largeBig: 111,
  smallAtom: 115,
  atomUtf8: 118,
  smallAtomUtf8: 119,
} as const;

class Reader {
  #offset = 0;
  constructor(private readonly bytes: Uint8Array) {}
  get remaining(): number {
    return this.bytes.length - this.#offset;
  }
  take(count: number): Uint8Array {
    if (count < 0 || count > this.remaining) throw new EtfDecodeError('truncated term');
    const out = this.bytes.subarray(this.#offset, this.#offset + count);
    this.#offset += count;
    return out;
  }
  u8(): number {
    return this.take(1)[0] ?? 0;
  }
  u16(): number {
    const b = this.take(2);
    return ((b[0] ?? 0) << 8) | (b[1] ?? 0);
  }
  u32(): number {
    const b = this.take(4);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0);
  }
}

function bigFromLittleEndian(digits: Uint8Array, negative: boolean): bigint {
  let value = 0n;
  for (let i = digits.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(digits[i] ?? 0);
  return negative ? -value : value;
}

function decodeTerm(reader: Reader, depth: number): EtfTerm {
  if (depth > ETF_LIMITS.maxDepth) throw new EtfDecodeError('term nested too deeply');
  const tag = reader.u8();
  switch (tag) {
    case Tag.smallInteger:
      return BigInt(reader.u8());
    case Tag.integer: {
      const b = reader.take(4);
      return BigInt(new DataView(b.buffer, b.byteOffset, 4).getInt32(0));
    }
    case Tag.smallBig:
    case Tag.largeBig: {
      const count = tag === Tag.smallBig ? reader.u8() : reader.u32();
      const sign = reader.u8();
      if (sign > 1) throw new EtfDecodeError('bad bignum sign');
      if (count > 64) throw new EtfDecodeError('bignum too large');
      return bigFromLittleEndian(reader.take(count), sign === 1);
    }
    case Tag.newFloat: {
      const b = reader.take(8);
      return new DataView(b.buffer, b.byteOffset, 8).getFloat64(0);
    }
    case Tag.binary:
      return new Uint8Array(reader.take(reader.u32())); // a copy, never a view of the input
    case Tag.atom:
    case Tag.atomUtf8:
      return { atom: Buffer.from(reader.take(reader.u16())).toString('utf8') };
    case Tag.smallAtom:
    case Tag.smallAtomUtf8:
      return { atom: Buffer.from(reader.take(reader.u8())).toString('utf8') };
    case Tag.smallTuple:
    case Tag.largeTuple: {
      const arity = tag === Tag.smallTuple ? reader.u8() : reader.u32();
      if (arity > ETF_LIMITS.maxElements || arity > reader.remaining) throw new EtfDecodeError('tuple too large');
      const items: EtfTerm[] = [];
      for (let i = 0; i < arity; i++) items.push(decodeTerm(reader, depth + 1));
      return { tuple: items };
    }
    case Tag.nil:
      return [];
    case Tag.string:
      return Array.from(reader.take(reader.u16()), (c) => BigInt(c));
    case Tag.list: {
      const length = reader.u32();
      if (length > ETF_LIMITS.maxElements || length > reader.remaining) throw new EtfDecodeError('list too large');
      const items: EtfTerm[] = [];
      for (let i = 0; i < length; i++) items.push(decodeTerm(reader, depth + 1));
      const tail = decodeTerm(reader, depth + 1);
      if (!Array.isArray(tail) || tail.length !== 0) throw new EtfDecodeError('improper list');
      return items;
    }
    default:
      // Funs, pids, ports, references, maps, compressed terms…: never needed here, refused.
      throw new EtfDecodeError(`unsupported term tag ${tag}`);
  }
}

/**
 * Decodes one complete ETF value (`131` version byte first). Throws {@link EtfDecodeError} on
 * anything malformed, unsupported, or followed by trailing bytes.
 */
export function decodeEtf(bytes: Uint8Array): EtfTerm {
  const reader = new Reader(bytes);
  if (reader.u8() !== Tag.version) throw new EtfDecodeError('missing ETF version byte 131');
  const term = decodeTerm(reader, 0);
  if (reader.remaining !== 0) throw new EtfDecodeError('trailing bytes after term');
  return term;
}

/** True when `term` is an Erlang tuple. */
export function isEtfTuple(term: EtfTerm): term is { readonly tuple: readonly EtfTerm[] } {
  return typeof term === 'object' && term !== null && !Array.isArray(term) && 'tuple' in term;
}
