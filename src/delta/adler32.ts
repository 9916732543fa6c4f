/** Largest run of bytes before the sums must be reduced mod 65521 without overflowing 2^53. */
const NMAX = 1 << 20;
const BASE = 65521;

/** Adler-32 (RFC 1950) of `bytes`, continuing from `start` (1 for a fresh checksum). */
export function adler32(bytes: Uint8Array, start = 1): number {
  let a = start & 0xffff;
  let b = (start >>> 16) & 0xffff;
  for (let at = 0; at < bytes.length; ) {
    const end = Math.min(bytes.length, at + NMAX);
    for (; at < end; at++) {
      a += bytes[at]!;
      b += a;
    }
    a %= BASE;
    b %= BASE;
  }
  return ((b << 16) | a) >>> 0;
}
