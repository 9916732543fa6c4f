import { PART_SIZE_BYTES } from './sha256-parts.js';

/** Recycled buffers kept for reuse at most (beyond that, the garbage collector frees them). */
const MAX_FREE_BUFFERS = 8;
/**
 * Size of the buffers handed over for good (left to the garbage collector). Fresh 1 MiB buffers
 * piled up: peak RSS 320 MB in a 256 MiB update, and a page fault per 4 KiB of each; buffers of
 * 16, 32 and 64 KiB peaked at 96–105, 90–91 and 97–99 MB (3 runs each, applier wrapped).
 */
const HANDED_OVER_BUFFER_BYTES = 32 * 1024;

/** A stream of bytes whose consumer may hand the buffers back, see {@link PartBuffers}. @internal */
export interface LentChunks {
  /** The bytes. */
  chunks: AsyncIterable<Uint8Array>;
  /** The consumer keeps no view of the stream before `offset` any more: the buffers of those bytes may be reused. */
  doneThrough(offset: number): void;
}

/** A lent buffer: how many of its bytes were handed on, and the stream offset just past the last. */
interface Lent {
  readonly buffer: Buffer;
  handedOn: number;
  end: number;
}

/**
 * The buffers one download copies its body into, never across a part boundary of the file (1 MiB,
 * NervesHub's `partials_checksums`). They are handed over for good, as buffers of 32 KiB, until
 * the consumer of a lending download (`lend: true`) first says what it is done with
 * ({@link PartBuffers.doneThrough}): from then on each part is one buffer, taken back and reused
 * once every byte of it was handed on and the consumer is done with the stream up to past it. A
 * buffer with bytes that were never handed on (a part that failed its checksum, bytes skipped after
 * a restart) is never reused. So a consumer that never hands anything back (an applier wrapped by
 * the host app) gets small buffers the garbage collector keeps up with.
 * @internal
 */
export class PartBuffers {
  /** Size of a part of the file (buffers never span two). */
  readonly partBytes: number;
  readonly #free: Buffer[] = [];
  readonly #mayLend: boolean;
  /** Lent buffers by their memory, until all their bytes were handed on (once lending started). */
  #lent: WeakMap<ArrayBufferLike, Lent> | undefined;
  /** Lent buffers whose bytes were all handed on, in stream order. */
  readonly #handedOn: Lent[] = [];

  constructor(options: { lend?: boolean; partBytes?: number } = {}) {
    this.partBytes = options.partBytes ?? PART_SIZE_BYTES;
    this.#mayLend = options.lend === true;
  }

  /** Size of a full buffer: a part once lending started, else 32 KiB (at most a part). */
  get bufferBytes(): number {
    return this.#lent !== undefined ? this.partBytes : Math.min(this.partBytes, HANDED_OVER_BUFFER_BYTES);
  }

  /** A buffer of `capacity` bytes (≤ {@link PartBuffers.bufferBytes}; contents undefined): a reused one when a lent part is asked for. */
  take(capacity: number): Buffer {
    if (this.#lent === undefined || capacity !== this.partBytes) return Buffer.allocUnsafeSlow(capacity);
    const buffer = this.#free.pop() ?? Buffer.allocUnsafeSlow(capacity);
    this.#lent.set(buffer.buffer, { buffer, handedOn: 0, end: 0 });
    return buffer;
  }

  /** `chunk`, a view of one of these buffers, was handed to the consumer; `end` is the stream offset just past it. */
  handedOn(chunk: Uint8Array, end: number): void {
    const lent = this.#lent?.get(chunk.buffer);
    if (lent === undefined) return;
    lent.handedOn += chunk.length;
    lent.end = end;
    if (lent.handedOn === lent.buffer.length) {
      this.#lent!.delete(chunk.buffer);
      this.#handedOn.push(lent);
    }
  }

  /**
   * The consumer keeps no view of the stream's bytes before `offset` any more: the buffers that
   * held only such bytes are reused. The first call of a lending download starts the lending.
   */
  doneThrough(offset: number): void {
    if (this.#mayLend) this.#lent ??= new WeakMap();
    while (this.#handedOn.length > 0 && this.#handedOn[0]!.end <= offset) {
      const { buffer } = this.#handedOn.shift()!;
      if (this.#free.length < MAX_FREE_BUFFERS) this.#free.push(buffer);
    }
  }
}
