import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { NervesHubLink } from '../../src/link/nerves-hub-link.js';
import type { NervesHubLinkOptions } from '../../src/link/nerves-hub-link.js';
import type { Logger, LogLevel } from '../../src/logging/logger.js';
import { NervesHubTestServer } from '../../src/testing/server/nerves-hub-test-server.js';
import { createFirmware } from '../../src/testing/create-firmware.js';
import { FileApplier } from '../../src/update/appliers/file-applier.js';
import { Downloader } from '../../src/download/downloader.js';
import type { UpdateOutcome } from '../../src/update/update-manager-options.js';

// ARCHITECTURE decision 8: configured keys are the trust anchor. K1 is configured; K2 is the key a
// compromised server would like the device to trust.
const KEYS = join(import.meta.dirname, '..', 'fixtures', 'fwup', 'keys');
const K1 = readFileSync(join(KEYS, 'fwup-key.pub'), 'utf8').trim();
const K1_PRIVATE = readFileSync(join(KEYS, 'fwup-key.priv'), 'utf8').trim();
const K2 = readFileSync(join(KEYS, 'other-key.pub'), 'utf8').trim();
const K2_PRIVATE = readFileSync(join(KEYS, 'other-key.priv'), 'utf8').trim();
const FAST = { heartbeatIntervalMs: 2000, reconnectBaseMs: 20, reconnectMaxMs: 80, minReconnectDelayMs: 5, rejoinAfterMs: 50, closeTimeoutMs: 200 };
const PREVIOUS = Buffer.from('previous firmware: must survive a refused update');

let server: NervesHubTestServer;
const cleanup: Array<() => Promise<void> | void> = [];
beforeEach(async () => {
  server = await NervesHubTestServer.start({ fwupPublicKeys: [K1] });
  cleanup.push(() => server.close());
});
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

interface Device {
  id: string;
  link: NervesHubLink;
  target: string;
  outcomes: UpdateOutcome[];
  logs: Array<{ level: LogLevel; message: string }>;
}

async function startDevice(socket: Partial<NervesHubLinkOptions['socket']>): Promise<Device> {
  const id = `NH-PIN-${randomUUID().slice(0, 8)}`;
  const cert = await server.issueDeviceCertificate(id);
  const dir = mkdtempSync(join(tmpdir(), 'nhl-pin-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const target = join(dir, 'firmware.fw');
  writeFileSync(target, PREVIOUS);
  const logs: Device['logs'] = [];
  const logger: Logger = { log: (level, message) => void logs.push({ level, message }) };
  const link = new NervesHubLink({
    socket: {
      url: server.url,
      auth: { type: 'certificate', provider: { getTlsMaterial: async () => ({ certificateChain: [cert.certPem], key: cert.keyPem }) } },
      firmware: { uuid: randomUUID(), product: 'pinning', version: '1.0.0', platform: 'host', architecture: 'x86_64' },
      tls: { ca: server.serverCaPem },
      ...FAST,
      ...socket,
    },
    client: { updateAvailable: () => ({ action: 'apply' }) },
    applier: new FileApplier({ path: target }),
    update: { stateDir: join(dir, 'state'), downloader: new Downloader({ ca: server.serverCaPem, retry: { timeBetweenRetriesMs: 5 } }) },
    logger,
  });
  const outcomes: UpdateOutcome[] = [];
  link.onUpdateOutcome((o) => outcomes.push(o));
  cleanup.push(() => link.stop());
  link.start();
  return { id, link, target, outcomes, logs };
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Hosts a firmware signed by `privateKey` and offers it to the device. */
async function offerSignedBy(device: Device, privateKey: string): Promise<{ uuid: string; bytes: Uint8Array }> {
  const uuid = randomUUID();
  const bytes = await createFirmware({ resources: { 'rootfs.img': new Uint8Array(8192).fill(7) }, meta: { product: 'pinning', version: '2.0.0', misc: uuid }, privateKey });
  const url = server.hostFirmware(`${device.id}-${uuid}.fw`, bytes);
  server.pushUpdate(device.id, { firmwareUrl: url, firmwareMeta: { uuid, product: 'pinning', version: '2.0.0' } });
  return { uuid, bytes };
}

function statusesOf(id: string): Array<Record<string, unknown>> {
  return server.frames.filter((f) => f.identifier === id && f.event === 'status_update').map((f) => f.payload as Record<string, unknown>);
}

function unsolicitedWarnings(device: Device): string[] {
  return device.logs.filter((l) => l.level === 'warn' && l.message.includes('did not ask for')).map((l) => l.message);
}

describe('key pinning: configured keys are the trust anchor', () => {
  it('drops an unsolicited fwup_public_keys push and refuses firmware signed by the pushed key; the target is untouched', async () => {
    const device = await startDevice({ fwupPublicKeys: [K1] });
    const params = await server.waitForJoin(device.id);
    expect(params.fwup_public_keys).toBeUndefined(); // keys configured: the join did not ask
    await until(() => device.link.socket.joined);

    // a compromised server swaps the keys, many times over, then offers firmware signed by its key
    for (let i = 0; i < 20; i++) server.push(device.id, 'fwup_public_keys', { keys: [K2] });
    await offerSignedBy(device, K2_PRIVATE);
    await until(() => device.outcomes.length === 1);

    expect(device.link.socket.fwupPublicKeys).toEqual([K1]);
    expect(device.outcomes[0]).toMatchObject({ status: 'failed' });
    expect(device.outcomes[0]?.reason).toMatch(/NH_FW_BAD_SIGNATURE/);
    const failed = statusesOf(device.id).find((s) => s.status === 'failed');
    expect(String(failed?.reason)).toMatch(/signature/i);
    expect(readFileSync(device.target).equals(PREVIOUS)).toBe(true);
    // one warning for the connection, not one per push; no key material in it
    const warnings = unsolicitedWarnings(device);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).not.toContain(K2);
    expect(server.connectedDevices()).toContain(device.id);
  });

  it('still applies firmware signed by the configured key after an unsolicited push', async () => {
    const device = await startDevice({ fwupPublicKeys: [K1] });
    await server.waitForJoin(device.id);
    await until(() => device.link.socket.joined);
    server.push(device.id, 'fwup_public_keys', { keys: [K2] });
    const { bytes } = await offerSignedBy(device, K1_PRIVATE);
    await until(() => device.outcomes.length === 1);
    expect(device.outcomes[0]).toMatchObject({ status: 'completed' });
    expect(readFileSync(device.target).equals(bytes)).toBe(true);
  });

  it('honours the keys the server sends in answer to a join that asked (no keys configured)', async () => {
    server.setOrgFwupPublicKeys([K2]);
    const device = await startDevice({ fwupPublicKeys: [] });
    const params = await server.waitForJoin(device.id);
    expect(params.fwup_public_keys).toBe('on_connect');
    await until(() => device.link.socket.fwupPublicKeys[0] === K2);
    const { bytes } = await offerSignedBy(device, K2_PRIVATE);
    await until(() => device.outcomes.length === 1);
    expect(device.outcomes[0]).toMatchObject({ status: 'completed' });
    expect(readFileSync(device.target).equals(bytes)).toBe(true);
    expect(unsolicitedWarnings(device)).toEqual([]);
  });

  it('honours the server keys over configured ones when the app opted in with requestFwupPublicKeys', async () => {
    server.setOrgFwupPublicKeys([K2]);
    const device = await startDevice({ fwupPublicKeys: [K1], requestFwupPublicKeys: true });
    const params = await server.waitForJoin(device.id);
    expect(params.fwup_public_keys).toBe('on_connect');
    await until(() => device.link.socket.fwupPublicKeys[0] === K2);
    const { bytes } = await offerSignedBy(device, K2_PRIVATE);
    await until(() => device.outcomes.length === 1);
    expect(device.outcomes[0]).toMatchObject({ status: 'completed' });
    expect(readFileSync(device.target).equals(bytes)).toBe(true);
  });

  it('takes one answer per join that asked: a second push on the same join is dropped, the next join asks again', async () => {
    const device = await startDevice({ fwupPublicKeys: [] });
    await server.waitForJoin(device.id);
    await until(() => device.link.socket.fwupPublicKeys[0] === K1); // the on_connect answer

    server.push(device.id, 'fwup_public_keys', { keys: [K2] });
    await offerSignedBy(device, K2_PRIVATE);
    await until(() => device.outcomes.length === 1);
    expect(device.outcomes[0]).toMatchObject({ status: 'failed' });
    expect(device.link.socket.fwupPublicKeys).toEqual([K1]);
    expect(readFileSync(device.target).equals(PREVIOUS)).toBe(true);
    expect(unsolicitedWarnings(device)).toHaveLength(1);

    // the org rotates its key; the next join asks again and takes the new answer
    server.setOrgFwupPublicKeys([K2]);
    server.dropConnections(device.id);
    await server.waitForJoin(device.id, { count: 2 });
    await until(() => device.link.socket.fwupPublicKeys[0] === K2);
  });

  it('pins archive keys the same way, and honours them when requestArchivePublicKeys is set', async () => {
    server.setOrgArchivePublicKeys([K2]);
    const pinned = await startDevice({ fwupPublicKeys: [K1] });
    await server.waitForJoin(pinned.id);
    await until(() => pinned.link.socket.joined);
    expect(pinned.link.socket.archivePublicKeys).toEqual([K1]); // defaults to the fwup keys
    let identified = false;
    pinned.link.socket.on('identify', () => void (identified = true));
    server.push(pinned.id, 'archive_public_keys', { keys: [K2] });
    server.push(pinned.id, 'fwup_public_keys', { keys: [K2] });
    server.push(pinned.id, 'identify', {}); // frames are handled in order: the pushes before it are done
    await until(() => identified);
    expect(unsolicitedWarnings(pinned)).toHaveLength(1);
    expect(pinned.link.socket.archivePublicKeys).toEqual([K1]);
    expect(pinned.link.socket.fwupPublicKeys).toEqual([K1]);

    const opted = await startDevice({ fwupPublicKeys: [K1], requestArchivePublicKeys: true });
    const params = await server.waitForJoin(opted.id);
    expect(params.archive_public_keys).toBe('on_connect');
    expect(params.fwup_public_keys).toBeUndefined();
    await until(() => opted.link.socket.archivePublicKeys[0] === K2);
    expect(opted.link.socket.fwupPublicKeys).toEqual([K1]);
  });

  it('ignores a key request smuggled in through extraJoinParams', async () => {
    const device = await startDevice({ fwupPublicKeys: [K1], extraJoinParams: () => ({ fwup_public_keys: 'on_connect', custom: 'kept' }) });
    const params = await server.waitForJoin(device.id);
    expect(params.custom).toBe('kept');
    expect(params.fwup_public_keys).toBeUndefined();
  });
});
