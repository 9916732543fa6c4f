import { availableParallelism } from 'node:os';
import { NervesHubError } from '../errors.js';
import { Worker } from 'node:worker_threads';
import { BLAKE2B_SIMD_INPUT_PTR, BLAKE2B_SIMD_INPUT_SIZE, BLAKE2B_SIMD_MAX_PAGES, BLAKE2B_SIMD_OUT_PTR } from './blake2b-simd-wasm.js';
import { createBlake2bSimdMemory, loadBlake2bSimdModule, type Blake2bSimdModule } from './blake2b-simd.js';
import { blake2b256Backend } from './blake2b.js';

/** Bytes of the ring the main thread copies into and the worker hashes from (a power of two). */
const RING_BYTES = 2 * 1024 * 1024;
/** Largest data record: a quarter of the ring, so copying and hashing overlap (1 MiB → 2 MiB ring with 1 MiB file reads: the worker waits less between reads; 4 MiB measured no faster, 3 MB more RSS). */
const MAX_RECORD_BYTES = RING_BYTES / 4;
/** Header of a ring record: type (u32) and payload length (u32); records are 8-byte aligned. */
const RECORD_HEADER_BYTES = 8;
/** How long the main thread waits for ring space without the worker making progress before failing closed. */
const STALL_LIMIT_MS = 30_000;

/** Record types. */
const DATA = 1;
const DIGEST = 2;
const WRAP = 3;
/** Int32 slots at the start of the shared buffer. */
const HEAD = 0; // bytes written by the main thread (free-running, wraps at 2^32)
const TAIL = 1; // bytes consumed by the worker
const FAILED = 2; // 1 once the worker failed
const CONTROL_BYTES = 64;
/** Where the control slots start in the module's memory: after its state and input area. */
const CONTROL_OFFSET = BLAKE2B_SIMD_INPUT_PTR + BLAKE2B_SIMD_INPUT_SIZE;
/** Where the ring starts in the module's memory. */
const RING_OFFSET = CONTROL_OFFSET + CONTROL_BYTES;
/** Pages of the shared memory: the module's own, then the control slots and the ring. */
const MEMORY_PAGES = Math.ceil((RING_OFFSET + RING_BYTES) / 65536);

/**
 * The worker's whole program (run with `eval`: no file to ship or resolve in both builds). It
 * instantiates the SIMD module it is given on the shared memory the ring lives in, then hashes
 * ring records in place (no copy) until it is terminated.
 */
const WORKER_SOURCE = `
'use strict';
const { workerData, parentPort } = require('node:worker_threads');
const { module, memory, ringBytes, outPtr } = workerData;
const { init, update, final } = new WebAssembly.Instance(module, { env: { memory } }).exports;
const bytes = new Uint8Array(memory.buffer);
const control = new Int32Array(memory.buffer, ${CONTROL_OFFSET}, 16);
const view = new DataView(memory.buffer, ${RING_OFFSET}, ringBytes);
let tail = 0;
init(32);
try {
  for (;;) {
    let head = Atomics.load(control, ${HEAD});
    while (head === tail) {
      Atomics.wait(control, ${HEAD}, head);
      head = Atomics.load(control, ${HEAD});
    }
    const at = (tail >>> 0) % ringBytes;
    const type = view.getUint32(at, true);
    const length = view.getUint32(at + 4, true);
    if (type === ${WRAP}) {
      tail = (tail + (ringBytes - at)) | 0;
    } else if (type === ${DATA}) {
      update(${RING_OFFSET} + at + ${RECORD_HEADER_BYTES}, length);
      tail = (tail + ${RECORD_HEADER_BYTES} + ((length + 7) & ~7)) | 0;
    } else if (type === ${DIGEST}) {
      final(outPtr);
      parentPort.postMessage(bytes.slice(outPtr, outPtr + 32));
      init(32);
      tail = (tail + ${RECORD_HEADER_BYTES}) | 0;
    } else {
      throw new Error('bad ring record ' + type);
    }
    Atomics.store(control, ${TAIL}, tail);
    Atomics.notify(control, ${TAIL});
  }
} catch (error) {
  Atomics.store(control, ${FAILED}, 1);
  Atomics.notify(control, ${TAIL});
  throw error;
}
`;

/**
 * The hashing worker stopped or failed (`NH_VERIFY_WORKER_FAILED`): the verification cannot go on
 * and fails closed. Says nothing about the firmware, so it is not counted against its UUID.
 */
export class Blake2bWorkerError extends NervesHubError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NH_VERIFY_WORKER_FAILED', message, options);
    this.name = 'Blake2bWorkerError';
  }
}

/**
 * BLAKE2b-256 of one resource after another on a worker thread: {@link Blake2bWorkerHasher.update}
 * copies the bytes into a 2 MiB ring (≈ 0.03 s per 256 MiB on the calling thread) inside the
 * shared memory of the project's SIMD module, and the worker hashes them there, in place (copying
 * them once more into the module's input area cost the worker ≈ 0.03 s per 256 MiB: verify of
 * 256 MiB 0.56 → 0.52–0.53 s), so hashing (≈ 0.4 s per 256 MiB) overlaps with reading,
 * inflating and CRC-32 on the main thread. When the ring is full, `update`
 * blocks until the worker has made room (the worker is then the slower side). Costs a worker
 * (≈ 9 MB RSS, ≈ 35 ms to start): used for large resources only.
 * @internal
 */
export class Blake2bWorkerHasher {
  readonly #worker: Worker;
  readonly #control: Int32Array;
  readonly #ring: Uint8Array;
  readonly #view: DataView;
  #head = 0;
  #failure: Error | undefined;
  readonly #digests: { resolve(digest: Uint8Array): void; reject(error: Error): void }[] = [];

  /** Starts the worker with an already compiled SIMD module; throws when no worker can be started. */
  constructor(module: Blake2bSimdModule) {
    // The module's own memory holds the ring, so the worker hashes each record where it lies.
    if (MEMORY_PAGES > BLAKE2B_SIMD_MAX_PAGES) throw new Blake2bWorkerError('the hashing ring does not fit the BLAKE2b module memory');
    const memory = createBlake2bSimdMemory(MEMORY_PAGES);
    const shared = memory.buffer;
    this.#control = new Int32Array(shared, CONTROL_OFFSET, 16);
    this.#ring = new Uint8Array(shared, RING_OFFSET, RING_BYTES);
    this.#view = new DataView(shared, RING_OFFSET, RING_BYTES);
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { module, memory, ringBytes: RING_BYTES, outPtr: BLAKE2B_SIMD_OUT_PTR },
      // Hashing only: no stdio of its own, a small heap.
      stdout: false,
      stderr: false,
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
    });
    // Never keeps the process alive on its own.
    this.#worker.unref();
    this.#worker.on('message', (digest: Uint8Array) => this.#digests.shift()?.resolve(digest));
    this.#worker.on('error', (error) => this.#fail(new Blake2bWorkerError(`the BLAKE2b worker failed: ${error.message}`, { cause: error })));
    this.#worker.on('exit', (code) => this.#fail(new Blake2bWorkerError(`the BLAKE2b worker exited (${code})`)));
  }

  /** Hashes `data` (copied at once: the caller may reuse its buffer). */
  update(data: Uint8Array): void {
    for (let done = 0; done < data.length; done += MAX_RECORD_BYTES) {
      const piece = data.subarray(done, Math.min(data.length, done + MAX_RECORD_BYTES));
      const at = this.#reserve(piece.length);
      this.#ring.set(piece, at + RECORD_HEADER_BYTES);
      this.#commit(at, DATA, piece.length);
    }
  }

  /** Lower-case hex digest of everything hashed since the last digest; the next bytes start a new hash. */
  async digestHex(): Promise<string> {
    if (this.#failure !== undefined) throw this.#failure;
    const at = this.#reserve(0);
    const digest = new Promise<Uint8Array>((resolve, reject) => this.#digests.push({ resolve, reject }));
    this.#commit(at, DIGEST, 0);
    // Referenced while a digest is awaited, so the process does not exit under it.
    this.#worker.ref();
    try {
      return Buffer.from(await digest).toString('hex');
    } finally {
      this.#worker.unref();
    }
  }

  /** Stops the worker. */
  close(): void {
    this.#fail(new Blake2bWorkerError('the BLAKE2b worker was closed'));
    void this.#worker.terminate();
  }

  /** Waits for room for a record with `length` payload bytes; returns its ring offset. */
  #reserve(length: number): number {
    const need = RECORD_HEADER_BYTES + ((length + 7) & ~7);
    let at = (this.#head >>> 0) % RING_BYTES;
    if (at + need > RING_BYTES) {
      // Not enough room before the end: a wrap record sends the worker back to offset 0.
      this.#waitForRoom(RING_BYTES - at);
      this.#commit(at, WRAP, 0, RING_BYTES - at);
      at = 0;
    }
    this.#waitForRoom(need);
    return at;
  }

  #commit(at: number, type: number, length: number, advance = RECORD_HEADER_BYTES + ((length + 7) & ~7)): void {
    this.#view.setUint32(at, type, true);
    this.#view.setUint32(at + 4, length, true);
    this.#head = (this.#head + advance) | 0;
    Atomics.store(this.#control, HEAD, this.#head);
    Atomics.notify(this.#control, HEAD);
  }

  /** Blocks (Atomics.wait) until `bytes` are free in the ring; fails closed when the worker is gone or stuck. */
  #waitForRoom(bytes: number): void {
    let lastTail = Atomics.load(this.#control, TAIL);
    let since = Date.now();
    for (;;) {
      if (this.#failure !== undefined) throw this.#failure;
      if (Atomics.load(this.#control, FAILED) === 1) throw new Blake2bWorkerError('the BLAKE2b worker failed');
      const used = (this.#head - lastTail) | 0;
      if (RING_BYTES - used >= bytes) return;
      Atomics.wait(this.#control, TAIL, lastTail, 100);
      const tail = Atomics.load(this.#control, TAIL);
      if (tail !== lastTail) {
        lastTail = tail;
        since = Date.now();
      } else if (Date.now() - since > STALL_LIMIT_MS) {
        throw new Blake2bWorkerError(`the BLAKE2b worker made no progress for ${STALL_LIMIT_MS / 1000} s`);
      }
    }
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const pending of this.#digests.splice(0)) pending.reject(this.#failure);
  }
}

/**
 * The `workerHashing` option of a `FirmwareArchiveCheck` for resources of at least `minBytes`, or
 * `undefined` on a single core (the worker would only take turns with the calling thread, plus the
 * copies: 256 MiB verify 0.61 → 0.75 s under `taskset -c 0`) and where the SIMD module is not
 * available (hash-wasm on the calling thread then).
 * @internal
 */
export async function workerHashing(minBytes: number): Promise<{ minBytes: number; create(): Blake2bWorkerHasher } | undefined> {
  if (availableParallelism() < 2) return undefined;
  if ((await blake2b256Backend()) !== 'simd') return undefined;
  const module = await loadBlake2bSimdModule();
  if (module === undefined) return undefined;
  return { minBytes, create: () => new Blake2bWorkerHasher(module) };
}
