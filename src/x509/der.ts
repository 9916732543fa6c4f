/**
 * The DER (ASN.1) encodings that X.509 certificates and PKCS#10 requests need, and a reader for
 * their TLVs: enough to build and check them with node:crypto alone (no ASN.1 library at run time).
 * @internal
 */

/** DER-encoded bytes. @internal */
export type Der = Buffer;

function lengthBytes(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** A TLV with tag `tag` around `content`. @internal */
export function tlv(tag: number, ...content: Uint8Array[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), lengthBytes(body.length), body]);
}

/** SEQUENCE. @internal */
export const sequence = (...items: Uint8Array[]): Buffer => tlv(0x30, ...items);
/** SET. @internal */
export const set = (...items: Uint8Array[]): Buffer => tlv(0x31, ...items);
/** OCTET STRING. @internal */
export const octetString = (bytes: Uint8Array): Buffer => tlv(0x04, bytes);
/** UTF8String. @internal */
export const utf8String = (text: string): Buffer => tlv(0x0c, Buffer.from(text, 'utf8'));
/** BOOLEAN. @internal */
export const boolean = (value: boolean): Buffer => tlv(0x01, Buffer.from([value ? 0xff : 0x00]));
/** Context-specific constructed `[n]`. @internal */
export const explicit = (n: number, ...content: Uint8Array[]): Buffer => tlv(0xa0 | n, ...content);
/** Context-specific primitive `[n]` (IMPLICIT tagging of a primitive). @internal */
export const implicit = (n: number, bytes: Uint8Array): Buffer => tlv(0x80 | n, bytes);

/** BIT STRING of whole bytes (a signature, a public key) or with `unusedBits` in the last byte. @internal */
export function bitString(bytes: Uint8Array, unusedBits = 0): Buffer {
  return tlv(0x03, Buffer.from([unusedBits]), bytes);
}

/** INTEGER from a non-negative number or big-endian unsigned bytes, minimally encoded. @internal */
export function integer(value: number | Uint8Array): Buffer {
  let bytes: Buffer;
  if (typeof value === 'number') {
    const hex = value.toString(16);
    bytes = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  } else {
    bytes = Buffer.from(value);
  }
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  bytes = bytes.subarray(start);
  if ((bytes[0] ?? 0) & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(0x02, bytes);
}

/** OBJECT IDENTIFIER from dotted form. @internal */
export function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const out = [40 * a + b];
  for (const arc of rest) {
    const base128: number[] = [];
    for (let n = arc; ; n = Math.floor(n / 128)) {
      base128.unshift((n & 0x7f) | (base128.length ? 0x80 : 0));
      if (n < 128) break;
    }
    out.push(...base128);
  }
  return tlv(0x06, Buffer.from(out));
}

/** Dotted form of an OBJECT IDENTIFIER's content bytes. @internal */
export function oidText(content: Uint8Array): string {
  const first = content[0] ?? 0;
  const arcs = [Math.min(2, Math.floor(first / 40)), first - 40 * Math.min(2, Math.floor(first / 40))];
  let n = 0;
  for (const byte of content.subarray(1)) {
    n = n * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      arcs.push(n);
      n = 0;
    }
  }
  return arcs.join('.');
}

/** UTCTime for 1950–2049, GeneralizedTime otherwise (RFC 5280 §4.1.2.5), whole seconds. @internal */
export function time(date: Date): Buffer {
  const iso = new Date(Math.floor(date.getTime() / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:T]/g, '');
  const year = date.getUTCFullYear();
  return year >= 1950 && year < 2050 ? tlv(0x17, Buffer.from(iso.slice(2), 'ascii')) : tlv(0x18, Buffer.from(iso, 'ascii'));
}

/** One decoded TLV: its tag, content, the whole encoding, and the offset after it. @internal */
export interface Tlv {
  tag: number;
  content: Buffer;
  /** Tag, length and content bytes. */
  raw: Buffer;
  end: number;
}

/**
 * Reads the TLV at `offset` (single-byte tags, definite lengths, as DER has).
 * @throws Error on truncated or non-DER input.
 * @internal
 */
export function readTlv(der: Uint8Array, offset = 0): Tlv {
  const buf = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  if (offset + 2 > buf.length) throw new Error('truncated DER');
  const tag = buf[offset]!;
  let length = buf[offset + 1]!;
  let at = offset + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 4) throw new Error('unsupported DER length');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (buf[at + i] ?? 0);
    at += n;
  }
  if (at + length > buf.length) throw new Error('truncated DER');
  return { tag, content: buf.subarray(at, at + length), raw: buf.subarray(offset, at + length), end: at + length };
}

/** The TLVs inside a constructed TLV's content, in order. @internal */
export function children(content: Uint8Array): Tlv[] {
  const out: Tlv[] = [];
  for (let at = 0; at < content.length; ) {
    const item = readTlv(content, at);
    out.push(item);
    at = item.end;
  }
  return out;
}
