import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuMetricSet, memoryMetricSet } from '../../src/extensions/health/os-metrics.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fakeRoot(): string {
  const d = mkdtempSync(join(tmpdir(), 'nhl-proc-'));
  dirs.push(d);
  mkdirSync(join(d, 'proc'));
  mkdirSync(join(d, 'sys'));
  return d;
}

describe('OS metric sets (procfs / sysfs)', () => {
  it('CPU usage is measured over the sampling interval, not since boot; load and cpu_temp are read', async () => {
    const root = fakeRoot();
    // since boot: 10 % busy; during the interval: 50 jiffies busy of 100 → 50 %
    writeFileSync(join(root, 'proc', 'stat'), 'cpu  100 0 0 900 0 0 0 0 0 0\ncpu0 100 0 0 900 0 0 0 0 0 0\n');
    writeFileSync(join(root, 'proc', 'loadavg'), '0.52 0.41 0.30 1/123 4567\n');
    mkdirSync(join(root, 'sys', 'class', 'thermal', 'thermal_zone0'), { recursive: true });
    mkdirSync(join(root, 'sys', 'class', 'thermal', 'thermal_zone1'), { recursive: true });
    writeFileSync(join(root, 'sys', 'class', 'thermal', 'thermal_zone0', 'type'), 'acpitz\n');
    writeFileSync(join(root, 'sys', 'class', 'thermal', 'thermal_zone0', 'temp'), '27800\n');
    writeFileSync(join(root, 'sys', 'class', 'thermal', 'thermal_zone1', 'type'), 'cpu-thermal\n');
    writeFileSync(join(root, 'sys', 'class', 'thermal', 'thermal_zone1', 'temp'), '48312\n');
    const set = cpuMetricSet({ procRoot: join(root, 'proc'), sysRoot: join(root, 'sys'), cpuSampleMs: 80 });
    const sampling = set.sample(new AbortController().signal);
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(join(root, 'proc', 'stat'), 'cpu  130 0 20 940 10 0 0 0 0 0\n');
    expect(await sampling).toEqual({ cpu_usage_percent: 50, load_1min: 0.52, load_5min: 0.41, load_15min: 0.3, cpu_temp: 48.31 });
  });

  it('cpu_temp is left out where /sys/class/thermal has no zone', async () => {
    const root = fakeRoot();
    writeFileSync(join(root, 'proc', 'stat'), 'cpu  1 0 0 9 0 0 0 0\n');
    writeFileSync(join(root, 'proc', 'loadavg'), '0 0 0 1/1 1\n');
    const m = await cpuMetricSet({ procRoot: join(root, 'proc'), sysRoot: join(root, 'sys'), cpuSampleMs: 5 }).sample(new AbortController().signal);
    expect(m).not.toHaveProperty('cpu_temp');
    expect(m.cpu_usage_percent).toBe(0);
  });

  it('memory comes from MemTotal and MemAvailable', async () => {
    const root = fakeRoot();
    writeFileSync(join(root, 'proc', 'meminfo'), 'MemTotal:        2048000 kB\nMemFree:          100000 kB\nMemAvailable:    1536000 kB\n');
    expect(await memoryMetricSet({ procRoot: join(root, 'proc') }).sample(new AbortController().signal)).toEqual({ mem_size_mb: 2000, mem_used_mb: 500, mem_used_percent: 25 });
  });
});
