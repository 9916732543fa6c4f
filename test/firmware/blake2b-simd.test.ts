import { afterEach, describe, expect, it, vi } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import wabt from 'wabt';
import { createBLAKE2b } from 'hash-wasm';
import { assembleBlake2bWasm, renderBlake2bWasmSource } from '../../scripts/blake2b-wat.mjs';
import { BLAKE2B_SIMD_INPUT_SIZE, BLAKE2B_SIMD_WASM_BASE64 } from '../../src/firmware/blake2b-simd-wasm.js';
import { Blake2bSimd, loadBlake2bSimdModule, type Blake2bSimdModule } from '../../src/firmware/blake2b-simd.js';
import { blake2b256Backend, createBlake2b256, disableBlake2bSimdForTesting } from '../../src/firmware/blake2b.js';

const ROOT = join(import.meta.dirname, '..', '..');
const OUR_MODULE = Buffer.from(BLAKE2B_SIMD_WASM_BASE64, 'base64');
/** True for our module's bytes (hash-wasm passes its own module as an ArrayBuffer or a view). */
const isOurModule = (bytes: ArrayBufferView | ArrayBuffer) =>
  (ArrayBuffer.isView(bytes) ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : Buffer.from(bytes)).equals(OUR_MODULE);
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** Small seeded PRNG so a failure can be replayed (the seed is in the test name). */
function prng(seed: number) {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

/** Cuts `data` at random points into pieces (some empty), in order. */
function pieces(data: Uint8Array, random: (n: number) => number, maxPiece: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let offset = 0; offset < data.length; ) {
    const size = Math.min(data.length - offset, random(maxPiece + 1));
    out.push(data.subarray(offset, offset + size));
    offset += size;
  }
  out.splice(random(out.length + 1), 0, new Uint8Array(0));
  return out;
}

async function simdModule(): Promise<Blake2bSimdModule> {
  const module = await loadBlake2bSimdModule();
  if (module === undefined) throw new Error('this Node has WebAssembly SIMD: the module must load');
  return module;
}

function simd512(module: Blake2bSimdModule, parts: Uint8Array[]): string {
  const hasher = new Blake2bSimd(module, 64);
  for (const part of parts) hasher.update(part);
  return hex(hasher.digest());
}

afterEach(() => {
  disableBlake2bSimdForTesting(false);
  vi.restoreAllMocks();
});

describe('BLAKE2b SIMD WebAssembly module', () => {
  it('the committed module is what scripts/blake2b-wat.mjs generates (wabt)', async () => {
    const bytes = assembleBlake2bWasm(await wabt());
    expect(hex(bytes)).toBe(hex(Buffer.from(BLAKE2B_SIMD_WASM_BASE64, 'base64')));
    expect(renderBlake2bWasmSource(bytes)).toBe(readFileSync(join(ROOT, 'src', 'firmware', 'blake2b-simd-wasm.ts'), 'utf8'));
  });

  it('RFC 7693 and reference vectors (BLAKE2b-512 and BLAKE2b-256)', async () => {
    const module = await simdModule();
    const vectors: [string, number, string][] = [
      ['abc', 64, 'ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923'],
      ['', 64, '786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419d25e1031afee585313896444934eb04b903a685b1448b755d56f701afe9be2ce'],
      ['The quick brown fox jumps over the lazy dog', 64, 'a8add4bdddfd93e4877d2746e62817b116364a1fa7bc148d95090bc7333b3673f82401cf7aa2e4cb1ecd90296e3f14cb5413f8ed77be73045b13914cdcd6a918'],
      ['', 32, '0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8'],
      ['abc', 32, 'bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319'],
    ];
    for (const [text, outlen, digest] of vectors) {
      const hasher = new Blake2bSimd(module, outlen);
      hasher.update(Buffer.from(text));
      expect(hex(hasher.digest()), `${outlen}-byte digest of '${text}'`).toBe(digest);
    }
  });

  it('BLAKE2b-512 equals node:crypto blake2b512 at block and input-area edges, split at random points (seed 7693)', async () => {
    const module = await simdModule();
    const random = prng(7693);
    const edges = [0, 1, 127, 128, 129, 255, 256, 257, 383, 384, 385, 1000];
    const areaEdges = [BLAKE2B_SIMD_INPUT_SIZE - 1, BLAKE2B_SIMD_INPUT_SIZE, BLAKE2B_SIMD_INPUT_SIZE + 1, 2 * BLAKE2B_SIMD_INPUT_SIZE + 129];
    for (const length of [...edges, ...areaEdges, ...Array.from({ length: 40 }, () => random(5000))]) {
      const data = randomBytes(length);
      const want = createHash('blake2b512').update(data).digest('hex');
      expect(simd512(module, [data]), `length ${length}, one update`).toBe(want);
      expect(simd512(module, pieces(data, random, 300)), `length ${length}, pieces`).toBe(want);
      // Updates of exactly 0, 1, 127, 128, 129 bytes, round and round.
      const steps = [0, 1, 127, 128, 129];
      const parts: Uint8Array[] = [];
      for (let offset = 0, i = 0; offset < length; i++) {
        const size = steps[i % steps.length]!;
        parts.push(data.subarray(offset, offset + size));
        offset += size;
      }
      expect(simd512(module, parts), `length ${length}, 0/1/127/128/129-byte updates`).toBe(want);
    }
  });

  it('the zero-copy input area gives the same digest as update()', async () => {
    const hasher = new Blake2bSimd(await simdModule(), 64);
    const data = randomBytes(3 * BLAKE2B_SIMD_INPUT_SIZE + 77);
    const area = hasher.inputArea();
    expect(area.length).toBe(BLAKE2B_SIMD_INPUT_SIZE);
    for (let offset = 0; offset < data.length; offset += 1000 + BLAKE2B_SIMD_INPUT_SIZE / 2) {
      const part = data.subarray(offset, offset + 1000 + BLAKE2B_SIMD_INPUT_SIZE / 2);
      area.set(part);
      hasher.updateFromInput(part.length);
    }
    expect(hex(hasher.digest())).toBe(createHash('blake2b512').update(data).digest('hex'));
    expect(() => hasher.updateFromInput(1)).toThrow(/finalized/);
    hasher.reset();
    expect(() => hasher.updateFromInput(BLAKE2B_SIMD_INPUT_SIZE + 1)).toThrow(RangeError);
    expect(() => new Blake2bSimd(hasher as unknown as Blake2bSimdModule, 65)).toThrow(RangeError);
  });
});

describe('createBlake2b256 (SIMD module, hash-wasm fallback)', () => {
  it('uses the SIMD module on this Node', async () => {
    expect(await blake2b256Backend()).toBe('simd');
  });

  it('equals hash-wasm and b2sum -l 256 for random lengths 0..3000 split at random points (seed 2566)', async () => {
    const random = prng(2566);
    const reference = await createBLAKE2b(256);
    const hasher = await createBlake2b256();
    const dir = mkdtempSync(join(tmpdir(), 'nhl-blake2b-'));
    try {
      const inputs = Array.from({ length: 60 }, (_, i) => randomBytes(i < 5 ? [0, 1, 127, 128, 129][i]! : random(3001)));
      const ours = inputs.map((data) => {
        hasher.reset();
        for (const part of pieces(data, random, 400)) hasher.update(part);
        const digest = hasher.digestHex();
        reference.init();
        reference.update(data);
        expect(digest, `length ${data.length}`).toBe(reference.digest('hex'));
        expect(hex(hasher.digestBytes())).toBe(digest);
        return digest;
      });
      const b2sumHelp = spawnSync('b2sum', ['--version']);
      if (b2sumHelp.status !== 0) return; // no coreutils b2sum here: hash-wasm alone
      const files = inputs.map((data, i) => {
        const path = join(dir, `in-${i}`);
        writeFileSync(path, data);
        return path;
      });
      const out = spawnSync('b2sum', ['-l', '256', ...files], { encoding: 'utf8' });
      expect(out.status).toBe(0);
      expect(out.stdout.trim().split('\n').map((line) => line.split(' ')[0])).toEqual(ours);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a 5 MiB input hashed in uneven pieces equals hash-wasm (seed 5)', async () => {
    const random = prng(5);
    const data = randomBytes(5 * 1024 * 1024);
    const reference = await createBLAKE2b(256);
    reference.update(data);
    const hasher = await createBlake2b256();
    for (const part of pieces(data, random, 3 * BLAKE2B_SIMD_INPUT_SIZE)) hasher.update(part);
    expect(hasher.digestHex()).toBe(reference.digest('hex'));
  });

  it('reset starts over; two interleaved hashers keep their own state', async () => {
    const a = await createBlake2b256();
    const b = await createBlake2b256();
    const x = randomBytes(70_000);
    const y = randomBytes(1_000);
    a.update(randomBytes(500));
    a.reset();
    for (let offset = 0; offset < x.length; offset += 129) {
      a.update(x.subarray(offset, offset + 129));
      if (offset < y.length) b.update(y.subarray(offset, offset + 129));
    }
    const reference = await createBLAKE2b(256);
    expect(a.digestHex()).toBe(reference.update(x).digest('hex'));
    expect(b.digestHex()).toBe(reference.init().update(y).digest('hex'));
    a.reset();
    a.update(y);
    expect(a.digestHex()).toBe(b.digestHex());
  });

  it('falls back to hash-wasm when the test hook disables SIMD, with the same digests', async () => {
    disableBlake2bSimdForTesting(true);
    expect(await blake2b256Backend()).toBe('hash-wasm');
    const fallback = await createBlake2b256();
    disableBlake2bSimdForTesting(false);
    const simd = await createBlake2b256();
    const data = randomBytes(200_000);
    for (const hasher of [fallback, simd]) for (let offset = 0; offset < data.length; offset += 65_537) hasher.update(data.subarray(offset, offset + 65_537));
    expect(fallback.digestHex()).toBe(simd.digestHex());
  });

  it('falls back to hash-wasm when WebAssembly.validate rejects the module (no SIMD)', async () => {
    vi.resetModules();
    const wasm = (globalThis as unknown as { WebAssembly: { validate(bytes: Uint8Array): boolean } }).WebAssembly;
    const original = wasm.validate.bind(wasm);
    // Only our module is refused: hash-wasm's own module must still load.
    const validate = vi.spyOn(wasm, 'validate').mockImplementation((bytes) => !isOurModule(bytes) && original(bytes));
    const fresh = await import('../../src/firmware/blake2b.js');
    expect(await fresh.blake2b256Backend()).toBe('hash-wasm');
    expect(validate).toHaveBeenCalled();
    const hasher = await fresh.createBlake2b256();
    hasher.update(Buffer.from('abc'));
    expect(hasher.digestHex()).toBe('bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319');
  });
});

describe('createBlake2b256 when the module validates but does not compile', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('falls back to hash-wasm', async () => {
    vi.resetModules();
    const wasm = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<unknown> } }).WebAssembly;
    const original = wasm.compile.bind(wasm);
    // Only our module fails: hash-wasm compiles (and caches) its own with the same function.
    const compile = vi.spyOn(wasm, 'compile').mockImplementation((bytes) => (isOurModule(bytes) ? Promise.reject(new Error('no room')) : original(bytes)));
    const fresh = await import('../../src/firmware/blake2b.js');
    expect(await fresh.blake2b256Backend()).toBe('hash-wasm');
    expect(compile.mock.calls.some(([bytes]) => isOurModule(bytes))).toBe(true);
    const hasher = await fresh.createBlake2b256();
    hasher.update(Buffer.from('abc'));
    expect(hasher.digestHex()).toBe('bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319');
  });
});
