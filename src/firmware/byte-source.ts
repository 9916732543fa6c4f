import { open } from 'node:fs/promises';
import { nextOrAbort } from '../internal/abortable-source.js';
import { invalidOptions } from '../errors.js';

/** Anything the verifier reads an archive from. */
export type FirmwareInput = string | Uint8Array | NodeJS.ReadableStream | AsyncIterable<Uint8Array>;

/**
 * Read size for archive files. 4 MiB was ~10 % faster than 1 MiB while hashing ran inline; with
 * the hashing worker, 1 MiB reads (and a 2 MiB ring) keep the worker fed between reads: stored
 * 256 MiB verify 0.59 → 0.53 s, deflated unchanged, peak RSS −4 to −6 MB (7 same-run A/B rounds).
 */
export const FILE_READ_CHUNK_BYTES = 1024 * 1024;

/**
 * Reads the file at `path` into the buffers `nextBuffer` supplies, one read per buffer. The next
 * read is started before the current chunk is handed out, so disk/page-cache reads overlap with
 * what the consumer does with it (so `nextBuffer` must not return the buffer of the chunk just
 * handed out).
 * @internal
 */
export async function* readFileChunks(path: string, signal: AbortSignal | undefined, nextBuffer: () => Buffer): AsyncGenerator<Uint8Array> {
  const handle = await open(path, 'r');
  const read = (buffer: Buffer): Promise<{ buffer: Buffer; bytesRead: number }> =>
    handle.read(buffer, 0, buffer.length, null).then(({ bytesRead }) => ({ buffer, bytesRead }));
  let pending = read(nextBuffer());
  try {
    for (;;) {
      signal?.throwIfAborted();
      const { buffer, bytesRead } = await pending;
      if (bytesRead === 0) return;
      pending = read(nextBuffer());
      yield bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
    }
  } finally {
    await pending.catch(() => undefined);
    await handle.close();
  }
}

/**
 * Buffers for {@link readFileChunks}: with `reuseBuffers` two alternate (the consumer must be done
 * with a chunk when it asks for the next one); otherwise every chunk is a fresh buffer.
 */
function fileReadBuffers(reuseBuffers: boolean): () => Buffer {
  if (!reuseBuffers) return () => Buffer.allocUnsafe(FILE_READ_CHUNK_BYTES);
  const ring = [Buffer.allocUnsafeSlow(FILE_READ_CHUNK_BYTES), Buffer.allocUnsafeSlow(FILE_READ_CHUNK_BYTES)];
  let turn = 0;
  return () => ring[turn++ % 2]!;
}

function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  throw invalidOptions('firmware input must yield Uint8Array/Buffer chunks (remove any setEncoding)');
}

/**
 * `reuseBuffers` (file paths only): the consumer promises not to keep a chunk after asking for the
 * next one, so two read buffers can alternate (bounded memory, no GC churn).
 *
 * Turns a path, a byte array, a Node readable or an async iterable into an async iterable of byte
 * chunks that stops with the signal's reason when `signal` aborts, even if the source is stalled.
 */
export async function* firmwareChunks(
  input: FirmwareInput,
  signal?: AbortSignal,
  reuseBuffers = false,
): AsyncGenerator<Uint8Array> {
  signal?.throwIfAborted();
  if (typeof input === 'string') {
    yield* readFileChunks(input, signal, fileReadBuffers(reuseBuffers));
    return;
  }
  if (input instanceof Uint8Array) {
    yield input;
    return;
  }
  const iterable = input as AsyncIterable<unknown>;
  if (typeof iterable[Symbol.asyncIterator] !== 'function') {
    throw invalidOptions('firmware input must be a path, a Uint8Array, a Readable or an AsyncIterable<Uint8Array>');
  }
  const iterator = iterable[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      const result = signal ? await nextOrAbort(iterator, signal) : await iterator.next();
      if (result === 'aborted') throw signal!.reason;
      if (result.done) {
        finished = true;
        return;
      }
      yield toBytes(result.value);
    }
  } finally {
    if (!finished) {
      // Do not await: a stalled source must not keep an aborted verification alive.
      void Promise.resolve()
        .then(() => iterator.return?.())
        .catch(() => {});
      const destroyable = input as { destroy?: (error?: Error) => void };
      if (typeof destroyable.destroy === 'function' && signal?.aborted) destroyable.destroy();
    }
  }
}
