import { constants, createInflateRaw, type InflateRaw } from 'node:zlib';
import { INFLATE_CHUNK_BYTES, InflateError, type EntryInflater, type InflateStep } from './inflater.js';

/** The parts of Node's zlib binding this uses (present since Node 0.x; checked before use). */
interface ZlibHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  onerror: (message: string, errno: number) => void;
}

/** zlib's stream state after each write, shared with the binding: [availOutAfter, availInAfter]. */
type WriteState = Uint32Array;

const EMPTY = new Uint8Array(0);

/**
 * Raw-deflate decoder with the same contract as {@link IncrementalInflater}, for sinks that consume
 * each chunk before returning and keep no reference to it. zlib's stream API allocates a fresh
 * output buffer per chunk and works on the thread pool: verifying a 256 MiB deflated firmware
 * left ~35 MB of dead buffers for the GC (peak RSS 95 MB against 62 MB for a stored archive). This
 * drives the same zlib binding synchronously into one reused output buffer, so memory stays flat.
 *
 * It relies on the binding behind `zlib.createInflateRaw()` (`writeSync`, the write state and
 * `onerror`, unchanged in Node 20–24); {@link createReusingInflater} returns `undefined` when they
 * are missing, and callers then use the stream-based {@link IncrementalInflater}.
 */
export class ReusingInflater implements EntryInflater {
  readonly #stream: InflateRaw;
  readonly #handle: ZlibHandle;
  readonly #state: WriteState;
  readonly #output = new Uint8Array(INFLATE_CHUNK_BYTES);
  readonly #onOutput: (chunk: Uint8Array) => void;
  #zlibError: number | undefined;
  #sinkError: unknown;
  #ended = false;

  /** @internal Use {@link createReusingInflater}. */
  constructor(stream: InflateRaw, handle: ZlibHandle, state: WriteState, onOutput: (chunk: Uint8Array) => void) {
    this.#onOutput = onOutput;
    this.#stream = stream;
    this.#handle = handle;
    this.#state = state;
    // The stream's own handler would destroy the stream and emit 'error' on a later tick; the
    // errno is all that is needed, now.
    handle.onerror = (_message, errno) => {
      this.#zlibError ??= errno;
    };
  }

  /** Feeds `chunk`; every output byte has gone to `onOutput` when it resolves. */
  async write(chunk: Uint8Array): Promise<InflateStep> {
    const consumed = this.#run(constants.Z_NO_FLUSH, chunk);
    if (consumed < chunk.length) this.#ended = true;
    return { consumed, ended: this.#ended };
  }

  /** Declares the input complete: throws `ZIP decompression failed (-5)` if the stream is incomplete. */
  async finish(): Promise<void> {
    if (this.#ended) return;
    this.#run(constants.Z_FINISH, EMPTY);
    this.#ended = true;
  }

  /** Releases zlib resources. */
  close(): void {
    this.#stream.destroy();
  }

  /** Inflates until zlib needs more input (or the stream ended); returns the input bytes used. */
  #run(flush: number, input: Uint8Array): number {
    if (this.#sinkError !== undefined) throw this.#sinkError;
    const out = this.#output;
    let offset = 0;
    let available = input.length;
    for (;;) {
      this.#handle.writeSync(flush, input, offset, available, out, 0, out.length);
      if (this.#zlibError !== undefined) throw new InflateError(this.#zlibError);
      const availableOut = this.#state[0]!;
      const availableIn = this.#state[1]!;
      offset += available - availableIn;
      available = availableIn;
      const produced = out.length - availableOut;
      if (produced > 0) {
        try {
          this.#onOutput(out.subarray(0, produced));
        } catch (error) {
          this.#sinkError = error;
          throw error;
        }
      }
      // A full output buffer means zlib may have more; otherwise it needs input or has ended.
      if (availableOut !== 0) return offset;
    }
  }
}

/**
 * A {@link ReusingInflater} when this Node's zlib binding offers what it needs, else `undefined`.
 * `onOutput` must not keep the chunks it is given: the next write overwrites them.
 */
export function createReusingInflater(onOutput: (chunk: Uint8Array) => void): ReusingInflater | undefined {
  const stream = createInflateRaw({ chunkSize: INFLATE_CHUNK_BYTES });
  const internals = stream as unknown as { _handle?: Partial<ZlibHandle> | null; _writeState?: unknown };
  const handle = internals._handle;
  const state = internals._writeState;
  if (!handle || typeof handle.writeSync !== 'function' || typeof handle.onerror !== 'function' || !(state instanceof Uint32Array) || state.length < 2) {
    stream.destroy();
    return undefined;
  }
  return new ReusingInflater(stream, handle as ZlibHandle, state, onOutput);
}

