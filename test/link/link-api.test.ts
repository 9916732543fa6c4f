import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { NervesHubLink } from '../../src/link/nerves-hub-link.js';
import type { NervesHubLinkOptions } from '../../src/link/nerves-hub-link.js';
import type { LinkStatus } from '../../src/link/link-status.js';
import { NervesHubTestServer } from '../../src/testing/server/nerves-hub-test-server.js';
import { FileApplier } from '../../src/update/appliers/file-applier.js';
import { Downloader } from '../../src/download/downloader.js';
import type { FirmwareApplier } from '../../src/update/firmware-applier.js';
import type { UpdateOutcome } from '../../src/update/update-manager-options.js';
import type { UpdateClient } from '../../src/update/update-client.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'fwup');
const KEY = readFileSync(join(FIXTURES, 'keys', 'fwup-key.pub'), 'utf8').trim();
const SIGNED = readFileSync(join(FIXTURES, 'fw', 'signed.fw'));
const OTHER_KEY_FW = readFileSync(join(FIXTURES, 'fw', 'signed-other-key.fw'));
const FAST = { heartbeatIntervalMs: 2000, reconnectBaseMs: 20, reconnectMaxMs: 80, minReconnectDelayMs: 5, rejoinAfterMs: 50, closeTimeoutMs: 200 };

let server: NervesHubTestServer;
const cleanup: Array<() => Promise<void> | void> = [];
beforeAll(async () => {
  server = await NervesHubTestServer.start({ fwupPublicKeys: [KEY] });
});
afterAll(async () => server.close());
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function device(client: UpdateClient, update: NervesHubLinkOptions['update'] = {}, options: { start?: boolean } = {}) {
  const id = `NH-API-${randomUUID().slice(0, 8)}`;
  const cert = await server.issueDeviceCertificate(id);
  const dir = mkdtempSync(join(tmpdir(), 'nhl-api-'));
  const target = join(dir, 'firmware.fw');
  writeFileSync(target, 'previous');
  const link = new NervesHubLink({
    socket: {
      url: server.url,
      auth: { type: 'certificate', provider: { getTlsMaterial: async () => ({ certificateChain: [cert.certPem], key: cert.keyPem }) } },
      firmware: { uuid: randomUUID(), product: 'fixture', version: '0.0.1', platform: 'host', architecture: 'x86_64' },
      fwupVersion: '1.16.0',
      fwupPublicKeys: [KEY],
      tls: { ca: server.serverCaPem },
      ...FAST,
    },
    client,
    applier: new FileApplier({ path: target }),
    update: { stateDir: join(dir, 'state'), downloader: new Downloader({ ca: server.serverCaPem, retry: { timeBetweenRetriesMs: 5 } }), ...update },
  });
  const outcomes: UpdateOutcome[] = [];
  const statuses: LinkStatus[] = [];
  link.onUpdateOutcome((o) => outcomes.push(o));
  link.onStatusChange((s) => statuses.push(s));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanup.push(() => link.stop());
  if (options.start !== false) link.start();
  return { id, link, dir, target, outcomes, statuses };
}

/** A FileApplier that waits for `release()` before writing. */
function gatedApplier(path: string): { applier: FirmwareApplier; entered: () => boolean; release: () => void } {
  let entered = false;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const inner = new FileApplier({ path });
  return {
    applier: {
      async apply(source, ctx) {
        entered = true;
        await gate;
        await inner.apply(source, ctx);
      },
    },
    entered: () => entered,
    release,
  };
}

const offer = (id: string, bytes: Uint8Array) => ({
  firmwareUrl: server.hostFirmware(`${id}-${randomUUID().slice(0, 6)}.fw`, bytes),
  firmwareMeta: { uuid: randomUUID(), product: 'fixture', version: '0.2.0' },
});

describe('NervesHubLink honours update.callbackTimeoutMs', () => {
  it('a hanging firmwareValidated hook delays the first connect by callbackTimeoutMs, not the 10 s default', async () => {
    const { id } = await device({ updateAvailable: () => ({ action: 'ignore' }), firmwareValidated: () => new Promise<boolean>(() => {}) }, { callbackTimeoutMs: 300 });
    const params = await server.waitForJoin(id, { timeoutMs: 4000 });
    expect(params.meta).toMatchObject({ firmware_validated: true }); // a timed-out hook counts as validated
  });
});

describe('NervesHubLink.status and onStatusChange', () => {
  it('reports joined, then updating with the current firmware, then idle; lastError holds what failed an update', async () => {
    const { id, link, statuses, outcomes, dir } = await device({ updateAvailable: () => ({ action: 'apply' }) });
    await server.waitForJoin(id);
    await expect.poll(() => link.status).toMatchObject({ connected: true, joined: true, updating: false });
    expect(statuses.at(-1)).toMatchObject({ joined: true, updating: false });
    expect(link.status.lastError).toBeUndefined();

    const gated = gatedApplier(join(dir, 'a.fw'));
    link.setApplier(gated.applier);
    const first = offer(id, SIGNED);
    await server.pushUpdate(id, first);
    await expect.poll(gated.entered).toBe(true);
    expect(link.status).toMatchObject({ joined: true, updating: true, currentUpdate: { uuid: first.firmwareMeta.uuid, version: '0.2.0' } });
    expect(statuses.at(-1)).toMatchObject({ updating: true, currentUpdate: { uuid: first.firmwareMeta.uuid } });
    gated.release();
    await expect.poll(() => outcomes.length).toBe(1);
    expect(outcomes[0]?.status).toBe('completed');
    expect(link.status.updating).toBe(false);
    expect(link.status.currentUpdate).toBeUndefined();
    expect(statuses.at(-1)).toMatchObject({ updating: false });

    await server.pushUpdate(id, offer(id, OTHER_KEY_FW)); // signed with a key the device does not trust
    await expect.poll(() => outcomes.length).toBe(2);
    expect(outcomes[1]?.status).toBe('failed');
    expect(link.status.lastError).toMatchObject({ code: 'NH_FW_BAD_SIGNATURE' });
    expect(statuses.at(-1)?.lastError).toBe(link.status.lastError);
  });
});

describe('NervesHubLink.reconnect', () => {
  it('drops the connection and joins again at once, and does nothing before start()', async () => {
    const idle = await device({ updateAvailable: () => ({ action: 'ignore' }) }, {}, { start: false });
    expect(() => idle.link.reconnect()).not.toThrow();
    expect(idle.link.status).toMatchObject({ connected: false, joined: false });

    const { id, link, statuses } = await device({ updateAvailable: () => ({ action: 'ignore' }) }, {});
    await server.waitForJoin(id);
    await expect.poll(() => link.status.joined).toBe(true);
    const upgradesBefore = server.upgrades.length;
    const seen = statuses.length;
    const started = Date.now();
    link.reconnect();
    await server.waitForJoin(id, { count: 2, timeoutMs: 3000 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(server.upgrades.length).toBeGreaterThan(upgradesBefore); // a new WebSocket, not just a rejoin
    await expect.poll(() => link.status.joined).toBe(true);
    const after = statuses.slice(seen);
    expect(after.some((s) => !s.joined)).toBe(true);
    expect(after.at(-1)).toMatchObject({ connected: true, joined: true });
    expect(server.connectedDevices().filter((d) => d === id)).toHaveLength(1);
  });
});

describe('NervesHubLink.setStrategy / setApplier', () => {
  it('are refused with NH_UPDATE_BUSY while an update runs and take effect for the next one', async () => {
    const { id, link, dir, outcomes } = await device({ updateAvailable: () => ({ action: 'apply' }) });
    await server.waitForJoin(id);
    const gated = gatedApplier(join(dir, 'first.fw'));
    link.setApplier(gated.applier);
    await server.pushUpdate(id, offer(id, SIGNED));
    await expect.poll(gated.entered).toBe(true);
    const second = join(dir, 'second.fw');
    expect(() => link.setApplier(new FileApplier({ path: second }))).toThrow(expect.objectContaining({ code: 'NH_UPDATE_BUSY' }));
    expect(() => link.setStrategy('cached')).toThrow(expect.objectContaining({ code: 'NH_UPDATE_BUSY' }));
    gated.release();
    await expect.poll(() => outcomes.length).toBe(1);
    expect(readFileSync(join(dir, 'first.fw')).equals(SIGNED)).toBe(true);

    link.setApplier(new FileApplier({ path: second }));
    link.setStrategy('cached');
    const framesBefore = server.frames.length;
    await server.pushUpdate(id, offer(id, SIGNED));
    await expect.poll(() => outcomes.length, { timeout: 10_000 }).toBe(2);
    expect(outcomes[1]?.status).toBe('completed');
    expect(readFileSync(second).equals(SIGNED)).toBe(true);
    // the cached strategy reports its download as its own stage
    const stages = server.frames.slice(framesBefore).filter((f) => f.identifier === id && f.event === 'fwup_progress').map((f) => (f.payload as { stage: string }).stage);
    expect(stages).toContain('downloading');
  });
});
