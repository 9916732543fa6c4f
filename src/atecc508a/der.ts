/** Just enough DER to write the NervesKey certificate templates. @internal */

function lengthBytes(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v >>= 8) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

/** A TLV with the given tag. @internal */
export function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const length = content.reduce((n, c) => n + c.length, 0);
  const head = [tag, ...lengthBytes(length)];
  const out = new Uint8Array(head.length + length);
  out.set(head);
  let offset = head.length;
  for (const c of content) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

/** SEQUENCE. @internal */
export const seq = (...content: Uint8Array[]): Uint8Array => tlv(0x30, ...content);

/** Bytes from hex. @internal */
export const hex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h.replace(/\s+/g, ''), 'hex'));

/** A positive INTEGER from unsigned big-endian bytes, minimally encoded. @internal */
export function unsignedInteger(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const v = bytes.subarray(start);
  return (v[0] ?? 0) & 0x80 ? tlv(0x02, Uint8Array.of(0), v) : tlv(0x02, v);
}

/** OBJECT IDENTIFIER from its encoded content bytes (hex). @internal */
export const oid = (contentHex: string): Uint8Array => tlv(0x06, hex(contentHex));

/** UTF8String. @internal */
export const utf8String = (s: string): Uint8Array => tlv(0x0c, new TextEncoder().encode(s));

/** OCTET STRING. @internal */
export const octetString = (...content: Uint8Array[]): Uint8Array => tlv(0x04, ...content);

/** BIT STRING with no unused bits. @internal */
export const bitString = (...content: Uint8Array[]): Uint8Array => tlv(0x03, Uint8Array.of(0), ...content);

/** Validity time: UTCTime before 2050, GeneralizedTime from 2050 on (RFC 5280 §4.1.2.5). @internal */
export function time(d: Date): Uint8Array {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const rest = `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  const year = d.getUTCFullYear();
  if (year >= 1950 && year < 2050) return tlv(0x17, new TextEncoder().encode(`${p(year % 100)}${rest}`));
  return tlv(0x18, new TextEncoder().encode(`${p(year, 4)}${rest}`));
}
