/**
 * A streaming structure check of a VCDIFF (RFC 3284) patch as `xdelta3 -A -S` writes it, for what
 * can be proven without the source: the file header (§4.1), every window header (§4.2/4.3) and
 * that the windows produce exactly the declared target length. It never decodes instructions
 * (that needs the source); memory is constant.
 */

/** The VCDIFF magic and version: `D6 C3 C4 00`. */
export const VCDIFF_MAGIC = Object.freeze([0xd6, 0xc3, 0xc4, 0x00]);

const VCD_DECOMPRESS = 0x01;
const VCD_CODETABLE = 0x02;
const VCD_APPHEADER = 0x04; // xdelta3's application header
const VCD_SOURCE = 0x01;
const VCD_TARGET = 0x02;
const VCD_ADLER32 = 0x04; // xdelta3's per-window checksum
/** Longest application header skipped (xdelta3 stores file names there). */
const MAX_APP_HEADER_BYTES = 64 * 1024;
/** RFC 3284 integers are at most 64 bits: 10 base-128 digits. */
const MAX_INTEGER_BYTES = 10;

/** A patch whose structure is wrong; `message` says where. */
export class VcdiffStructureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VcdiffStructureError';
  }
}

/** What bounds the check applies. */
export interface VcdiffStructureLimits {
  /** The patched output must be exactly this long (meta.conf `length`). */
  targetLength: number;
  /** Source windows must lie inside this many bytes (the declared raw source range), when known. */
  sourceLength?: number;
}

type State =
  | 'magic'
  | 'hdrIndicator'
  | 'appLength'
  | 'appSkip'
  | 'winIndicator'
  | 'segmentSize'
  | 'segmentPosition'
  | 'deltaLength'
  | 'targetSize'
  | 'deltaIndicator'
  | 'dataLength'
  | 'instLength'
  | 'addrLength'
  | 'adler'
  | 'sections';

/** Checks the structure of one VCDIFF stream fed in chunks; throws {@link VcdiffStructureError}. */
export class VcdiffStructureCheck {
  #state: State = 'magic';
  #position = 0;
  #integer = 0;
  #integerBytes = 0;
  #skip = 0;
  #winIndicator = 0;
  #segmentSize = 0;
  #deltaLength = 0;
  #deltaStart = 0;
  #targetSize = 0;
  #sectionsTotal = 0;
  #produced = 0;
  #windows = 0;

  constructor(private readonly limits: VcdiffStructureLimits) {}

  /** Number of complete windows seen. */
  get windowCount(): number {
    return this.#windows;
  }

  /** Feeds the next patch bytes. */
  push(data: Uint8Array): void {
    let i = 0;
    while (i < data.length) {
      if (this.#state === 'appSkip' || this.#state === 'sections' || this.#state === 'adler') {
        const take = Math.min(this.#skip, data.length - i);
        this.#skip -= take;
        i += take;
        this.#position += take;
        if (this.#skip === 0) this.#afterSkip();
        continue;
      }
      this.#byte(data[i]!);
      i += 1;
      this.#position += 1;
    }
  }

  /** Ends the patch; throws when it stops inside a window or produces the wrong length. */
  finish(): void {
    if (this.#state === 'magic' || this.#state === 'hdrIndicator' || this.#state === 'appLength' || this.#state === 'appSkip') {
      throw new VcdiffStructureError('truncated VCDIFF header');
    }
    if (this.#state !== 'winIndicator') throw new VcdiffStructureError(`truncated VCDIFF window ${this.#windows + 1}`);
    if (this.#produced !== this.limits.targetLength) {
      throw new VcdiffStructureError(`the patch produces ${this.#produced} bytes, but meta.conf declares ${this.limits.targetLength}`);
    }
  }

  #byte(b: number): void {
    switch (this.#state) {
      case 'magic':
        if (b !== VCDIFF_MAGIC[this.#position]) throw new VcdiffStructureError('not a VCDIFF patch (no D6 C3 C4 00 magic)');
        if (this.#position === 3) this.#state = 'hdrIndicator';
        return;
      case 'hdrIndicator':
        if (b & VCD_DECOMPRESS) throw new VcdiffStructureError('secondary compression (VCD_DECOMPRESS) is not supported');
        if (b & VCD_CODETABLE) throw new VcdiffStructureError('an application-defined code table (VCD_CODETABLE) is not supported');
        if (b & ~VCD_APPHEADER) throw new VcdiffStructureError(`unknown header indicator bits 0x${b.toString(16)}`);
        this.#state = b & VCD_APPHEADER ? 'appLength' : 'winIndicator';
        return;
      case 'winIndicator':
        if (b & ~(VCD_SOURCE | VCD_TARGET | VCD_ADLER32)) throw new VcdiffStructureError(`unknown window indicator bits 0x${b.toString(16)}`);
        if ((b & VCD_SOURCE) && (b & VCD_TARGET)) throw new VcdiffStructureError('a window cannot copy from both source and target');
        this.#winIndicator = b;
        this.#state = b & (VCD_SOURCE | VCD_TARGET) ? 'segmentSize' : 'deltaLength';
        return;
      case 'deltaIndicator':
        if (b !== 0) throw new VcdiffStructureError('secondary compression of window sections is not supported');
        this.#state = 'dataLength';
        return;
      default:
        this.#integerByte(b);
    }
  }

  /** Accumulates a base-128 integer (RFC 3284 §2); runs the state's action when it is complete. */
  #integerByte(b: number): void {
    if (this.#integerBytes === 0 && b === 0x80) throw new VcdiffStructureError('non-canonical integer');
    this.#integer = this.#integer * 128 + (b & 0x7f);
    this.#integerBytes += 1;
    if (this.#integerBytes > MAX_INTEGER_BYTES || !Number.isSafeInteger(this.#integer)) throw new VcdiffStructureError('integer out of range');
    if (b & 0x80) return;
    const value = this.#integer;
    this.#integer = 0;
    this.#integerBytes = 0;
    this.#integerDone(value);
  }

  #integerDone(value: number): void {
    switch (this.#state) {
      case 'appLength':
        if (value > MAX_APP_HEADER_BYTES) throw new VcdiffStructureError(`application header of ${value} bytes is too long`);
        this.#skip = value;
        this.#state = 'appSkip';
        if (value === 0) this.#afterSkip();
        return;
      case 'segmentSize':
        this.#segmentSize = value;
        this.#state = 'segmentPosition';
        return;
      case 'segmentPosition': {
        const end = value + this.#segmentSize;
        if (this.#winIndicator & VCD_TARGET && end > this.#produced) {
          throw new VcdiffStructureError(`window ${this.#windows + 1} copies from target bytes not produced yet`);
        }
        const sourceLength = this.limits.sourceLength;
        if (this.#winIndicator & VCD_SOURCE && sourceLength !== undefined && end > sourceLength) {
          throw new VcdiffStructureError(`window ${this.#windows + 1} reads source bytes ${value}..${end}, past the declared ${sourceLength}-byte source`);
        }
        this.#state = 'deltaLength';
        return;
      }
      case 'deltaLength':
        this.#deltaLength = value;
        this.#deltaStart = this.#position + 1;
        this.#state = 'targetSize';
        return;
      case 'targetSize':
        this.#targetSize = value;
        if (this.#produced + value > this.limits.targetLength) {
          throw new VcdiffStructureError(`window ${this.#windows + 1} would grow the output past the declared ${this.limits.targetLength} bytes`);
        }
        this.#state = 'deltaIndicator';
        return;
      case 'dataLength':
        this.#sectionsTotal = value;
        this.#state = 'instLength';
        return;
      case 'instLength':
        this.#sectionsTotal += value;
        this.#state = 'addrLength';
        return;
      case 'addrLength': {
        this.#sectionsTotal += value;
        const headerBytes = this.#position + 1 - this.#deltaStart + (this.#winIndicator & VCD_ADLER32 ? 4 : 0);
        if (headerBytes + this.#sectionsTotal !== this.#deltaLength) {
          throw new VcdiffStructureError(`window ${this.#windows + 1}: section lengths do not add up to the delta encoding length`);
        }
        if (this.#winIndicator & VCD_ADLER32) {
          this.#skip = 4;
          this.#state = 'adler';
        } else {
          this.#startSections();
        }
        return;
      }
      default:
        throw new VcdiffStructureError(`unexpected parser state ${this.#state}`);
    }
  }

  #startSections(): void {
    this.#skip = this.#sectionsTotal;
    this.#state = 'sections';
    if (this.#skip === 0) this.#afterSkip();
  }

  #afterSkip(): void {
    if (this.#state === 'appSkip') {
      this.#state = 'winIndicator';
    } else if (this.#state === 'adler') {
      this.#startSections();
    } else {
      this.#produced += this.#targetSize;
      this.#windows += 1;
      this.#state = 'winIndicator';
    }
  }
}
