// Verify bench: builds two signed 256 MiB archives of random data (like a squashfs rootfs) in
// bench/.work/ with the streaming writer: DEFLATED the way `fwup -c` writes them (raw deflate in
// zip, level 9, data descriptors) and STORED (method 0). Each round runs, interleaved,
// `b2sum -l 256 <archive>` and `node dist/cli.js verify <archive>` on the same file, so the ratio
// compares figures taken under the same load. Prints every run, min / median wall time, the
// median ratio, CPU seconds and peak RSS, and the load average.
// Targets: verify <= 1.25 x b2sum wall time (stretch 1.15), peak RSS < 80 MB, for both archives.
// Env: BENCH_RUNS (default 5), BENCH_AB=<dir> (another build, e.g. a copy of dist/ before a change:
// its verify runs are interleaved as "<archive>@B"), BENCH_STRICT=1 (exit 1 on a missed target).
// Single core: `taskset -c 0 node bench/verify.mjs`.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { writeRandomFile } from './lib/random-file.mjs';
import { fmt, median, timeCommand } from './lib/stats.mjs';

const SIZE = 256 * 1024 * 1024;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const TARGET_RATIO = 1.25;
const TARGET_RSS_MB = 80;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = join(root, 'bench', '.work', `verify-${process.pid}`);
const cli = join(root, 'dist', 'cli.js');
const abCli = process.env.BENCH_AB ? join(process.env.BENCH_AB, 'cli.js') : undefined;

if (!existsSync(cli)) {
  console.error('dist/cli.js missing: run `npm run build` first (npm run bench does).');
  process.exit(1);
}
const { writeFirmware } = await import(join(root, 'dist', 'testing.js'));


if (!existsSync('/usr/bin/time')) {
  console.error('/usr/bin/time is needed (peak RSS)');
  process.exit(1);
}
mkdirSync(work, { recursive: true });
try {
  const t0 = Date.now();
  const payload = join(work, 'rootfs.img');
  await writeRandomFile(payload, SIZE);
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = publicKey.export({ format: 'der', type: 'spki' }).subarray(12).toString('base64');
  const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(16);
  writeFileSync(join(work, 'bench-key.pub'), pub);
  const archives = { deflated: join(work, 'deflated.fw'), stored: join(work, 'stored.fw') };
  for (const [kind, path] of Object.entries(archives)) {
    await writeFirmware(
      {
        resources: [['rootfs.img', { path: payload }]],
        meta: { product: 'bench', version: '1.0.0' },
        privateKey: new Uint8Array(seed),
        // fwup -c deflates resources at level 9 by default.
        compression: kind === 'deflated' ? 9 : 0,
        tasks: [{ name: 'complete', onResource: { 'rootfs.img': [['raw_write', 0]] } }],
      },
      path,
    );
  }
  rmSync(payload, { force: true });
  console.log(`archives built in ${((Date.now() - t0) / 1000).toFixed(1)} s (${SIZE} bytes of random data each)`);
  const loadStart = loadavg();

  const rows = {};
  const add = (key, value) => (rows[key] ??= []).push(value);
  for (let i = 0; i < RUNS; i++) {
    for (const [kind, path] of Object.entries(archives)) {
      add(`${kind}:b2sum`, timeCommand('b2sum', ['-l', '256', path]));
      add(`${kind}:verify`, timeCommand(process.execPath, [cli, 'verify', path, '--public-key', pub]));
      if (abCli) add(`${kind}:verify@B`, timeCommand(process.execPath, [abCli, 'verify', path, '--public-key', pub]));
    }
  }

  console.log(`load average: start ${loadStart.map(fmt).join(' ')}, end ${loadavg().map(fmt).join(' ')} (${cpus().length} cores)`);
  console.log('');
  console.log('archive    command      wall s (each run)                 min    median   ratio (median)   CPU s   peak RSS MB');
  let met = true;
  for (const kind of Object.keys(archives)) {
    const ref = rows[`${kind}:b2sum`];
    const refMedian = median(ref.map((r) => r.wall));
    for (const name of ['b2sum', 'verify', ...(abCli ? ['verify@B'] : [])]) {
      const runs = rows[`${kind}:${name}`];
      const walls = runs.map((r) => r.wall);
      // Ratio of each run to the b2sum run just before it (same load), then the median of those.
      const ratio = median(runs.map((r, i) => r.wall / ref[i].wall));
      const rss = Math.max(...runs.map((r) => r.rssMb));
      console.log(
        `${kind.padEnd(9)}  ${name.padEnd(10)}   ${walls.map(fmt).join(' ').padEnd(32)}  ${fmt(Math.min(...walls)).padStart(5)}  ${fmt(median(walls)).padStart(6)}   ${fmt(ratio).padStart(14)}   ${fmt(median(runs.map((r) => r.cpu))).padStart(5)}   ${rss.toFixed(1).padStart(11)}`,
      );
      if (name === 'verify') {
        const ok = ratio <= TARGET_RATIO && rss < TARGET_RSS_MB;
        met &&= ok;
        console.log(`  ${kind}: verify / b2sum median ${fmt(ratio)} (median of medians ${fmt(median(walls) / refMedian)}; target <= ${TARGET_RATIO}, stretch 1.15), peak RSS ${rss.toFixed(1)} MB (target < ${TARGET_RSS_MB})${ok ? '' : '  MISSED'}`);
      }
    }
  }
  console.log(met ? 'targets met' : 'TARGET MISSED');
  // Informational by default; BENCH_STRICT=1 turns a miss into a failing exit code.
  if (!met && process.env.BENCH_STRICT === '1') process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
