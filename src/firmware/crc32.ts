import * as zlib from 'node:zlib';

type Crc32Function = (data: Uint8Array, initial: number) => number;

let tableCrc: Crc32Function | undefined;

function tableDrivenCrc32(): Crc32Function {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return (data, initial) => {
    let c = ~initial >>> 0;
    for (let i = 0; i < data.length; i++) c = (table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8)) >>> 0;
    return ~c >>> 0;
  };
}

/**
 * Continues a zip CRC-32 over `data`. Uses `zlib.crc32` (Node ≥ 20.15, SIMD-accelerated) when the
 * runtime has it, else a table-driven fallback.
 */
export function crc32(data: Uint8Array, initial = 0): number {
  const native = (zlib as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;
  if (native) return native(data, initial) >>> 0;
  tableCrc ??= tableDrivenCrc32();
  return tableCrc(data, initial);
}
