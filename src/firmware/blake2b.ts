import { Blake2bSimd, loadBlake2bSimdModule } from './blake2b-simd.js';

/** An incremental BLAKE2b-256 hasher (unkeyed, 32-byte digest as fwup uses it). */
export interface Blake2b256 {
  update(data: Uint8Array): void;
  /** Lowercase hex digest; call {@link Blake2b256.reset} before hashing something else. */
  digestHex(): string;
  digestBytes(): Uint8Array;
  reset(): void;
}

interface WasmHasher {
  init(): unknown;
  update(data: Uint8Array): unknown;
  digest(format: 'hex'): string;
  digest(format: 'binary'): Uint8Array;
}

type CreateBlake2b = (bits: number) => Promise<WasmHasher>;

let loading: Promise<CreateBlake2b> | undefined;
let simdDisabled = false;

/**
 * @internal Test hook (no entry point exports it): true forces the hash-wasm fallback, as on a
 * runtime whose WebAssembly has no SIMD.
 */
export function disableBlake2bSimdForTesting(disabled: boolean): void {
  simdDisabled = disabled;
}

/**
 * Loads hash-wasm's BLAKE2b-only build (16 KB) instead of the full bundle (270 KB): it saves ~30 ms
 * of start-up, which matters for the CLI. Loaded on first use, never at import time.
 */
function loadCreateBlake2b(): Promise<CreateBlake2b> {
  loading ??= import('hash-wasm/dist/blake2b.umd.min.js' as string).then((mod: unknown) => {
    const m = mod as { createBLAKE2b?: CreateBlake2b; default?: { createBLAKE2b?: CreateBlake2b } };
    const create = m.createBLAKE2b ?? m.default?.createBLAKE2b;
    if (!create) throw new Error('hash-wasm blake2b build not found');
    return create;
  });
  return loading;
}

/**
 * @internal Which implementation {@link createBlake2b256} uses here: the SIMD module or hash-wasm
 * (for the bench and the tests).
 */
export async function blake2b256Backend(): Promise<'simd' | 'hash-wasm'> {
  return !simdDisabled && (await loadBlake2bSimdModule()) !== undefined ? 'simd' : 'hash-wasm';
}

async function createFallback(): Promise<Blake2b256> {
  const create = await loadCreateBlake2b();
  const hasher = await create(256);
  hasher.init();
  return {
    update: (data) => {
      hasher.update(data);
    },
    digestHex: () => hasher.digest('hex'),
    digestBytes: () => hasher.digest('binary'),
    reset: () => {
      hasher.init();
    },
  };
}

/**
 * Creates a BLAKE2b-256 hasher (node:crypto cannot produce BLAKE2b with a 32-byte digest length):
 * the project's own 128-bit SIMD WebAssembly module (scripts/blake2b-wat.mjs), ~1.2x faster than
 * hash-wasm's scalar build, or hash-wasm where the runtime's WebAssembly has no SIMD.
 */
export async function createBlake2b256(): Promise<Blake2b256> {
  const module = simdDisabled ? undefined : await loadBlake2bSimdModule();
  if (module === undefined) return createFallback();
  const hasher = new Blake2bSimd(module, 32);
  return {
    update: (data) => {
      hasher.update(data);
    },
    digestHex: () => Buffer.from(hasher.digest()).toString('hex'),
    digestBytes: () => hasher.digest(),
    reset: () => {
      hasher.reset();
    },
  };
}
