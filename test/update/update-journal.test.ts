import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { JOURNAL_DEFAULTS, UpdateJournal, parseJournalState } from '../../src/update/update-journal.js';
import type { JournalPendingUpdate, JournalState } from '../../src/update/update-journal.js';
import { localRefusal, recordFailure, pendingFromInfo, infoFromPending } from '../../src/update/update-memory.js';
import type { UpdateInfo } from '../../src/protocol/update-info.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'nhl-journal-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const pending: JournalPendingUpdate = {
  uuid: 'u-1',
  firmwareUrl: 'https://fw.example/f.fw?X-Amz-Signature=secret',
  firmwareMeta: { uuid: 'u-1', version: '1.2.3' },
  size: 4418,
  strategy: 'cached',
  startedAt: '2026-01-01T00:00:00.000Z',
  attempts: 1,
};

describe('UpdateJournal', () => {
  it('starts empty when there is no file, then persists atomically with mode 0600', async () => {
    const dir = join(tempDir(), 'state');
    const journal = new UpdateJournal({ stateDir: dir });
    expect(await journal.load()).toEqual({ version: 1, pending: null, failures: [] });
    await journal.update((s) => void (s.pending = pending));
    expect(statSync(journal.path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual([JOURNAL_DEFAULTS.fileName]); // no temp file left behind
    const reread = await new UpdateJournal({ stateDir: dir }).load();
    expect(reread.pending).toEqual(pending);
  });

  it('reads a corrupt file as empty and replaces it on the next write', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, JOURNAL_DEFAULTS.fileName), '{"version":1,"pending":');
    const records: string[] = [];
    const journal = new UpdateJournal({ stateDir: dir, logger: { log: (_l, m) => void records.push(m) } });
    expect(await journal.load()).toEqual({ version: 1, pending: null, failures: [] });
    expect(records.some((m) => m.includes('corrupt'))).toBe(true);
    await journal.update((s) => recordFailure(s, 'u-2', 'download', 'Download failed : x'));
    expect(JSON.parse(readFileSync(journal.path, 'utf8')).failures[0].uuid).toBe('u-2');
  });

  it('serialises concurrent updates (none is lost)', async () => {
    const journal = new UpdateJournal({ stateDir: tempDir() });
    await Promise.all(Array.from({ length: 10 }, (_, i) => journal.update((s) => recordFailure(s, `u-${i}`, 'apply', 'x'))));
    const reread = await new UpdateJournal({ stateDir: dirname(journal.path) }).load();
    expect(reread.failures.map((f) => f.uuid).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `u-${i}`).sort());
  });

  it('bounds the failure list', async () => {
    const journal = new UpdateJournal({ stateDir: tempDir() });
    for (let i = 0; i < JOURNAL_DEFAULTS.maxFailures + 5; i++) await journal.update((s) => recordFailure(s, `u-${i}`, 'apply', 'x'));
    const s = await journal.load();
    expect(s.failures).toHaveLength(JOURNAL_DEFAULTS.maxFailures);
    expect(s.failures.at(-1)?.uuid).toBe(`u-${JOURNAL_DEFAULTS.maxFailures + 4}`);
  });

  it('drops malformed entries individually', () => {
    const s = parseJournalState(
      JSON.stringify({
        version: 1,
        pending: { ...pending, firmwareMeta: { uuid: 'other' } },
        failures: [{ uuid: 'a', count: 1, kind: 'verification', reason: 'r', at: 't' }, { uuid: 'b', count: 'x' }, null],
      }),
    );
    expect(s?.pending).toBeNull();
    expect(s?.failures.map((f) => f.uuid)).toEqual(['a']);
    expect(parseJournalState('{"version":2}')).toBeNull();
    expect(parseJournalState('nope')).toBeNull();
  });
});

describe('update memory', () => {
  const limits = { maxVerificationFailures: 3, maxInterruptedAttempts: 5, failureMemoryMs: 86_400_000 };

  it('refuses a UUID after N consecutive verification failures within the memory window', () => {
    const state: JournalState = { version: 1, pending: null, failures: [] };
    const now = Date.parse('2026-01-02T00:00:00Z');
    recordFailure(state, 'u', 'verification', 'bad sig', new Date(now - 1000));
    recordFailure(state, 'u', 'verification', 'bad sig', new Date(now - 1000));
    expect(localRefusal(state, 'u', limits, now)).toBeNull();
    recordFailure(state, 'u', 'verification', 'bad sig', new Date(now - 1000));
    expect(localRefusal(state, 'u', limits, now)).toMatch(/^Update failed : firmware u failed verification 3 times/);
    expect(localRefusal(state, 'other', limits, now)).toBeNull();
    expect(localRefusal(state, 'u', limits, now + 86_400_000)).toBeNull(); // forgotten after the window
    recordFailure(state, 'u', 'download', 'cut');
    expect(state.failures.find((f) => f.uuid === 'u')?.count).toBe(1); // another kind restarts the count
  });

  it('refuses an update interrupted by too many restarts', () => {
    const info: UpdateInfo = { firmwareUrl: new URL(pending.firmwareUrl), firmwareMeta: { uuid: 'u-1' }, size: 10, raw: {} };
    let p = pendingFromInfo(info, 'cached', null);
    for (let i = 0; i < 4; i++) p = pendingFromInfo(info, 'cached', p);
    expect(p.attempts).toBe(5);
    expect(localRefusal({ version: 1, pending: p, failures: [] }, 'u-1', limits)).toMatch(/interrupted by 5 restarts/);
    expect(infoFromPending(p).firmwareUrl.toString()).toBe(pending.firmwareUrl);
    expect(infoFromPending(p).size).toBe(10);
  });
});
