import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runDoctorChecks } from '../../src/cli/doctor-checks.js';
import type { LogLevel } from '../../src/logging/logger.js';
import { NervesHubSocket } from '../../src/socket/nerves-hub-socket.js';
import { NervesHubTestServer } from '../../src/testing/index.js';
import { localRefusal, recordFailure } from '../../src/update/update-memory.js';
import { UpdateJournal, emptyJournalState } from '../../src/update/update-journal.js';
import { UPDATE_MANAGER_DEFAULTS } from '../../src/update/update-manager-options.js';
import { FAST, FIRMWARE, nextEvent } from '../socket/helpers.js';

/**
 * A device clock that is wrong, either way, against a server that enforces NervesHub's NH1 window
 * [server now − 90 s, server now] (future-dated signatures are refused, as plug_crypto ≥ 2.2 does).
 */
let server: NervesHubTestServer;
const dirs: string[] = [];
const sockets: NervesHubSocket[] = [];
beforeAll(async () => {
  server = await NervesHubTestServer.start();
});
afterAll(async () => {
  await server.close();
});
afterEach(async () => {
  for (const s of sockets.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nhl-clock-'));
  dirs.push(dir);
  return dir;
}

/** A registered NH1 device whose clock is `skewMs` off the real one. */
function skewedDevice(skewMs: number): { id: string; key: string; socket: NervesHubSocket; logs: { level: LogLevel; message: string }[] } {
  const id = `NH-CLOCK-${randomUUID().slice(0, 8)}`;
  const key = `nhd_${randomUUID().replace(/-/g, '')}`;
  server.addDeviceKey(key, `secret-${id}`, id);
  const logs: { level: LogLevel; message: string }[] = [];
  const socket = new NervesHubSocket({
    url: server.url,
    auth: { type: 'shared-secret', key, secret: `secret-${id}`, identifier: id },
    firmware: FIRMWARE,
    tls: { ca: server.serverCaPem },
    now: () => Date.now() + skewMs,
    logger: { log: (level, message) => void logs.push({ level, message }) },
    ...FAST,
  });
  sockets.push(socket);
  return { id, key, socket, logs };
}

describe('NH1 shared secret with a wrong device clock', () => {
  it.each([
    { skewS: 100, refusal: 'future_dated', words: 'ahead of' },
    { skewS: 300, refusal: 'future_dated', words: 'ahead of' },
    { skewS: -200, refusal: 'expired', words: 'behind' },
  ])('device clock $skewS s off: first attempt 401 ($refusal) with Date, the next one signs with the server clock and joins', async ({ skewS, refusal, words }) => {
    const { id, key, socket, logs } = skewedDevice(skewS * 1000);
    const connected = nextEvent(socket, 'connected', 10_000);
    socket.connect();
    await connected;

    const attempts = server.upgrades.filter((u) => u.headers['x-nh-key'] === key);
    expect(attempts).toHaveLength(2);
    expect(attempts[0]).toMatchObject({ status: 401, refusal });
    expect(attempts[1]).toMatchObject({ status: 101, authMethod: 'shared-secret' });
    // The accepted signature is dated by the server's clock (within Date's 1 s resolution), not the device's.
    const signedMs = Number(attempts[1]!.headers['x-nh-time']) * 1000;
    expect(signedMs).toBeLessThanOrEqual(Date.now());
    expect(Date.now() - signedMs).toBeLessThan(5_000);
    expect(server.joinCount(id)).toBe(1);
    // One warning names the offset.
    const warning = logs.find((l) => l.level === 'warn' && l.message.includes('device clock is'));
    // Date has 1 s resolution and the answer takes time to arrive: one second more is possible.
    const n = Math.abs(skewS);
    expect(warning?.message).toMatch(new RegExp(`the device clock is (${n}|${n + (skewS > 0 ? 1 : -1)}) s ${words} NervesHub`));
    expect(logs.filter((l) => l.message.includes('device clock is'))).toHaveLength(1);
  });

  it('a device clock in step with the server connects at the first attempt (no 401 needed)', async () => {
    const { key, socket } = skewedDevice(0);
    const connected = nextEvent(socket, 'connected', 10_000);
    socket.connect();
    await connected;
    expect(server.upgrades.filter((u) => u.headers['x-nh-key'] === key).map((u) => u.status)).toEqual([101]);
  });
});

describe('doctor names the clock offset', () => {
  function sharedSecretConfig(): string {
    const id = `NH-CLOCK-DOC-${randomUUID().slice(0, 8)}`;
    const key = `nhd_${randomUUID().replace(/-/g, '')}`;
    server.addDeviceKey(key, 'doctor-secret', id);
    const dir = tempDir();
    writeFileSync(join(dir, 'ca.pem'), server.serverCaPem);
    const config = {
      url: server.url,
      auth: { type: 'shared-secret', key, secret: 'doctor-secret', identifier: id },
      serverCaFile: 'ca.pem',
      firmware: { uuid: randomUUID(), product: 'fixture', version: '0.0.1', platform: 'host', architecture: 'x86_64' },
      fwupPublicKeys: [Buffer.alloc(32, 9).toString('base64')],
      apply: { type: 'file', path: 'target.fw' },
      stateDir: 'state',
    };
    writeFileSync(join(dir, 'device.json'), JSON.stringify(config));
    return join(dir, 'device.json');
  }

  it.each([
    { skewS: 300, words: 'ahead of' },
    { skewS: -200, words: 'behind' },
  ])('device clock $skewS s off: every step passes and the auth step says "the device clock is N s $words NervesHub"', async ({ skewS, words }) => {
    const steps = await runDoctorChecks(sharedSecretConfig(), { join: true, now: () => Date.now() + skewS * 1000 });
    expect(steps.map((s) => [s.name, s.status])).toEqual([
      ['config', 'pass'],
      ['clock', 'pass'],
      ['dns', 'pass'],
      ['tcp', 'pass'],
      ['tls', 'pass'],
      ['auth', 'pass'],
      ['join', 'pass'],
      ['keys', 'pass'],
      ['deltas', 'pass'],
    ]);
    const auth = steps.find((s) => s.name === 'auth')!;
    // Date has 1 s resolution and the answer takes time to arrive: one second more is possible.
    const n = Math.abs(skewS);
    expect(auth.detail).toMatch(new RegExp(`the device clock is (${n}|${n + (skewS > 0 ? 1 : -1)}) s ${words} NervesHub`));
  });
});

describe('failure memory with a clock that was ahead', () => {
  const limits = {
    maxVerificationFailures: UPDATE_MANAGER_DEFAULTS.maxVerificationFailures,
    maxInterruptedAttempts: UPDATE_MANAGER_DEFAULTS.maxInterruptedAttempts,
    failureMemoryMs: UPDATE_MANAGER_DEFAULTS.failureMemoryMs,
  };

  it('a failure record dated a year in the future does not block the firmware (read back from the journal file)', async () => {
    const uuid = randomUUID();
    const future = new Date(Date.now() + 365 * 24 * 3600_000);
    const journal = new UpdateJournal({ stateDir: tempDir() });
    await journal.update((s) => {
      for (let i = 0; i < limits.maxVerificationFailures; i++) recordFailure(s, uuid, 'verification', 'NH_FW_BAD_SIGNATURE', future);
    });
    const stored = await new UpdateJournal({ stateDir: journal.path.slice(0, journal.path.lastIndexOf('/')) }).load();
    expect(stored.failures[0]).toMatchObject({ uuid, count: limits.maxVerificationFailures, at: future.toISOString() });
    expect(localRefusal(stored, uuid, limits, Date.now())).toBeNull();
  });

  it('the same record dated now (or an hour ago) still blocks, and stops blocking after failureMemoryMs', () => {
    const uuid = randomUUID();
    const state = emptyJournalState();
    const at = new Date(Date.now() - 3600_000);
    for (let i = 0; i < limits.maxVerificationFailures; i++) recordFailure(state, uuid, 'verification', 'NH_FW_BAD_SIGNATURE', at);
    expect(localRefusal(state, uuid, limits, Date.now())).toMatch(/failed verification 3 times/);
    expect(localRefusal(state, uuid, limits, at.getTime())).toMatch(/failed verification 3 times/);
    expect(localRefusal(state, uuid, limits, at.getTime() + limits.failureMemoryMs + 1)).toBeNull();
  });

  it('after one more failure with a correct clock, the firmware is blocked again (the record is re-dated)', () => {
    const uuid = randomUUID();
    const state = emptyJournalState();
    const future = new Date(Date.now() + 30 * 24 * 3600_000);
    for (let i = 0; i < limits.maxVerificationFailures; i++) recordFailure(state, uuid, 'verification', 'NH_FW_BAD_SIGNATURE', future);
    expect(localRefusal(state, uuid, limits)).toBeNull();
    recordFailure(state, uuid, 'verification', 'NH_FW_BAD_SIGNATURE');
    expect(localRefusal(state, uuid, limits)).toMatch(/failed verification 4 times/);
  });
});
