import { crc32 as zlibCrc32 } from 'node:zlib';

/**
 * Continues a zip CRC-32 over `data` with `zlib.crc32` (Node ≥ 20.15; the package requires ≥ 20.19).
 * @internal
 */
export function crc32(data: Uint8Array, initial = 0): number {
  return zlibCrc32(data, initial) >>> 0;
}
