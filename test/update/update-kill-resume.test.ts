import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Downloader } from '../../src/download/downloader.js';
import { FileApplier } from '../../src/update/appliers/file-applier.js';
import { UpdateManager } from '../../src/update/update-manager.js';
import { cachePaths } from '../../src/update/cached-strategy.js';
import { UpdateJournal } from '../../src/update/update-journal.js';
import { RecordingReporter, fixtureFirmware, fixtureKey, useFirmwareHost } from './helpers/update-harness.js';

const SIGNED = fixtureFirmware('signed.fw');
const CHILD = join(import.meta.dirname, 'fixtures', 'cached-update-child.mts');
const STALL_AT = 2500;

const hosting = useFirmwareHost();
const dirs = hosting.dirs;
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Runs the child (node + tsx loader, no npx wrapper, so SIGKILL hits the updating process itself). */
function startChild(config: Record<string, unknown>): { child: ChildProcess; lines: Record<string, unknown>[]; exited: Promise<NodeJS.Signals | number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(config)], {
    cwd: join(import.meta.dirname, '..', '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const lines: Record<string, unknown>[] = [];
  let buffer = '';
  child.stdout?.on('data', (d: Buffer) => {
    buffer += d.toString('utf8');
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not one of ours
      }
    }
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => void (stderr += d.toString('utf8')));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on('exit', (code, signal) => {
      if (code !== null && code !== 0) console.error(`child exited ${code}: ${stderr}`);
      resolve(signal ?? code);
    }),
  );
  return { child, lines, exited };
}

describe('cached strategy across a killed process', () => {
  it('SIGKILL mid-download, then a new process resumes from the journal with Range: bytes=N- (N > 0), bytes identical', async () => {
    const dir = dirs.make();
    const stateDir = join(dir, 'state');
    const cacheDir = join(dir, 'cache');
    const target = join(dir, 'target.img');
    writeFileSync(target, 'previous\n');
    const name = `kill-${randomUUID()}.fw`;
    const url = hosting.fx.baseUrl + hosting.fx.host.add(name, SIGNED);
    hosting.fx.host.setFaults(name, { stallAfterBytes: STALL_AT }); // the download stays in flight
    const uuid = randomUUID();

    const run1 = startChild({ url, caPem: hosting.fx.caPem, uuid, size: SIGNED.length, publicKey: fixtureKey(), stateDir, cacheDir });
    const partial = cachePaths(cacheDir, uuid).partial;
    await expect
      .poll(() => (existsSync(partial) ? statSync(partial).size : 0), { timeout: 20_000, interval: 20 })
      .toBe(STALL_AT);
    const statuses1 = run1.lines.filter((l) => l.event === 'status').map((l) => (l.status as { status: string }).status);
    expect(statuses1).toEqual(['received', 'started']);
    run1.child.kill('SIGKILL');
    expect(await run1.exited).toBe('SIGKILL');
    expect(run1.lines.some((l) => l.event === 'outcome')).toBe(false);

    // What the killed process left behind: the journal entry and the partial file.
    const journal = await new UpdateJournal({ stateDir }).load();
    expect(journal.pending).toMatchObject({ uuid, strategy: 'cached', attempts: 1, firmwareUrl: url });
    const firstRunRequests = hosting.fx.host.requests.filter((r) => r.path.endsWith(`/${name}`)).length;
    expect(firstRunRequests).toBe(1);
    hosting.fx.host.destroyOpenResponses();
    hosting.fx.host.setFaults(name, undefined);

    // Second run (a fresh manager, as after a restart): resume without a new offer.
    const reporter = new RecordingReporter();
    const manager = new UpdateManager({
      client: { updateAvailable: () => ({ action: 'ignore' }) }, // must not be asked again
      reporter,
      applier: new FileApplier({ path: target }),
      publicKeys: () => [fixtureKey()],
      downloader: new Downloader({ ca: hosting.fx.caPem, retry: { timeBetweenRetriesMs: 5, retryJitterRatio: 0 } }),
      strategy: 'cached',
      stateDir,
      cacheDir,
      progressIntervalMs: 0,
    });
    const outcome = await manager.resumeFromJournal();
    expect(outcome).toEqual({ status: 'completed', uuid });
    const second = hosting.fx.host.requests.filter((r) => r.path.endsWith(`/${name}`)).slice(firstRunRequests);
    expect(second[0]?.headers.range).toBe(`bytes=${STALL_AT}-`);
    expect(second[0]?.status).toBe(206);
    expect(second).toHaveLength(1);
    expect(readFileSync(target).equals(SIGNED)).toBe(true);
    expect(reporter.statuses()).toEqual(['started', 'completed']);
    expect((await new UpdateJournal({ stateDir }).load()).pending).toBeNull();
  });
});
