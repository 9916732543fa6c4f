import { createInflateRaw, type InflateRaw } from 'node:zlib';

/** Result of feeding compressed bytes to an {@link IncrementalInflater}. */
export interface InflateStep {
  /** How many of the given bytes belong to the deflate stream. */
  consumed: number;
  /** True once the deflate stream has ended (the rest of the input belongs to what follows). */
  ended: boolean;
}

/** What the zip parser needs from a raw-deflate decoder (stream-based or reusing one buffer). */
export interface EntryInflater {
  /** Feeds compressed bytes; every output byte has gone to the sink when it resolves. */
  write(chunk: Uint8Array): Promise<InflateStep>;
  /** Declares the input complete: throws `ZIP decompression failed (-5)` if the stream is incomplete. */
  finish(): Promise<void>;
  /** Releases zlib resources. */
  close(): void;
}

/** zlib return code for an input that ended in the middle of a stream (libarchive reports it). */
export const Z_BUF_ERROR = -5;

/**
 * zlib output chunk size. Every output chunk is one thread-pool round trip plus a 'data' event:
 * inflating a 256 MiB resource took 1.11 s with zlib's default 16 KiB and 0.21 s with 1 MiB. Each
 * chunk is a fresh buffer that lives until the next GC, and 1 MiB chunks pushed the update's peak
 * RSS over 100 MB; 256 KiB measured as fast with ~4 MB less RSS (same-run A/B, bench/update-e2e.mjs).
 */
export const INFLATE_CHUNK_BYTES = 256 * 1024;

/** Error carrying zlib's numeric code, for fwup's "ZIP decompression failed (N)" wording. */
export class InflateError extends Error {
  constructor(
    readonly zlibCode: number,
    options?: { cause?: unknown },
  ) {
    super(`ZIP decompression failed (${zlibCode})`, options);
    this.name = 'InflateError';
  }
}

/**
 * Raw-deflate decoder that finds where the deflate stream ends inside a byte stream, without
 * knowing the compressed size (zip entries with a data descriptor). Output goes synchronously to
 * `onOutput` as zlib produces it, so nothing is buffered here; if `onOutput` throws, inflation stops
 * and the error is rethrown from {@link IncrementalInflater.write}.
 */
export class IncrementalInflater implements EntryInflater {
  readonly #stream: InflateRaw;
  #sinkError: unknown;
  #zlibError: (Error & { errno?: number }) | undefined;
  #finished = false;

  constructor(private readonly onOutput: (chunk: Uint8Array) => void) {
    this.#stream = createInflateRaw({ chunkSize: INFLATE_CHUNK_BYTES });
    this.#stream.on('data', (chunk: Buffer) => {
      if (this.#sinkError !== undefined) return;
      try {
        this.onOutput(chunk);
      } catch (error) {
        this.#sinkError = error;
        this.#stream.destroy();
      }
    });
    this.#stream.on('error', (error: Error & { errno?: number }) => {
      this.#zlibError ??= error;
    });
    this.#stream.on('end', () => {
      this.#finished = true;
    });
  }

  /** Feeds `chunk`; resolves once zlib processed it and every output byte went to `onOutput`. */
  async write(chunk: Uint8Array): Promise<InflateStep> {
    const before = this.#stream.bytesWritten;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.#stream.off('close', done);
        resolve();
      };
      this.#stream.once('close', done);
      this.#stream.write(chunk, () => done());
    });
    // Let queued 'data'/'end' events run before looking at the counters.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (this.#sinkError !== undefined) throw this.#sinkError;
    if (this.#zlibError !== undefined) {
      throw new InflateError(typeof this.#zlibError.errno === 'number' ? this.#zlibError.errno : -3, { cause: this.#zlibError });
    }
    const consumed = this.#stream.bytesWritten - before;
    const ended = this.#finished || consumed < chunk.length;
    return { consumed, ended };
  }

  /**
   * Declares the input complete (the entry's compressed size is known and fully fed): resolves if
   * the deflate stream ended there, throws `ZIP decompression failed (-5)` if it is incomplete.
   */
  async finish(): Promise<void> {
    if (!this.#finished) {
      await new Promise<void>((resolve) => {
        const done = (): void => resolve();
        this.#stream.once('end', done);
        this.#stream.once('close', done);
        this.#stream.once('error', done);
        this.#stream.end();
      });
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (this.#sinkError !== undefined) throw this.#sinkError;
    if (this.#zlibError !== undefined) {
      throw new InflateError(typeof this.#zlibError.errno === 'number' ? this.#zlibError.errno : Z_BUF_ERROR, {
        cause: this.#zlibError,
      });
    }
    if (!this.#finished) throw new InflateError(Z_BUF_ERROR);
  }

  /** Releases zlib resources. */
  close(): void {
    this.#stream.destroy();
  }
}
