import type { Http1Response } from './http1-response.js';
import type { PartBuffers } from './part-buffers.js';

/**
 * Received bytes not yet taken by the consumer before the response is paused (back-pressure
 * toward the server): enough to keep the server sending while the consumer hashes a part.
 */
const HIGH_WATER_BYTES = 2 * 1024 * 1024;
/** Below this, a paused response reads again. */
const LOW_WATER_BYTES = 1024 * 1024;

/** A buffer being filled with body bytes, and how much of it was handed on. */
interface Slot {
  readonly buffer: Buffer;
  filled: number;
  taken: number;
  /** Its last byte is the last of a part of the file. */
  readonly endsPart: boolean;
}

/**
 * Pulls a response body with an idle timeout that only runs while the reader is waiting for the
 * network (a slow consumer pauses the socket instead of tripping it). The body is copied once, as
 * it arrives, into buffers from {@link PartBuffers} (a part of 1 MiB each when the download lends
 * them, never across a part boundary of the file); {@link ResponseReader.next} hands on what a
 * buffer received and was not taken yet, as one view. So a consumer that keeps up gets each
 * network read as it comes, and one that falls behind gets up to a buffer at once: its per-chunk
 * work (hashing calls, zlib writes, async steps) is then done once per part instead of once per
 * 16 KiB TLS record.
 */
export class ResponseReader {
  readonly #response: Http1Response;
  readonly #idleTimeoutMs: number;
  readonly #idleError: () => Error;
  readonly #buffers: PartBuffers;
  /** Slots in file order; the last one is being filled. */
  readonly #slots: Slot[] = [];
  /** Bytes from the end of the last slot to the next part boundary of the file. */
  #toPartEnd: number;
  /** Slots that complete a part and were not taken whole yet: a whole part is ready. */
  #readyParts = 0;
  /** Received bytes not yet taken. */
  #untaken = 0;
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;

  /**
   * @param response - the response, head received
   * @param idleTimeoutMs - longest wait for the network while the consumer waits
   * @param idleError - the error of an idle timeout
   * @param buffers - where the part buffers come from
   * @param offset - file offset of the body's first byte (parts are aligned to the file)
   */
  constructor(response: Http1Response, idleTimeoutMs: number, idleError: () => Error, buffers: PartBuffers, offset: number) {
    this.#response = response;
    this.#idleTimeoutMs = idleTimeoutMs;
    this.#idleError = idleError;
    this.#buffers = buffers;
    this.#toPartEnd = buffers.partBytes - (offset % buffers.partBytes);
    response.on('data', (chunk: Buffer) => {
      this.#copy(chunk);
      if (this.#untaken >= HIGH_WATER_BYTES) response.pause();
      this.#notify();
    });
    response.on('end', () => {
      this.#ended = true;
      this.#notify();
    });
    response.on('error', (error: Error) => this.fail(error));
    response.on('close', () => {
      if (!this.#ended) this.fail(new Error('connection closed before the body was complete'));
    });
  }

  /** Ends reading with `error` (abort, timer); the next {@link next} call throws it. */
  fail(error: Error): void {
    this.#error ??= error;
    this.#notify();
  }

  /**
   * What the oldest buffer received and was not taken yet, as one view, or `null` at the end of
   * the body. With `wholeParts`, waits until the whole part is received (or the body ended): for a
   * consumer that holds bytes back per part anyway (the part checksums), so it takes each part in
   * one go (one piece when the buffers are lent). Throws on a drop, idle timeout (no byte for
   * `idleTimeoutMs`) or {@link fail}. The bytes are never written again by the reader: the view
   * may be kept.
   */
  async next(wholeParts = false): Promise<Buffer | null> {
    for (;;) {
      if (this.#error) throw this.#error;
      const slot = this.#slots[0];
      if (slot !== undefined && slot.filled > slot.taken && (!wholeParts || this.#ended || this.#readyParts > 0)) {
        const view = slot.buffer.subarray(slot.taken, slot.filled);
        slot.taken = slot.filled;
        this.#untaken -= view.length;
        if (slot.taken === slot.buffer.length) {
          this.#slots.shift();
          if (slot.endsPart) this.#readyParts -= 1;
        }
        if (this.#untaken < LOW_WATER_BYTES && this.#response.isPaused()) this.#response.resume();
        return view;
      }
      if (this.#ended) return null;
      this.#response.resume();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => this.fail(this.#idleError()), this.#idleTimeoutMs);
        this.#wake = () => {
          clearTimeout(timer);
          this.#wake = undefined;
          resolve();
        };
      });
    }
  }

  /** Copies `chunk` (a view the socket reuses) into the part buffers. */
  #copy(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      let slot = this.#slots.at(-1);
      if (slot === undefined || slot.filled === slot.buffer.length) {
        const capacity = Math.min(this.#buffers.bufferBytes, this.#toPartEnd);
        this.#toPartEnd = this.#toPartEnd === capacity ? this.#buffers.partBytes : this.#toPartEnd - capacity;
        slot = { buffer: this.#buffers.take(capacity), filled: 0, taken: 0, endsPart: this.#toPartEnd === this.#buffers.partBytes };
        this.#slots.push(slot);
      }
      const n = Math.min(chunk.length - at, slot.buffer.length - slot.filled);
      chunk.copy(slot.buffer, slot.filled, at, at + n);
      slot.filled += n;
      at += n;
      if (slot.endsPart && slot.filled === slot.buffer.length) this.#readyParts += 1;
    }
    this.#untaken += chunk.length;
  }

  #notify(): void {
    this.#wake?.();
  }
}
