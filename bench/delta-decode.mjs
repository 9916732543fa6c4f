// Delta decode bench: a 256 MiB source of random data, a target with ~10 % of it rewritten (256
// runs of 100 KiB), the patch made by `xdelta3 -A -S -f -s` as NervesHub makes it. Times, in the
// same run, `xdelta3 -d` and the SDK's streaming VCDIFF decoder (file source, file output), checks
// both outputs equal the target, prints the ratio and peak RSS. Everything in bench/.work is deleted.
// Skipped (exit 0) when xdelta3 is not installed.
import { createReadStream, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const SIZE = 256 * 1024 * 1024;
const RUN_BYTES = 100 * 1024;
const RUNS_CHANGED = 256;
const REPEAT = Number(process.env.BENCH_RUNS ?? 3);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = join(root, 'bench', '.work', 'delta');
const dist = join(root, 'dist', 'index.js');

if (spawnSync('xdelta3', ['-V'], { stdio: 'ignore' }).status !== 0) {
  console.log('xdelta3 not installed: delta-decode bench skipped');
  process.exit(0);
}
if (!existsSync(dist)) {
  console.error('dist/index.js missing: run `npm run build` first (npm run bench does).');
  process.exit(1);
}

const hasTime = existsSync('/usr/bin/time');
function measure(command, args) {
  const start = process.hrtime.bigint();
  const r = hasTime
    ? spawnSync('/usr/bin/time', ['-f', '%M', command, ...args], { encoding: 'utf8' })
    : spawnSync(command, args, { encoding: 'utf8' });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.status !== 0) throw new Error(`${command} failed: ${r.stderr}`);
  const kib = hasTime ? Number(r.stderr.trim().split('\n').pop()) : NaN;
  return { seconds, kib };
}

async function sha256(path) {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk);
  return hash.digest('hex');
}

const source = join(work, 'source.bin');
const target = join(work, 'target.bin');
const patch = join(work, 'patch.vcdiff');
const outXdelta = join(work, 'out-xdelta3.bin');
const outSdk = join(work, 'out-sdk.bin');
const decoder = join(work, 'decode.mjs');

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
try {
  const data = Buffer.allocUnsafe(SIZE);
  randomFillSync(data);
  writeFileSync(source, data);
  const stride = Math.floor(SIZE / RUNS_CHANGED);
  for (let i = 0; i < RUNS_CHANGED; i++) randomFillSync(data, i * stride + 4096, RUN_BYTES);
  writeFileSync(target, data);
  const expected = createHash('sha256').update(data).digest('hex');
  spawnSync('xdelta3', ['-A', '-S', '-f', '-s', source, target, patch], { stdio: 'inherit' });
  const patchBytes = statSync(patch).size;
  console.log(`target ${SIZE / 2 ** 20} MiB, ${((RUNS_CHANGED * RUN_BYTES) / SIZE * 100).toFixed(1)} % rewritten; patch ${(patchBytes / 2 ** 20).toFixed(1)} MiB`);

  // The SDK side as an update uses it: streamed patch in, random-access file source, streamed output.
  writeFileSync(
    decoder,
    `import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { once } from 'node:events';
const { decodeVcdiff } = await import(${JSON.stringify(dist)});
const [sourcePath, patchPath, outPath, size] = process.argv.slice(2);
const handle = await open(sourcePath, 'r');
const { size: sourceSize } = await handle.stat();
const source = { size: sourceSize, read: async (offset, length) => { const b = new Uint8Array(length); let f = 0; while (f < length) { const { bytesRead } = await handle.read(b, f, length - f, offset + f); if (!bytesRead) throw new Error('short'); f += bytesRead; } return b; } };
const out = createWriteStream(outPath);
for await (const bytes of decodeVcdiff(createReadStream(patchPath, { highWaterMark: 256 * 1024 }), source, { outputBytes: Number(size) })) {
  if (!out.write(bytes)) await once(out, 'drain');
}
out.end();
await once(out, 'finish');
await handle.close();
`,
  );

  const xd = [];
  const sdk = [];
  for (let i = 0; i < REPEAT; i++) {
    xd.push(measure('xdelta3', ['-d', '-f', '-s', source, patch, outXdelta]));
    sdk.push(measure(process.execPath, [decoder, source, patch, outSdk, String(SIZE)]));
  }
  for (const [name, path] of [['xdelta3 -d', outXdelta], ['SDK decodeVcdiff', outSdk]]) {
    if ((await sha256(path)) !== expected) throw new Error(`${name} output differs from the target`);
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const xs = median(xd.map((m) => m.seconds));
  const ss = median(sdk.map((m) => m.seconds));
  const mib = (kib) => (Number.isNaN(kib) ? 'n/a' : `${(kib / 1024).toFixed(0)} MB`);
  console.log(`xdelta3 -d      : ${xs.toFixed(2)} s (${(SIZE / 2 ** 20 / xs).toFixed(0)} MiB/s), peak RSS ${mib(Math.max(...xd.map((m) => m.kib)))}`);
  console.log(`SDK decodeVcdiff: ${ss.toFixed(2)} s (${(SIZE / 2 ** 20 / ss).toFixed(0)} MiB/s), peak RSS ${mib(Math.max(...sdk.map((m) => m.kib)))}`);
  console.log(`ratio SDK / xdelta3: ${(ss / xs).toFixed(2)} (median of ${REPEAT}); both outputs = the target`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
