// BLAKE2b-256 bench: hash-wasm (the fallback) vs our SIMD WebAssembly module vs `b2sum -l 256`, on
// the same 256 MiB file of random data in bench/.work/. Each round runs the three, interleaved, as
// separate processes (node reads the file in 1 MiB pieces and updates the hasher with each), so the
// ratios compare figures taken under the same load. Prints every run, min / median wall time, the
// median of the per-round ratios, and the hashing time inside node (without start-up and module
// compile). Our module is the committed one (src/firmware/blake2b-simd-wasm.ts), driven the way
// src/firmware/blake2b-simd.ts drives it. The three digests must agree.
// Env: BENCH_RUNS (default 5). Single core: `taskset -c 0 node bench/blake2b.mjs`.
import { closeSync, mkdirSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { writeRandomFile } from './lib/random-file.mjs';
import { fmt, median, timeCommand } from './lib/stats.mjs';

const SIZE = 256 * 1024 * 1024;
const PIECE = 1024 * 1024;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const self = fileURLToPath(import.meta.url);

/** The committed module's bytes and layout, read from the generated TypeScript file. */
function committedModule() {
  const text = readFileSync(join(root, 'src', 'firmware', 'blake2b-simd-wasm.ts'), 'utf8');
  const base64 = [...text.slice(text.indexOf('BLAKE2B_SIMD_WASM_BASE64')).matchAll(/'([A-Za-z0-9+/=]+)',/g)].map((m) => m[1]).join('');
  const constant = (name) => Number(new RegExp(`${name} = (\\d+);`).exec(text)[1]);
  return {
    bytes: Buffer.from(base64, 'base64'),
    inputPtr: constant('BLAKE2B_SIMD_INPUT_PTR'),
    inputSize: constant('BLAKE2B_SIMD_INPUT_SIZE'),
    outPtr: constant('BLAKE2B_SIMD_OUT_PTR'),
    pages: constant('BLAKE2B_SIMD_MIN_PAGES'),
  };
}

async function createHasher(kind) {
  if (kind === 'hash-wasm') {
    const { createBLAKE2b } = createRequire(import.meta.url)('hash-wasm/dist/blake2b.umd.min.js');
    const hasher = await createBLAKE2b(256);
    return { update: (data) => hasher.update(data), digestHex: () => hasher.digest('hex') };
  }
  const { bytes, inputPtr, inputSize, outPtr, pages } = committedModule();
  const { WebAssembly: wasm } = globalThis;
  // The module imports its (shared) memory, as the SDK gives it.
  const env = { memory: new wasm.Memory({ initial: pages, maximum: pages, shared: true }) };
  const { exports } = await wasm.instantiate(await wasm.compile(bytes), { env });
  const memory = new Uint8Array(exports.memory.buffer);
  exports.init(32);
  return {
    update: (data) => {
      for (let offset = 0; offset < data.length; offset += inputSize) {
        const chunk = data.subarray(offset, offset + inputSize);
        memory.set(chunk, inputPtr);
        exports.update(inputPtr, chunk.length);
      }
    },
    digestHex: () => {
      exports.final(outPtr);
      return Buffer.from(memory.subarray(outPtr, outPtr + 32)).toString('hex');
    },
  };
}

/** Child: hashes `path`, prints "<digest> <ms spent hashing>". */
async function child(kind, path) {
  const hasher = await createHasher(kind);
  const piece = Buffer.alloc(PIECE);
  const fd = openSync(path, 'r');
  let hashing = 0n;
  try {
    for (;;) {
      const n = readSync(fd, piece, 0, PIECE, null);
      if (n === 0) break;
      const t = process.hrtime.bigint();
      hasher.update(piece.subarray(0, n));
      hashing += process.hrtime.bigint() - t;
    }
  } finally {
    closeSync(fd);
  }
  const t = process.hrtime.bigint();
  const digest = hasher.digestHex();
  hashing += process.hrtime.bigint() - t;
  console.log(`${digest} ${Number(hashing) / 1e6}`);
}

/** Times a command: wall and CPU seconds, the digest and (node) hashing ms it prints. */
function measure(command, args) {
  const { wall, cpu, stdout } = timeCommand(command, args);
  const [digest, hashMs] = stdout.trim().split(/\s+/);
  return { wall, cpu, digest, hashMs: Number(hashMs) };
}

async function main() {
  const work = join(root, 'bench', '.work', `blake2b-${process.pid}`);
  mkdirSync(work, { recursive: true });
  try {
    const file = join(work, 'rootfs.img');
    await writeRandomFile(file, SIZE);
    const loadStart = loadavg();
    const commands = {
      b2sum: ['b2sum', ['-l', '256', file]],
      'hash-wasm': [process.execPath, [self, '--child', 'hash-wasm', file]],
      simd: [process.execPath, [self, '--child', 'simd', file]],
    };
    const rows = {};
    for (let i = 0; i < RUNS; i++) {
      for (const [name, [command, args]] of Object.entries(commands)) (rows[name] ??= []).push(measure(command, args));
    }
    const digests = new Set(Object.values(rows).flatMap((runs) => runs.map((r) => r.digest)));
    if (digests.size !== 1) throw new Error(`digests differ: ${[...digests].join(' ')}`);

    console.log(`${SIZE} bytes of random data, ${PIECE}-byte updates, ${RUNS} interleaved rounds; BLAKE2b-256 ${[...digests][0]}`);
    console.log(`load average: start ${loadStart.map(fmt).join(' ')}, end ${loadavg().map(fmt).join(' ')} (${cpus().length} cores)`);
    console.log('');
    console.log('command     wall s (each run)                 min    median   / b2sum (median)   CPU s   hashing ms in node (min, median)');
    for (const [name, runs] of Object.entries(rows)) {
      const walls = runs.map((r) => r.wall);
      const ratio = median(runs.map((r, i) => r.wall / rows.b2sum[i].wall));
      const hashing = name === 'b2sum' ? '' : `${runs.map((r) => r.hashMs.toFixed(0)).join(' ')}  (${Math.min(...runs.map((r) => r.hashMs)).toFixed(0)}, ${median(runs.map((r) => r.hashMs)).toFixed(0)})`;
      console.log(
        `${name.padEnd(10)}  ${walls.map(fmt).join(' ').padEnd(32)}  ${fmt(Math.min(...walls)).padStart(5)}  ${fmt(median(walls)).padStart(6)}   ${fmt(ratio).padStart(16)}   ${fmt(median(runs.map((r) => r.cpu))).padStart(5)}   ${hashing}`,
      );
    }
    // Same-round ratios: hash-wasm time over ours (above 1 means ours is faster).
    const speedup = (key) => median(rows.simd.map((r, i) => rows['hash-wasm'][i][key] / r[key]));
    const hashMin = Math.min(...rows['hash-wasm'].map((r) => r.hashMs)) / Math.min(...rows.simd.map((r) => r.hashMs));
    console.log('');
    console.log(`simd vs hash-wasm: hashing ${fmt(speedup('hashMs'))}x faster (median of rounds; ${fmt(hashMin)}x by min), whole process ${fmt(speedup('wall'))}x`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') await child(process.argv[3], process.argv[4]);
else await main();
