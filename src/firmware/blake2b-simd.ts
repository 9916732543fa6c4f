import {
  BLAKE2B_SIMD_INPUT_PTR,
  BLAKE2B_SIMD_INPUT_SIZE,
  BLAKE2B_SIMD_MIN_PAGES,
  BLAKE2B_SIMD_OUT_PTR,
  BLAKE2B_SIMD_WASM_BASE64,
} from './blake2b-simd-wasm.js';

// The lib settings of this package (ES2023 + node) carry no WebAssembly types: the few used here.
interface WasmModule {
  readonly __wasmModule?: never;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  compile(bytes: Uint8Array): Promise<WasmModule>;
  Instance: new (module: WasmModule, imports: object) => { exports: unknown };
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => { buffer: SharedArrayBuffer };
}
interface Blake2bExports {
  memory: { buffer: SharedArrayBuffer };
  init(outlen: number): void;
  update(ptr: number, length: number): void;
  final(outPtr: number): void;
}

/** The compiled SIMD module, shared by every hasher (each gets its own instance and memory). */
export type Blake2bSimdModule = WasmModule;

let compiling: Promise<Blake2bSimdModule | undefined> | undefined;

/**
 * Compiles the BLAKE2b SIMD module on first call (never at import time) and caches it; resolves
 * undefined when this runtime's WebAssembly rejects it (no 128-bit SIMD): the caller falls back.
 */
export function loadBlake2bSimdModule(): Promise<Blake2bSimdModule | undefined> {
  compiling ??= (async () => {
    const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    if (wasm === undefined) return undefined;
    const bytes = new Uint8Array(Buffer.from(BLAKE2B_SIMD_WASM_BASE64, 'base64'));
    if (!wasm.validate(bytes)) return undefined;
    // A runtime that validates but cannot compile it (out of memory, a CSP) falls back too.
    return wasm.compile(bytes).catch(() => undefined);
  })();
  return compiling;
}

/**
 * A fixed-size shared memory of `pages` (64 KiB each) for the module to import as `env.memory`
 * (at least `BLAKE2B_SIMD_MIN_PAGES`, at most `BLAKE2B_SIMD_MAX_PAGES`).
 * @internal
 */
export function createBlake2bSimdMemory(pages: number): { buffer: SharedArrayBuffer } {
  const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  return new wasm.Memory({ initial: pages, maximum: pages, shared: true });
}

/**
 * Incremental BLAKE2b (unkeyed, digest length 1..64) in one instance of the SIMD module: its state
 * lives in the instance's own memory, so two hashers never share anything.
 */
export class Blake2bSimd {
  readonly #exports: Blake2bExports;
  readonly #memory: Uint8Array;
  readonly #outlen: number;
  #digest: Uint8Array | undefined;

  constructor(module: Blake2bSimdModule, outlen: number) {
    if (!Number.isInteger(outlen) || outlen < 1 || outlen > 64) throw new RangeError(`BLAKE2b digest length must be 1..64, got ${outlen}`);
    const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
    // The module imports its memory, shared so the worker hasher can hash in place: here a small
    // one of its own (shared memory behaves like any other on one thread).
    const memory = createBlake2bSimdMemory(BLAKE2B_SIMD_MIN_PAGES);
    this.#exports = new wasm.Instance(module, { env: { memory } }).exports as Blake2bExports;
    // The memory has a fixed size (no memory.grow), so this view never changes.
    this.#memory = new Uint8Array(this.#exports.memory.buffer);
    this.#outlen = outlen;
    this.#exports.init(outlen);
  }

  /**
   * The module's input area: write up to its length of data here (e.g. let `fs.read` fill it) and
   * pass the count to {@link Blake2bSimd.updateFromInput}, and nothing is copied.
   */
  inputArea(): Uint8Array {
    return this.#memory.subarray(BLAKE2B_SIMD_INPUT_PTR, BLAKE2B_SIMD_INPUT_PTR + BLAKE2B_SIMD_INPUT_SIZE);
  }

  /** Absorbs the first `length` bytes of {@link Blake2bSimd.inputArea}. */
  updateFromInput(length: number): void {
    if (this.#digest !== undefined) throw new Error('BLAKE2b hasher already finalized: call reset() first');
    if (!Number.isInteger(length) || length < 0 || length > BLAKE2B_SIMD_INPUT_SIZE) throw new RangeError(`input length must be 0..${BLAKE2B_SIMD_INPUT_SIZE}`);
    this.#exports.update(BLAKE2B_SIMD_INPUT_PTR, length);
  }

  /** Absorbs `data` of any length, copied into the input area one area-sized chunk at a time. */
  update(data: Uint8Array): void {
    if (this.#digest !== undefined) throw new Error('BLAKE2b hasher already finalized: call reset() first');
    for (let offset = 0; offset < data.length; offset += BLAKE2B_SIMD_INPUT_SIZE) {
      const chunk = data.subarray(offset, offset + BLAKE2B_SIMD_INPUT_SIZE);
      this.#memory.set(chunk, BLAKE2B_SIMD_INPUT_PTR);
      this.#exports.update(BLAKE2B_SIMD_INPUT_PTR, chunk.length);
    }
  }

  /** The digest (a fresh copy); finalizes the hasher on first call. */
  digest(): Uint8Array {
    if (this.#digest === undefined) {
      this.#exports.final(BLAKE2B_SIMD_OUT_PTR);
      this.#digest = this.#memory.slice(BLAKE2B_SIMD_OUT_PTR, BLAKE2B_SIMD_OUT_PTR + this.#outlen);
    }
    return this.#digest.slice();
  }

  /** Starts a new hash with the same digest length. */
  reset(): void {
    this.#exports.init(this.#outlen);
    this.#digest = undefined;
  }
}
