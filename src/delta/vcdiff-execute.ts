import { adler32 } from './adler32.js';
import { DeltaError } from './delta-error.js';
import type { SourceBlockCache } from './source-block-cache.js';
import { VcdInstruction, defaultCodeTable } from './vcdiff-code-table.js';
import { readSectionVarint, type Cursor } from './vcdiff-varint.js';
import type { VcdiffWindow } from './vcdiff-window.js';

/** RFC 3284 §5.1 address cache sizes of the default code table. */
const NEAR_SIZE = 4;
const SAME_SIZE = 3;
const SAME_MODE = 2 + NEAR_SIZE;

function malformed(window: VcdiffWindow, what: string): DeltaError {
  return new DeltaError('NH_DELTA_MALFORMED', `VCDIFF window ${window.index}: ${what}`);
}

/**
 * Runs one window's instructions and returns its target bytes, after checking its Adler-32 when
 * the patch carries one. Source copies go through `cache`; copies from the target window may
 * overlap the bytes they produce (RFC 3284 §3: byte-by-byte semantics).
 */
export async function executeWindow(window: VcdiffWindow, cache: SourceBlockCache): Promise<Uint8Array> {
  const table = defaultCodeTable();
  const out = new Uint8Array(window.targetLength);
  const { data, sourceLength, sourcePosition } = window;
  const inst: Cursor = { bytes: window.inst, pos: 0 };
  const addr: Cursor = { bytes: window.addr, pos: 0 };
  const near = [0, 0, 0, 0];
  let nextNear = 0;
  const same = new Array<number>(SAME_SIZE * 256).fill(0);
  let dataPos = 0;
  let outPos = 0;

  while (inst.pos < inst.bytes.length) {
    const code = inst.bytes[inst.pos++]!;
    for (let half = 0; half < 2; half++) {
      const type = half === 0 ? table.type1[code]! : table.type2[code]!;
      if (type === VcdInstruction.noop) continue;
      let size = half === 0 ? table.size1[code]! : table.size2[code]!;
      if (size === 0) size = readSectionVarint(inst, 'instruction size');
      if (size > out.length - outPos) throw malformed(window, 'an instruction writes past the target window');
      if (type === VcdInstruction.add) {
        if (size > data.length - dataPos) throw malformed(window, 'an ADD runs past the data section');
        out.set(data.subarray(dataPos, dataPos + size), outPos);
        dataPos += size;
        outPos += size;
      } else if (type === VcdInstruction.run) {
        if (dataPos >= data.length) throw malformed(window, 'a RUN runs past the data section');
        out.fill(data[dataPos++]!, outPos, outPos + size);
        outPos += size;
      } else {
        const mode = half === 0 ? table.mode1[code]! : table.mode2[code]!;
        const here = sourceLength + outPos;
        let address: number;
        if (mode === 0) address = readSectionVarint(addr, 'address');
        else if (mode === 1) address = here - readSectionVarint(addr, 'address');
        else if (mode < SAME_MODE) address = near[mode - 2]! + readSectionVarint(addr, 'address');
        else {
          if (addr.pos >= addr.bytes.length) throw malformed(window, 'an address runs past the address section');
          address = same[(mode - SAME_MODE) * 256 + addr.bytes[addr.pos++]!]!;
        }
        if (address < 0 || address >= here) throw malformed(window, `a COPY address ${address} is outside the window (${here})`);
        near[nextNear] = address;
        nextNear = (nextNear + 1) % NEAR_SIZE;
        same[address % (SAME_SIZE * 256)] = address;
        let remaining = size;
        if (address < sourceLength) {
          const fromSource = Math.min(remaining, sourceLength - address);
          const pending = cache.copy(out, outPos, sourcePosition + address, fromSource);
          if (pending) await pending;
          outPos += fromSource;
          remaining -= fromSource;
          address = sourceLength;
        }
        if (remaining > 0) {
          let from = address - sourceLength;
          if (from + remaining <= outPos) {
            out.copyWithin(outPos, from, from + remaining);
            outPos += remaining;
          } else {
            // Overlapping copy: each byte may be one this copy just wrote (a repeated pattern).
            for (const end = outPos + remaining; outPos < end; ) out[outPos++] = out[from++]!;
          }
        }
      }
    }
  }
  if (outPos !== out.length) throw malformed(window, `instructions produce ${outPos} bytes, the window declares ${out.length}`);
  if (dataPos !== data.length || addr.pos !== addr.bytes.length) throw malformed(window, 'unused bytes in the data or address section');
  if (window.adler32 !== undefined && adler32(out) !== window.adler32) {
    throw new DeltaError('NH_DELTA_WRONG_SOURCE', `VCDIFF window ${window.index}: target window checksum mismatch (the patch was made for another source, or is corrupt)`);
  }
  return out;
}
