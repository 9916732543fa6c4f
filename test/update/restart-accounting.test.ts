import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cachePaths } from '../../src/update/cached-strategy.js';
import { UpdateJournal } from '../../src/update/update-journal.js';
import type { JournalPendingUpdate } from '../../src/update/update-journal.js';
import { UPDATE_MANAGER_DEFAULTS } from '../../src/update/update-manager-options.js';
import { localRefusal, pendingFromInfo } from '../../src/update/update-memory.js';
import { fixtureFirmware, fixtureKey, offerFor, useFirmwareHost } from './helpers/update-harness.js';

/**
 * `maxInterruptedAttempts` protects a device from an update that keeps killing its process. A
 * restart that only re-verifies a firmware already complete in the cache is not such an attempt:
 * five kills there used to end in `failed (interrupted by 5 restarts)` and then, at the next
 * offer, `completed` from the same cached file.
 */
const SIGNED = fixtureFirmware('signed.fw');
const CHILD = join(import.meta.dirname, 'fixtures', 'restart-child.mts');
const MAX = UPDATE_MANAGER_DEFAULTS.maxInterruptedAttempts;

const hosting = useFirmwareHost();
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

type Line = Record<string, unknown>;

/** Runs the child until it stalls (then SIGKILLs it) or ends; returns what it printed. */
async function runChild(config: Record<string, unknown>): Promise<{ lines: Line[]; killed: boolean }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(config)], {
    cwd: join(import.meta.dirname, '..', '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const lines: Line[] = [];
  let buffer = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => void (stderr += d.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      buffer += d.toString('utf8');
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = JSON.parse(buffer.slice(0, nl)) as Line;
        buffer = buffer.slice(nl + 1);
        lines.push(line);
        if (line.event === 'stalled') child.kill('SIGKILL');
      }
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve({ lines, killed: true });
      else if (code === 0) resolve({ lines, killed: false });
      else reject(new Error(`child exited ${code}: ${stderr}`));
    });
  });
}

function statuses(lines: Line[]): string[] {
  return lines.filter((l) => l.event === 'status').map((l) => (l.status as { status: string }).status);
}

describe('restart accounting of the cached strategy', () => {
  it(`${MAX + 1} kills while re-verifying the complete cached file are not restarts: the next run completes, never failed`, { timeout: 120_000 }, async () => {
    const dir = hosting.dirs.make();
    const stateDir = join(dir, 'state');
    const cacheDir = join(dir, 'cache');
    const name = `restart-${randomUUID()}.fw`;
    const url = hosting.fx.baseUrl + hosting.fx.host.add(name, SIGNED);
    const uuid = randomUUID();
    const base = { url, caPem: hosting.fx.caPem, uuid, size: SIGNED.length, publicKey: fixtureKey(), stateDir, cacheDir };

    // First run: the verification beside the download stalls, so it is killed in the download stage.
    const first = await runChild({ ...base, mode: 'offer', stallIn: 'verify' });
    expect(first.killed).toBe(true);
    expect(statuses(first.lines)).toEqual(['received', 'started']);
    expect(existsSync(cachePaths(cacheDir, uuid).complete)).toBe(false);
    expect(existsSync(cachePaths(cacheDir, uuid).partial)).toBe(true);
    expect((await new UpdateJournal({ stateDir }).load()).pending).toMatchObject({ uuid, attempts: 1, stage: 'download' });

    // Restarts that are killed while re-verifying, one more than the limit.
    const seen: string[] = [];
    for (let i = 0; i < MAX; i++) {
      const run = await runChild({ ...base, mode: 'resume', stallIn: 'verify' });
      seen.push(...statuses(run.lines));
      expect(run.lines.find((l) => l.event === 'outcome')).toBeUndefined();
      expect(run.killed).toBe(true);
    }
    expect(seen).toEqual([]); // nothing to report: no download, no apply, no failure
    // The first restart finished the download (counted: it was interrupted downloading); none after it counts.
    expect(existsSync(cachePaths(cacheDir, uuid).complete)).toBe(true);
    expect((await new UpdateJournal({ stateDir }).load()).pending).toMatchObject({ uuid, attempts: 2, stage: 'verify' });

    // The next restart is left alone: it verifies, applies and completes.
    const last = await runChild({ ...base, mode: 'resume' });
    expect(last.killed).toBe(false);
    expect(statuses(last.lines)).toEqual(['completed']);
    expect(last.lines.find((l) => l.event === 'outcome')).toMatchObject({ outcome: { status: 'completed', uuid } });
    expect((await new UpdateJournal({ stateDir }).load()).pending).toBeNull();
    // The firmware was downloaded exactly once.
    expect(hosting.fx.host.requests.filter((r) => r.path.endsWith(`/${name}`))).toHaveLength(1);
  });

  it('kills while applying still count: after maxInterruptedAttempts (2 here) of them the update is reported failed', { timeout: 90_000 }, async () => {
    const dir = hosting.dirs.make();
    const stateDir = join(dir, 'state');
    const cacheDir = join(dir, 'cache');
    const url = hosting.fx.baseUrl + hosting.fx.host.add(`apply-${randomUUID()}.fw`, SIGNED);
    const uuid = randomUUID();
    const base = { url, caPem: hosting.fx.caPem, uuid, size: SIGNED.length, publicKey: fixtureKey(), stateDir, cacheDir, maxInterruptedAttempts: 2 };

    expect((await runChild({ ...base, mode: 'offer', stallIn: 'apply' })).killed).toBe(true);
    expect((await new UpdateJournal({ stateDir }).load()).pending).toMatchObject({ attempts: 1, stage: 'apply' });
    expect((await runChild({ ...base, mode: 'resume', stallIn: 'apply' })).killed).toBe(true);
    expect((await new UpdateJournal({ stateDir }).load()).pending).toMatchObject({ attempts: 2, stage: 'apply' });

    const last = await runChild({ ...base, mode: 'resume', stallIn: 'apply' });
    expect(last.killed).toBe(false);
    expect(statuses(last.lines)).toEqual(['failed']);
    expect(JSON.stringify(last.lines)).toContain('interrupted by 2 restarts');
  });

  it('journal arithmetic: download and apply interruptions count, verify interruptions do not; old journals without a stage count', () => {
    const info = offerFor('https://firmware.test/a.fw', SIGNED);
    const limits = { ...UPDATE_MANAGER_DEFAULTS };
    let p: JournalPendingUpdate = pendingFromInfo(info, 'cached', null);
    expect(p).toMatchObject({ attempts: 1, stage: 'download' });
    p = pendingFromInfo(info, 'cached', { ...p, stage: 'verify' });
    expect(p.attempts).toBe(1);
    p = pendingFromInfo(info, 'cached', { ...p, stage: 'apply' });
    expect(p.attempts).toBe(2);
    p = pendingFromInfo(info, 'cached', p); // interrupted while downloading
    expect(p.attempts).toBe(3);
    const legacy = { ...p };
    delete legacy.stage;
    expect(pendingFromInfo(info, 'cached', legacy).attempts).toBe(4);
    expect(localRefusal({ version: 1, pending: { ...p, attempts: MAX }, failures: [] }, info.firmwareMeta.uuid, limits)).toMatch(/interrupted by 5 restarts/);
  });
});
