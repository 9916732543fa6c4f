import { PART_SIZE_BYTES } from './sha256-parts.js';

/** Recycled buffers kept for reuse at most (beyond that, the garbage collector frees them). */
const MAX_FREE_BUFFERS = 8;

/** A lent buffer: how many of its bytes were handed on, and the stream offset just past the last. */
interface Lent {
  readonly buffer: Buffer;
  handedOn: number;
  end: number;
}

/**
 * The buffers one download copies its body into: one part (1 MiB) each, so a part of NervesHub's
 * `partials_checksums` is one buffer. A plain download hands each buffer over for good. A lending
 * one (`lend: true`) takes its buffers back: once every byte of a buffer was handed on and the
 * consumer says it is done with the stream up to past that buffer ({@link PartBuffers.doneThrough}),
 * the buffer is reused. A buffer with bytes that were never handed on (a part that failed its
 * checksum, bytes skipped after a restart) is never reused.
 * @internal
 */
export class PartBuffers {
  /** Size of a full buffer. */
  readonly partBytes: number;
  readonly #free: Buffer[] = [];
  /** Lent buffers by their memory, until all their bytes were handed on (only when lending). */
  readonly #lent: WeakMap<ArrayBufferLike, Lent> | undefined;
  /** Lent buffers whose bytes were all handed on, in stream order. */
  readonly #handedOn: Lent[] = [];

  constructor(options: { lend?: boolean; partBytes?: number } = {}) {
    this.partBytes = options.partBytes ?? PART_SIZE_BYTES;
    this.#lent = options.lend === true ? new WeakMap() : undefined;
  }

  /** A buffer of `capacity` bytes (contents undefined): a reused one when a full part is asked for. */
  take(capacity: number): Buffer {
    let buffer = capacity === this.partBytes ? this.#free.pop() : undefined;
    buffer ??= Buffer.allocUnsafeSlow(capacity);
    if (this.#lent !== undefined && capacity === this.partBytes) this.#lent.set(buffer.buffer, { buffer, handedOn: 0, end: 0 });
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
   * held only such bytes are reused.
   */
  doneThrough(offset: number): void {
    while (this.#handedOn.length > 0 && this.#handedOn[0]!.end <= offset) {
      const { buffer } = this.#handedOn.shift()!;
      if (this.#free.length < MAX_FREE_BUFFERS) this.#free.push(buffer);
    }
  }
}
