import { DeltaError } from './delta-error.js';
import { INCOMPLETE, readVarint, type Cursor } from './vcdiff-varint.js';
import { parseWindowHeader, type VcdiffWindow, type WindowHeader } from './vcdiff-window.js';

/** `D6 C3 C4` ("VCD" with the high bits set), then version 0. */
export const VCDIFF_MAGIC = Object.freeze([0xd6, 0xc3, 0xc4, 0x00]);

const HeaderFlag = Object.freeze({ decompress: 0x01, codeTable: 0x02, appHeader: 0x04 });
/** A window header takes at most 1 + 3×10 + 1 + 3×10 + 4 bytes; a file header 5 + 10. */
const MAX_HEADER_BYTES = 96;
/** xdelta3's application header (file names) when `-A` was not given; skipped, but bounded. */
const MAX_APP_HEADER_BYTES = 65_536;

/** Limits of one {@link VcdiffStreamParser}. */
export interface VcdiffParserLimits {
  maxWindowBytes: number;
  /** The most output the patch may declare in total (the target's signed length). */
  maxOutputBytes: number;
  sourceSize: number;
}

/** True when `bytes` starts with the VCDIFF magic. */
export function isVcdiff(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && VCDIFF_MAGIC.every((b, i) => bytes[i] === b);
}

/**
 * Splits a VCDIFF stream, pushed in arbitrary chunks, into complete windows. Every size is
 * checked before memory is allocated for it; memory held is the windows waiting in
 * {@link VcdiffStreamParser.ready} plus one window being filled.
 */
export class VcdiffStreamParser {
  /** Complete windows in order; the consumer takes them out. */
  readonly ready: VcdiffWindow[] = [];
  #head: Uint8Array = new Uint8Array(0);
  #stage: 'file-header' | 'windows' = 'file-header';
  #skip = 0;
  #filling: { header: WindowHeader; buffer: Uint8Array; filled: number } | undefined;
  #windowCount = 0;
  #declaredOutput = 0;

  constructor(private readonly limits: VcdiffParserLimits) {}

  /** Output bytes the windows parsed so far declare. */
  get declaredOutputBytes(): number {
    return this.#declaredOutput;
  }

  /** Parses `chunk` (copied where kept: the caller may reuse it). */
  push(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - at);
        this.#skip -= n;
        at += n;
        continue;
      }
      const filling = this.#filling;
      if (filling) {
        const n = Math.min(filling.buffer.length - filling.filled, chunk.length - at);
        filling.buffer.set(chunk.subarray(at, at + n), filling.filled);
        filling.filled += n;
        at += n;
        if (filling.filled === filling.buffer.length) this.#completeWindow(filling.header, filling.buffer);
        continue;
      }
      const fromChunk = chunk.subarray(at, at + MAX_HEADER_BYTES - this.#head.length);
      const combined = new Uint8Array(this.#head.length + fromChunk.length);
      combined.set(this.#head);
      combined.set(fromChunk, this.#head.length);
      const cursor: Cursor = { bytes: combined, pos: 0 };
      const parsed = this.#stage === 'file-header' ? this.#parseFileHeader(cursor) : this.#parseWindow(cursor);
      if (!parsed) {
        this.#head = combined;
        at += fromChunk.length;
        continue;
      }
      at += cursor.pos - this.#head.length;
      this.#head = new Uint8Array(0);
    }
  }

  /** Declares the end of the patch; throws when it ended inside a header or window. */
  finish(): void {
    if (this.#stage === 'file-header' || this.#head.length > 0 || this.#skip > 0 || this.#filling) {
      throw new DeltaError('NH_DELTA_MALFORMED', 'VCDIFF patch is truncated');
    }
  }

  #parseFileHeader(cursor: Cursor): boolean {
    const { bytes } = cursor;
    if (bytes.length < 5) {
      if (bytes.length > 0 && !VCDIFF_MAGIC.slice(0, bytes.length).every((b, i) => bytes[i] === b)) this.#notVcdiff();
      return false;
    }
    if (!isVcdiff(bytes)) this.#notVcdiff();
    const indicator = bytes[4]!;
    cursor.pos = 5;
    if (indicator & HeaderFlag.decompress) {
      throw new DeltaError('NH_DELTA_UNSUPPORTED', 'VCDIFF patch uses a secondary compressor; make patches with xdelta3 -S');
    }
    if (indicator & HeaderFlag.codeTable) {
      throw new DeltaError('NH_DELTA_UNSUPPORTED', 'VCDIFF patch brings its own code table; only the default table is supported');
    }
    if (indicator & ~HeaderFlag.appHeader) {
      throw new DeltaError('NH_DELTA_MALFORMED', `VCDIFF header indicator 0x${indicator.toString(16)} is not valid`);
    }
    if (indicator & HeaderFlag.appHeader) {
      const length = readVarint(cursor, 'application header length');
      if (length === INCOMPLETE) {
        cursor.pos = 0;
        return false;
      }
      if (length > MAX_APP_HEADER_BYTES) throw new DeltaError('NH_DELTA_TOO_LARGE', `VCDIFF application header of ${length} bytes`);
      this.#skip = length;
    }
    this.#stage = 'windows';
    return true;
  }

  #notVcdiff(): never {
    throw new DeltaError('NH_DELTA_MALFORMED', 'not a VCDIFF patch (bad magic)');
  }

  #parseWindow(cursor: Cursor): boolean {
    const header = parseWindowHeader(cursor, this.#windowCount, {
      maxWindowBytes: this.limits.maxWindowBytes,
      remainingOutput: this.limits.maxOutputBytes - this.#declaredOutput,
      sourceSize: this.limits.sourceSize,
    });
    if (!header) {
      if (cursor.bytes.length >= MAX_HEADER_BYTES) throw new DeltaError('NH_DELTA_MALFORMED', `VCDIFF window ${this.#windowCount} header is not valid`);
      return false;
    }
    this.#windowCount++;
    this.#declaredOutput += header.fields.targetLength;
    const buffer = new Uint8Array(header.dataLength + header.instLength + header.addrLength);
    if (buffer.length === 0) this.#completeWindow(header, buffer);
    else this.#filling = { header, buffer, filled: 0 };
    return true;
  }

  #completeWindow(header: WindowHeader, buffer: Uint8Array): void {
    this.#filling = undefined;
    const dataEnd = header.dataLength;
    const instEnd = dataEnd + header.instLength;
    this.ready.push({
      ...header.fields,
      index: this.#windowCount - 1,
      data: buffer.subarray(0, dataEnd),
      inst: buffer.subarray(dataEnd, instEnd),
      addr: buffer.subarray(instEnd),
    });
  }
}
