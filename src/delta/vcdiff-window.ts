import { DeltaError } from './delta-error.js';
import { INCOMPLETE, readVarint, type Cursor } from './vcdiff-varint.js';

/** Window indicator bits (RFC 3284 §4.2, plus xdelta3's checksum bit). */
export const VcdWindowFlag = Object.freeze({ source: 0x01, target: 0x02, adler32: 0x04 });

/** One VCDIFF window, parsed but not yet executed. Its sections are complete, owned copies. */
export interface VcdiffWindow {
  /** Index in the patch, for messages. */
  index: number;
  /** Length and position of the source segment (0/0 without `VCD_SOURCE`). */
  sourceLength: number;
  sourcePosition: number;
  /** Bytes this window produces. */
  targetLength: number;
  /** Adler-32 of the target window when xdelta3 wrote one (`VCD_ADLER32`). */
  adler32: number | undefined;
  data: Uint8Array;
  inst: Uint8Array;
  addr: Uint8Array;
}

/** Bounds a window is checked against before anything of it is allocated. */
export interface WindowLimits {
  /** Largest target window accepted (memory for one window's output). */
  maxWindowBytes: number;
  /** Output bytes still allowed (declared length minus earlier windows). */
  remainingOutput: number;
  /** Size of the source the patch is applied to. */
  sourceSize: number;
}

/** A window's fixed fields; `encodingRest` bytes (the three sections) follow at `headerBytes`. */
export interface WindowHeader {
  fields: Omit<VcdiffWindow, 'data' | 'inst' | 'addr' | 'index'>;
  dataLength: number;
  instLength: number;
  addrLength: number;
  /** Bytes of the header (indicator … checksum). */
  headerBytes: number;
}

/**
 * Parses a window header from `cursor` (which may hold only part of the window). Returns
 * `undefined` when more bytes are needed; throws on anything malformed, unsupported, or beyond
 * `limits` — before the caller allocates the window's sections.
 */
export function parseWindowHeader(cursor: Cursor, index: number, limits: WindowLimits): WindowHeader | undefined {
  const start = cursor.pos;
  const fail = (): undefined => {
    cursor.pos = start;
    return undefined;
  };
  const { bytes } = cursor;
  if (cursor.pos >= bytes.length) return undefined;
  const indicator = bytes[cursor.pos++]!;
  if (indicator & VcdWindowFlag.target) {
    throw new DeltaError('NH_DELTA_UNSUPPORTED', `VCDIFF window ${index} copies from earlier target data (VCD_TARGET), which xdelta3 -S does not write`);
  }
  if (indicator & ~(VcdWindowFlag.source | VcdWindowFlag.adler32)) {
    throw new DeltaError('NH_DELTA_MALFORMED', `VCDIFF window ${index} has an unknown indicator 0x${indicator.toString(16)}`);
  }
  let sourceLength = 0;
  let sourcePosition = 0;
  if (indicator & VcdWindowFlag.source) {
    sourceLength = readVarint(cursor, 'source segment length');
    if (sourceLength === INCOMPLETE) return fail();
    sourcePosition = readVarint(cursor, 'source segment position');
    if (sourcePosition === INCOMPLETE) return fail();
    if (sourcePosition + sourceLength > limits.sourceSize) {
      throw new DeltaError(
        'NH_DELTA_WRONG_SOURCE',
        `VCDIFF window ${index} reads source bytes ${sourcePosition}..${sourcePosition + sourceLength} but the source has ${limits.sourceSize}: the patch was made for another source`,
      );
    }
  }
  const encodingLength = readVarint(cursor, 'delta encoding length');
  if (encodingLength === INCOMPLETE) return fail();
  const encodingStart = cursor.pos;
  const targetLength = readVarint(cursor, 'target window length');
  if (targetLength === INCOMPLETE) return fail();
  if (targetLength > limits.maxWindowBytes) {
    throw new DeltaError('NH_DELTA_TOO_LARGE', `VCDIFF window ${index} asks for a ${targetLength}-byte target window (at most ${limits.maxWindowBytes})`);
  }
  if (targetLength > limits.remainingOutput) {
    throw new DeltaError('NH_DELTA_TOO_LARGE', `VCDIFF window ${index} would write ${targetLength} bytes but only ${limits.remainingOutput} of the declared length are left`);
  }
  if (cursor.pos >= bytes.length) return fail();
  const deltaIndicator = bytes[cursor.pos++]!;
  if (deltaIndicator !== 0) {
    throw new DeltaError('NH_DELTA_UNSUPPORTED', `VCDIFF window ${index} uses secondary compression (delta indicator 0x${deltaIndicator.toString(16)}); make patches with xdelta3 -S`);
  }
  const dataLength = readVarint(cursor, 'data section length');
  if (dataLength === INCOMPLETE) return fail();
  const instLength = readVarint(cursor, 'instruction section length');
  if (instLength === INCOMPLETE) return fail();
  const addrLength = readVarint(cursor, 'address section length');
  if (addrLength === INCOMPLETE) return fail();
  let adler32: number | undefined;
  if (indicator & VcdWindowFlag.adler32) {
    if (cursor.pos + 4 > bytes.length) return fail();
    adler32 = ((bytes[cursor.pos]! << 24) | (bytes[cursor.pos + 1]! << 16) | (bytes[cursor.pos + 2]! << 8) | bytes[cursor.pos + 3]!) >>> 0;
    cursor.pos += 4;
  }
  const sections = dataLength + instLength + addrLength;
  // Data is at most the target (ADD/RUN bytes); instructions and addresses take at most ~20 bytes
  // per output byte in a degenerate patch: bound the encoding by the window it builds.
  if (dataLength > targetLength || sections > 2 * limits.maxWindowBytes + 65_536) {
    throw new DeltaError('NH_DELTA_TOO_LARGE', `VCDIFF window ${index} has ${sections} bytes of sections for a ${targetLength}-byte target`);
  }
  if (encodingLength !== cursor.pos - encodingStart + sections) {
    throw new DeltaError('NH_DELTA_MALFORMED', `VCDIFF window ${index}: delta encoding length ${encodingLength} does not match its sections`);
  }
  return {
    fields: { sourceLength, sourcePosition, targetLength, adler32 },
    dataLength,
    instLength,
    addrLength,
    headerBytes: cursor.pos - start,
  };
}
