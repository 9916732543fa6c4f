import type { Http1Response } from './http1-response.js';

/**
 * Chunks queued before the response is paused (back-pressure toward the server). TLS chunks are
 * ≤ 16 KiB, so about 1 MiB: enough to keep the server sending while the consumer hashes a part
 * (8 chunks made the connection stop and restart several times per MiB).
 */
const HIGH_WATER_CHUNKS = 64;

/**
 * Pulls a response body chunk by chunk with an idle timeout that only runs while the reader is
 * waiting for the network (a slow consumer pauses the socket instead of tripping it).
 */
export class ResponseReader {
  readonly #response: Http1Response;
  readonly #idleTimeoutMs: number;
  readonly #idleError: () => Error;
  readonly #queue: Buffer[] = [];
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;

  constructor(response: Http1Response, idleTimeoutMs: number, idleError: () => Error) {
    this.#response = response;
    this.#idleTimeoutMs = idleTimeoutMs;
    this.#idleError = idleError;
    response.on('data', (chunk: Buffer) => {
      this.#queue.push(chunk);
      if (this.#queue.length >= HIGH_WATER_CHUNKS) response.pause();
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

  /** The next chunk, or `null` at the end of the body. Throws on a drop, idle timeout or {@link fail}. */
  async next(): Promise<Buffer | null> {
    for (;;) {
      if (this.#error) throw this.#error;
      const chunk = this.#queue.shift();
      if (chunk !== undefined) {
        if (this.#queue.length < HIGH_WATER_CHUNKS / 2 && this.#response.isPaused()) this.#response.resume();
        return chunk;
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

  #notify(): void {
    this.#wake?.();
  }
}
