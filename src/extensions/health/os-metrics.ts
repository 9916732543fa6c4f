import { readdir, readFile, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { MetricSet } from './metric-set.js';
import { round2 } from './metric-set.js';

/** Where the OS metric sets read (tests point them at a fixture tree). */
export interface OsMetricPaths {
  /** procfs mount (default `/proc`). */
  procRoot?: string;
  /** sysfs mount (default `/sys`). */
  sysRoot?: string;
}

/** Defaults of the OS metric sets. */
export const OS_METRIC_DEFAULTS = Object.freeze({
  /** CPU usage is measured over this interval at each report (not since boot). */
  cpuSampleMs: 1000,
  /** Mount whose file system is reported as disk. */
  diskMount: '/',
});

interface CpuTimes {
  idle: number;
  total: number;
}

/** Aggregate `cpu` line of /proc/stat: idle (+iowait) and total jiffies. @internal */
export function parseProcStat(text: string): CpuTimes {
  const line = text.split('\n').find((l) => /^cpu\s/.test(l));
  if (!line) throw new Error('/proc/stat has no aggregate cpu line');
  // user nice system idle iowait irq softirq steal (guest time is already in user)
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (f.length < 4 || f.some((n) => !Number.isFinite(n))) throw new Error('/proc/stat cpu line is malformed');
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { idle, total: f.reduce((a, b) => a + b, 0) };
}

/** `{name: kB}` of /proc/meminfo. @internal */
export function parseMeminfo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s+(\d+)/.exec(line);
    if (m?.[1] && m[2]) out.set(m[1], Number(m[2]));
  }
  return out;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The CPU metric set: `cpu_usage_percent` measured from /proc/stat over `cpuSampleMs` (two reads,
 * not the average since boot), `load_1min`/`load_5min`/`load_15min` from /proc/loadavg, and
 * `cpu_temp` (°C) from /sys/class/thermal where a zone exists (a `cpu`/`soc`/`x86_pkg_temp` zone,
 * else zone 0).
 *
 * @example
 * ```ts
 * const cpu = cpuMetricSet({ cpuSampleMs: 500 });
 * ```
 */
export function cpuMetricSet(options: OsMetricPaths & { cpuSampleMs?: number } = {}): MetricSet {
  const proc = options.procRoot ?? '/proc';
  const sys = options.sysRoot ?? '/sys';
  const sampleMs = options.cpuSampleMs ?? OS_METRIC_DEFAULTS.cpuSampleMs;
  return {
    name: 'cpu',
    async sample(signal) {
      const before = parseProcStat(await readFile(join(proc, 'stat'), 'utf8'));
      await sleep(sampleMs, signal);
      const after = parseProcStat(await readFile(join(proc, 'stat'), 'utf8'));
      const total = after.total - before.total;
      const busy = total - (after.idle - before.idle);
      const load = (await readFile(join(proc, 'loadavg'), 'utf8')).trim().split(/\s+/).slice(0, 3).map(Number);
      if (load.length < 3 || load.some((n) => !Number.isFinite(n))) throw new Error('/proc/loadavg is malformed');
      const metrics: Record<string, number> = {
        cpu_usage_percent: total > 0 ? round2((busy / total) * 100) : 0,
        load_1min: load[0] ?? 0,
        load_5min: load[1] ?? 0,
        load_15min: load[2] ?? 0,
      };
      const temp = await cpuTemperature(sys);
      if (temp !== undefined) metrics.cpu_temp = temp;
      return metrics;
    },
  };
}

async function cpuTemperature(sys: string): Promise<number | undefined> {
  const dir = join(sys, 'class', 'thermal');
  let zones: string[];
  try {
    zones = (await readdir(dir)).filter((z) => z.startsWith('thermal_zone')).sort();
  } catch {
    return undefined; // no thermal zones on this machine: the metric is left out
  }
  const typed = await Promise.all(zones.map(async (z) => ({ z, type: await readFile(join(dir, z, 'type'), 'utf8').catch(() => '') })));
  const zone = typed.find((t) => /cpu|soc|x86_pkg_temp/i.test(t.type))?.z ?? (zones.includes('thermal_zone0') ? 'thermal_zone0' : undefined);
  if (!zone) return undefined;
  const milli = Number((await readFile(join(dir, zone, 'temp'), 'utf8').catch(() => '')).trim());
  return Number.isFinite(milli) && milli !== 0 ? round2(milli / 1000) : undefined;
}

/**
 * The memory metric set from /proc/meminfo: `mem_size_mb` (MemTotal), `mem_used_mb`
 * (MemTotal − MemAvailable) in MiB, and `mem_used_percent`.
 *
 * @example
 * ```ts
 * const memory = memoryMetricSet();
 * ```
 */
export function memoryMetricSet(options: OsMetricPaths = {}): MetricSet {
  const proc = options.procRoot ?? '/proc';
  return {
    name: 'memory',
    async sample() {
      const info = parseMeminfo(await readFile(join(proc, 'meminfo'), 'utf8'));
      const total = info.get('MemTotal');
      const available = info.get('MemAvailable') ?? (info.get('MemFree') ?? 0) + (info.get('Buffers') ?? 0) + (info.get('Cached') ?? 0);
      if (!total) throw new Error('/proc/meminfo has no MemTotal');
      const used = total - available;
      return { mem_size_mb: Math.round(total / 1024), mem_used_mb: Math.round(used / 1024), mem_used_percent: round2((used / total) * 100) };
    },
  };
}

/**
 * The disk metric set from `statfs(mount)`: `disk_total_kb`, `disk_available_kb` (free for
 * unprivileged users — really available, unlike nerves_hub_link which sends the used KB here) and
 * `disk_used_percentage` (as `df` computes it).
 *
 * @example
 * ```ts
 * const disk = diskMetricSet({ mount: '/data' });
 * ```
 */
export function diskMetricSet(options: { mount?: string } = {}): MetricSet {
  const mount = options.mount ?? OS_METRIC_DEFAULTS.diskMount;
  return {
    name: 'disk',
    async sample() {
      const s = await statfs(mount);
      const kb = (blocks: number): number => Math.floor((blocks * s.bsize) / 1024);
      const used = s.blocks - s.bfree;
      const usable = used + s.bavail;
      return { disk_total_kb: kb(s.blocks), disk_available_kb: kb(s.bavail), disk_used_percentage: usable > 0 ? round2((used / usable) * 100) : 0 };
    },
  };
}
