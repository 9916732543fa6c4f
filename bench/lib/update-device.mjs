// Device side of bench/update-e2e.mjs, run in its own process (fork) so its peak RSS and CPU are
// the device's alone. It builds a NervesHubLink from the BUILT package (dist/) with a device
// certificate and a FileApplier, then talks to the parent over IPC:
//   parent → { type: 'config', ... }      child → { type: 'joined' }
//   child  → { type: 'idle', cpuMs, wallMs }   (after `idleMs` connected and idle, when idleMs > 0)
//   child  → { type: 'outcome', outcome, at }  (each update outcome)
//   parent → { type: 'stop' }             child → { type: 'done', maxRssKiB, cpuMs } then exits.
import { join } from 'node:path';
import { readFileSync, readdirSync } from 'node:fs';
import { setInterval, clearInterval, setTimeout } from 'node:timers';
import { performance } from 'node:perf_hooks';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const send = (message) => process.send?.(message);
/** Logs when the applier got its first and last byte and when it finished (fsync + rename). */
function timedApplier(inner, logger) {
  return {
    apply(source, context) {
      async function* watched() {
        let first = true;
        for await (const chunk of source) {
          if (first) logger.log('info', 'applier: first byte');
          first = false;
          yield chunk;
        }
        logger.log('info', 'applier: last byte');
      }
      return inner.apply(watched(), context).finally(() => logger.log('info', 'applier: done (fsync, rename)'));
    },
  };
}
/** CPU of the main thread and of all others (thread pool, GC helpers) from /proc (Linux). */
function threadCpu() {
  const byName = new Map();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // Node 20 names no thread: the main thread is the one whose id is the pid.
      const name = Number(tid) === process.pid ? 'main' : 'other';
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime, stime in clock ticks (100/s)
      const [user, system] = byName.get(name) ?? [0, 0];
      byName.set(name, [user + Number(fields[11]) * 10, system + Number(fields[12]) * 10]);
    }
  } catch {
    return 'n/a';
  }
  return [...byName]
    .sort((a, b) => b[1][0] + b[1][1] - a[1][0] - a[1][1])
    .map(([n, [user, system]]) => `${n} ${user + system} (user ${user}, sys ${system})`)
    .join(', ');
}
const cpuMs = (usage) => (usage.user + usage.system) / 1000;

process.once('message', async (config) => {
  if (process.env.BENCH_MEM_LOG === '1') process.stderr.write(`mem start: rss ${(process.memoryUsage().rss / 1048576).toFixed(1)} MB\n`);
  if (config?.type !== 'config') throw new Error('expected a config message first');
  const { NervesHubLink, FileApplier } = await import(join(config.dist, 'index.js'));
  const { Downloader } = await import(join(config.dist, 'advanced.js'));
  const { FirmwareVerifier } = await import(join(config.dist, 'index.js'));
  const memMark = (what) => {
    if (process.env.BENCH_MEM_LOG === '1') process.stderr.write(`mem ${what}: rss ${(process.memoryUsage().rss / 1048576).toFixed(1)} MB\n`);
  };
  memMark('after imports');
  // BENCH_PASSTHROUGH_WORKER=1: BLAKE2b on a worker thread during the streaming download too.
  const passThroughWorker = process.env.BENCH_PASSTHROUGH_WORKER === '1';
  const ca = readFileSync(config.caPath, 'utf8');
  const certPem = readFileSync(config.certPath, 'utf8');
  const keyPem = readFileSync(config.keyPath, 'utf8');

  // Peak of each memory figure, sampled every 50 ms once the idle measurement is over (diagnostics
  // for RSS findings; the sampler itself would cost CPU while idle).
  const peaks = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
  let sampler;
  const startSampler = () => {
    sampler ??= setInterval(() => {
      const m = process.memoryUsage();
      for (const key of Object.keys(peaks)) peaks[key] = Math.max(peaks[key], m[key]);
      if (process.env.BENCH_MEM_LOG === '1') process.stderr.write(`mem ${Date.now() % 100000} rss ${(m.rss / 1048576).toFixed(0)} heapTotal ${(m.heapTotal / 1048576).toFixed(0)} heapUsed ${(m.heapUsed / 1048576).toFixed(0)} external ${(m.external / 1048576).toFixed(0)} ab ${(m.arrayBuffers / 1048576).toFixed(0)}\n`);
    }, 50);
    sampler.unref();
  };

  let joinedOnce = false;
  // BENCH_VERBOSE=1: a timestamped log of the update (where the time goes between push and completed).
  const logger = process.env.BENCH_VERBOSE === '1' ? { log: (level, message) => process.stderr.write(`  [device ${Date.now() % 100000}] ${level} ${message}\n`) } : undefined;
  const link = new NervesHubLink({
    ...(logger ? { logger } : {}),
    socket: {
      url: config.url,
      auth: { type: 'certificate', provider: { getTlsMaterial: async () => ({ certificateChain: [certPem], key: keyPem }) } },
      firmware: { uuid: config.runningUuid, product: 'bench', version: '0.9.0', platform: 'host', architecture: 'x86_64' },
      fwupVersion: '1.16.0',
      fwupPublicKeys: [config.publicKey],
      tls: { ca },
      ...(config.heartbeatIntervalMs ? { heartbeatIntervalMs: config.heartbeatIntervalMs } : {}),
    },
    client: {
      updateAvailable: () => ({ action: 'apply' }),
      reboot: () => {},
      connected: () => {
        if (joinedOnce) return;
        joinedOnce = true;
        void afterJoin();
      },
    },
    applier: logger ? timedApplier(new FileApplier({ path: config.targetPath }), logger) : new FileApplier({ path: config.targetPath }),
    update: {
      strategy: config.strategy,
      stateDir: config.stateDir,
      downloader: new Downloader({ ca, ...(logger ? { logger } : {}) }),
      ...(passThroughWorker ? { createVerifier: (publicKeys, delta) => new FirmwareVerifier({ publicKeys, ...delta, workerHashingInPassThrough: true }) } : {}),
    },
  });
  link.onUpdateOutcome((outcome) => send({ type: 'outcome', outcome, at: Date.now() }));

  async function afterJoin() {
    memMark('joined');
    send({ type: 'joined' });
    if (config.idleMs > 0) {
      // Let the join settle (flags refresh, journal check) and the first full GC after start-up run
      // (≈ 17 ms of CPU a few seconds after the join: once, not polling).
      await sleep(5000);
      const start = process.cpuUsage();
      const t0 = performance.now();
      await sleep(config.idleMs);
      const used = process.cpuUsage(start);
      send({ type: 'idle', cpuMs: cpuMs(used), wallMs: performance.now() - t0 });
    }
    startSampler();
  }

  process.on('message', async (message) => {
    if (message?.type !== 'stop') return;
    await link.stop();
    clearInterval(sampler);
    if (process.env.BENCH_VERBOSE === '1' || process.env.BENCH_THREADS === '1') process.stderr.write(`  threads (CPU ms): ${threadCpu()}\n`);
    send({ type: 'done', maxRssKiB: process.resourceUsage().maxRSS, cpuMs: cpuMs(process.cpuUsage()), peaks });
    process.disconnect();
  });
  link.start();
});
