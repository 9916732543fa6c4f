import { DeltaError } from './delta-error.js';

/** A read position over a byte array (sections of one window, or a header being parsed). */
export interface Cursor {
  bytes: Uint8Array;
  pos: number;
}

/** Returned by {@link readVarint} when `bytes` ends inside the integer. */
export const INCOMPLETE = -1;

/**
 * Reads an RFC 3284 §2 integer (base 128, most significant digit first, high bit = more digits).
 * Returns {@link INCOMPLETE} (cursor unchanged) when the bytes end first; throws for one that does
 * not fit a safe integer (xdelta3 writes at most 64-bit values; sizes here stay far below 2^53).
 */
export function readVarint(cursor: Cursor, what: string): number {
  const { bytes } = cursor;
  let value = 0;
  for (let at = cursor.pos, digits = 0; at < bytes.length; at++, digits++) {
    const byte = bytes[at]!;
    value = value * 128 + (byte & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER || (digits === 0 && byte === 0x80)) {
      throw new DeltaError('NH_DELTA_MALFORMED', `VCDIFF ${what} is not a valid integer`);
    }
    if ((byte & 0x80) === 0) {
      cursor.pos = at + 1;
      return value;
    }
  }
  return INCOMPLETE;
}

/** Like {@link readVarint} inside a complete section: running out of bytes is an error. */
export function readSectionVarint(cursor: Cursor, what: string): number {
  const value = readVarint(cursor, what);
  if (value === INCOMPLETE) throw new DeltaError('NH_DELTA_MALFORMED', `VCDIFF ${what} runs past the end of its section`);
  return value;
}
