// Issue 14, items 1, 3 and 4 end to end: NervesHub (the test server) offers a delta made by the
// server recipe from two firmware built by the real fwup; FwupApplier (a real fwup where one is
// installed, else the recorded-framing stand-in) applies it; a non-delta applier refuses it.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Downloader } from '../../src/download/downloader.js';
import { NervesHubLink } from '../../src/link/nerves-hub-link.js';
import { NervesHubTestServer } from '../../src/testing/server/nerves-hub-test-server.js';
import { FileApplier } from '../../src/update/appliers/file-applier.js';
import { FwupApplier } from '../../src/update/appliers/fwup-applier.js';
import type { FirmwareApplier } from '../../src/update/firmware-applier.js';
import type { UpdateOutcome } from '../../src/update/update-manager-options.js';
import { DELTA_KEY, deltaFixture } from './delta-fixtures.js';

const STANDIN_FWUP = join(import.meta.dirname, '..', 'fixtures', 'bin', 'fwup');
function realFwup(): string | undefined {
  try {
    execFileSync('fwup', ['--version'], { stdio: 'ignore' });
    return 'fwup';
  } catch {
    return undefined;
  }
}
const FWUP = realFwup() ?? STANDIN_FWUP;
const DELTA = readFileSync(deltaFixture('fw/delta-1-to-2.fw'));
const TAMPERED = readFileSync(deltaFixture('fw/delta-1-to-2-tampered.fw'));
const BEFORE = readFileSync(deltaFixture('expected/source-after-v1-complete.img'));
const AFTER = readFileSync(deltaFixture('expected/after-delta-upgrade.img'));
const TARGET_META = { uuid: randomUUID(), product: 'delta-fixture', version: '2.0.2', platform: 'x86_64', architecture: 'x86_64' };
const FAST = { heartbeatIntervalMs: 2000, reconnectBaseMs: 20, reconnectMaxMs: 80, minReconnectDelayMs: 5, rejoinAfterMs: 50, closeTimeoutMs: 200 };

let server: NervesHubTestServer;
const cleanup: Array<() => Promise<void> | void> = [];
beforeAll(async () => {
  server = await NervesHubTestServer.start({ fwupPublicKeys: [DELTA_KEY] });
});
afterAll(async () => server.close());
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function startDevice(makeApplier: (dir: string) => { applier: FirmwareApplier; target: string }) {
  const id = `NH-DELTA-${randomUUID().slice(0, 8)}`;
  const cert = await server.issueDeviceCertificate(id);
  const dir = mkdtempSync(join(tmpdir(), 'nhl-delta-'));
  const { applier, target } = makeApplier(dir);
  const link = new NervesHubLink({
    socket: {
      url: server.url,
      auth: { type: 'certificate', provider: { getTlsMaterial: async () => ({ certificateChain: [cert.certPem], key: cert.keyPem }) } },
      firmware: { uuid: randomUUID(), product: 'delta-fixture', version: '2.0.1', platform: 'x86_64', architecture: 'x86_64' },
      fwupVersion: '1.16.0',
      fwupPublicKeys: [DELTA_KEY],
      tls: { ca: server.serverCaPem },
      ...FAST,
    },
    client: { updateAvailable: () => ({ action: 'apply' }) },
    applier,
    update: { stateDir: join(dir, 'state'), downloader: new Downloader({ ca: server.serverCaPem, retry: { timeBetweenRetriesMs: 5 } }) },
  });
  const outcomes: UpdateOutcome[] = [];
  link.onUpdateOutcome((o) => outcomes.push(o));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanup.push(() => link.stop());
  link.start();
  return { id, link, target, outcomes };
}

function fwupDevice(dir: string) {
  const target = join(dir, 'device.img');
  copyFileSync(deltaFixture('expected/source-after-v1-complete.img'), target);
  return { applier: new FwupApplier({ devicePath: target, task: 'upgrade', fwupPath: FWUP }), target };
}

function offerDelta(id: string, name: string, bytes: Uint8Array) {
  const url = server.hostFirmware(name, bytes);
  server.pushUpdate(id, { firmwareUrl: url, firmwareMeta: TARGET_META, size: bytes.length, checksum: createHash('sha256').update(bytes).digest('hex').toUpperCase() });
}

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function statusesOf(id: string): string[] {
  return server.frames.filter((f) => f.identifier === id && f.event === 'status_update').map((f) => String((f.payload as { status?: unknown }).status));
}

describe(`delta firmware through NervesHub (fwup: ${FWUP === STANDIN_FWUP ? 'recorded-framing stand-in' : 'real'})`, () => {
  it('FwupApplier: the join carries fwup_version, the verifier hands the delta to fwup, the device image becomes what real fwup made, status completed', async () => {
    const { id, target, outcomes } = await startDevice(fwupDevice);
    const params = await server.waitForJoin(id);
    expect(params.fwup_version).toBe('1.16.0');
    offerDelta(id, `${id}.fw`, DELTA);
    await until(() => outcomes.length === 1);
    expect(outcomes[0]).toMatchObject({ status: 'completed' });
    expect(readFileSync(target).equals(AFTER)).toBe(true);
    await until(() => statusesOf(id).includes('completed'));
    expect(statusesOf(id)).toEqual(['received', 'started', 'completed']);
  });

  it('FwupApplier, tampered delta: it passes the header checks (like fwup -V), fwup refuses the patch, status failed, image untouched', async () => {
    const { id, target, outcomes } = await startDevice(fwupDevice);
    await server.waitForJoin(id);
    offerDelta(id, `${id}.fw`, TAMPERED);
    await until(() => outcomes.length === 1);
    expect(outcomes[0]).toMatchObject({ status: 'failed' });
    expect(outcomes[0]!.reason).toContain('xdelta3 error');
    expect(readFileSync(target).equals(BEFORE)).toBe(true);
  });

  it('FileApplier: no fwup_version in the join, and a delta pushed anyway is refused before any byte is written', async () => {
    const { id, target, outcomes } = await startDevice((dir) => {
      const file = join(dir, 'firmware.fw');
      writeFileSync(file, 'previous');
      return { applier: new FileApplier({ path: file }), target: file };
    });
    const params = await server.waitForJoin(id);
    expect(params).not.toHaveProperty('fwup_version');
    offerDelta(id, `${id}.fw`, DELTA);
    await until(() => outcomes.length === 1);
    expect(outcomes[0]).toMatchObject({ status: 'failed' });
    expect(outcomes[0]!.reason).toContain('NH_FW_LENGTH_MISMATCH');
    expect(outcomes[0]!.reason).toContain('delta firmware needs fwup or a delta source');
    expect(readFileSync(target, 'utf8')).toBe('previous');
  });

  it('setApplier(FwupApplier) makes the next join report fwup_version', async () => {
    const { id, link } = await startDevice((dir) => {
      const file = join(dir, 'firmware.fw');
      return { applier: new FileApplier({ path: file }), target: file };
    });
    expect(await server.waitForJoin(id)).not.toHaveProperty('fwup_version');
    link.setApplier(new FwupApplier({ devicePath: '/dev/null', fwupPath: FWUP }));
    link.reconnect();
    expect(await server.waitForJoin(id, { count: 2 })).toMatchObject({ fwup_version: '1.16.0' });
  });
});
