/**
 * The few DER (ASN.1) encodings an X.509 certificate needs, and a reader for one TLV. Enough for
 * the test CA to build certificates with node:crypto alone (no ASN.1 library at run time).
 * @internal
 */

/** One encoded TLV (or the concatenation of several). */
export type Der = Buffer;

function lengthBytes(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** A TLV with tag `tag` around `content`. */
export function tlv(tag: number, ...content: Uint8Array[]): Der {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), lengthBytes(body.length), body]);
}

/** SEQUENCE. */
export const sequence = (...items: Uint8Array[]): Der => tlv(0x30, ...items);
/** SET. */
export const set = (...items: Uint8Array[]): Der => tlv(0x31, ...items);
/** OCTET STRING. */
export const octetString = (bytes: Uint8Array): Der => tlv(0x04, bytes);
/** UTF8String. */
export const utf8String = (text: string): Der => tlv(0x0c, Buffer.from(text, 'utf8'));
/** BOOLEAN. */
export const boolean = (value: boolean): Der => tlv(0x01, Buffer.from([value ? 0xff : 0x00]));
/** Context-specific constructed `[n]` (EXPLICIT tagging). */
export const explicit = (n: number, ...content: Uint8Array[]): Der => tlv(0xa0 | n, ...content);
/** Context-specific primitive `[n]` (IMPLICIT tagging of a primitive). */
export const implicit = (n: number, bytes: Uint8Array): Der => tlv(0x80 | n, bytes);

/** BIT STRING of whole bytes (a signature, a public key). */
export function bitString(bytes: Uint8Array, unusedBits = 0): Der {
  return tlv(0x03, Buffer.from([unusedBits]), bytes);
}

/** INTEGER from a non-negative number or big-endian unsigned bytes. */
export function integer(value: number | Uint8Array): Der {
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

/** OBJECT IDENTIFIER from dotted form. */
export function oid(dotted: string): Der {
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

/** UTCTime for 1950–2049, GeneralizedTime otherwise (RFC 5280 §4.1.2.5). */
export function time(date: Date): Der {
  const iso = date.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:T]/g, '');
  const year = date.getUTCFullYear();
  return year >= 1950 && year < 2050 ? tlv(0x17, Buffer.from(iso.slice(2), 'ascii')) : tlv(0x18, Buffer.from(iso, 'ascii'));
}

/** Reads the TLV at `offset`: its tag, content and the offset after it. */
export function readTlv(der: Uint8Array, offset = 0): { tag: number; content: Buffer; end: number } {
  const buf = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  const tag = buf[offset] ?? -1;
  let length = buf[offset + 1] ?? 0;
  let at = offset + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (buf[at + i] ?? 0);
    at += n;
  }
  if (tag < 0 || at + length > buf.length) throw new Error('truncated DER');
  return { tag, content: buf.subarray(at, at + length), end: at + length };
}
