/**
 * A bounded in-memory pipe of byte chunks from one producer to one async-iterating consumer: the
 * producer waits in {@link ChunkPipe.push} while `highWaterBytes` or more are queued, so a slow
 * consumer holds back the producer instead of letting chunks pile up. When the consumer stops early
 * (its loop ends or throws), pushes no longer wait and their chunks are dropped.
 * @internal
 */
export class ChunkPipe implements AsyncIterable<Uint8Array> {
  readonly #highWaterBytes: number;
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #ended = false;
  #failure: { error: unknown } | undefined;
  #consumerGone = false;
  #consumerLeftEarly = false;
  #iterating = false;
  #wakeConsumer: (() => void) | undefined;
  #wakeProducer: (() => void) | undefined;
  readonly #onConsumed: ((bytes: number) => void) | undefined;
  #consumedBytes = 0;

  /**
   * @param highWaterBytes - queued bytes at which {@link ChunkPipe.push} waits
   * @param onConsumed - told, each time the consumer asks for the next chunk, how many bytes it
   *   took before it (for a consumer that keeps no view of a chunk once it asks for the next)
   */
  constructor(highWaterBytes: number, onConsumed?: (bytes: number) => void) {
    this.#highWaterBytes = highWaterBytes;
    this.#onConsumed = onConsumed;
  }

  /** True once the consumer stopped before taking every chunk up to {@link ChunkPipe.end}. */
  get consumerLeftEarly(): boolean {
    return this.#consumerLeftEarly;
  }

  /** Queues `chunk` (not copied: it must not change afterwards); waits while the pipe is full. */
  async push(chunk: Uint8Array): Promise<void> {
    if (this.#ended || this.#failure !== undefined) throw new Error('ChunkPipe.push after end');
    if (this.#consumerGone || chunk.length === 0) return;
    this.#queue.push(chunk);
    this.#queuedBytes += chunk.length;
    this.#wake('consumer');
    while (this.#queuedBytes >= this.#highWaterBytes && !this.#consumerGone) {
      await new Promise<void>((resolve) => (this.#wakeProducer = resolve));
    }
  }

  /** No more chunks: the consumer's loop ends after the queued ones. */
  end(): void {
    this.#ended = true;
    this.#wake('consumer');
  }

  /** Ends the pipe with `error`: the consumer's loop throws it (after nothing else). */
  fail(error: unknown): void {
    this.#failure ??= { error };
    this.#wake('consumer');
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    if (this.#iterating) throw new Error('a ChunkPipe has one consumer');
    this.#iterating = true;
    try {
      for (;;) {
        if (this.#failure !== undefined) throw this.#failure.error;
        const chunk = this.#queue.shift();
        if (chunk !== undefined) {
          this.#queuedBytes -= chunk.length;
          if (this.#queuedBytes < this.#highWaterBytes) this.#wake('producer');
          yield chunk;
          this.#consumedBytes += chunk.length;
          this.#onConsumed?.(this.#consumedBytes);
          continue;
        }
        if (this.#ended) return;
        await new Promise<void>((resolve) => (this.#wakeConsumer = resolve));
      }
    } finally {
      this.#consumerLeftEarly = !this.#ended || this.#queue.length > 0 || this.#failure !== undefined;
      this.#consumerGone = true;
      this.#queue = [];
      this.#queuedBytes = 0;
      this.#wake('producer');
    }
  }

  #wake(side: 'consumer' | 'producer'): void {
    const wake = side === 'consumer' ? this.#wakeConsumer : this.#wakeProducer;
    if (side === 'consumer') this.#wakeConsumer = undefined;
    else this.#wakeProducer = undefined;
    wake?.();
  }
}
