import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { NervesHubSocket } from '../../src/socket/nerves-hub-socket.js';
import { NervesHubTestServer } from '../../src/testing/server/nerves-hub-test-server.js';
import type { DeviceFrame } from '../../src/testing/server/types.js';
import { Downloader } from '../../src/download/downloader.js';
import { FileApplier } from '../../src/update/appliers/file-applier.js';
import { UpdateManager } from '../../src/update/update-manager.js';
import type { BuiltInStrategyName as UpdateStrategyName } from '../../src/update/update-strategy.js';
import type { UpdateDecision } from '../../src/update/update-client.js';
import type { RetryOptions } from '../../src/download/retry-options.js';
import { fixtureFirmware, fixtureKey, tempDirs } from './helpers/update-harness.js';

const SIGNED = fixtureFirmware('signed.fw');
const PREVIOUS = Buffer.from('previous\n');
const FAST_SOCKET = {
  heartbeatIntervalMs: 2000,
  reconnectBaseMs: 20,
  reconnectMaxMs: 80,
  minReconnectDelayMs: 5,
  rejoinAfterMs: 50,
  closeTimeoutMs: 200,
  connectTimeoutMs: 3000,
};

let server: NervesHubTestServer;
const dirs = tempDirs();
const cleanups: (() => Promise<void>)[] = [];
beforeAll(async () => {
  server = await NervesHubTestServer.start({ fwupPublicKeys: [fixtureKey()] });
});
afterAll(async () => {
  await server.close();
});
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  server.firmware.destroyOpenResponses();
  dirs.cleanup();
});

interface Device {
  id: string;
  socket: NervesHubSocket;
  manager: UpdateManager;
  target: string;
  reboots: number;
}

/** A device as an app would wire it: socket → manager, manager reports through the socket. */
async function device(
  options: { keys?: 'from-server' | 'none'; strategy?: UpdateStrategyName; retry?: Partial<RetryOptions>; decide?: () => UpdateDecision } = {},
): Promise<Device> {
  const id = `NH-UPD-${randomUUID().slice(0, 8)}`;
  const secret = `secret-${id}`;
  server.addDeviceKey(`nhd_${id}`, secret, id);
  const dir = dirs.make();
  const target = join(dir, 'target.img');
  writeFileSync(target, PREVIOUS);
  const holder: { manager?: UpdateManager } = {}; // the socket asks the manager on every join
  const socket = new NervesHubSocket({
    url: server.url,
    auth: { type: 'shared-secret', key: `nhd_${id}`, secret, identifier: id },
    firmware: { uuid: randomUUID(), product: 'fixture', version: '0.0.1', platform: 'host', architecture: 'x86_64' },
    fwupVersion: '1.16.0',
    tls: { ca: server.serverCaPem },
    currentlyDownloadingUuid: () => holder.manager?.currentlyDownloadingUuid ?? null,
    ...(options.keys === 'none' ? { requestFwupPublicKeys: false } : { requestFwupPublicKeys: true }),
    ...FAST_SOCKET,
  });
  const d: Device = { id, socket, manager: undefined as never, target, reboots: 0 };
  const manager = new UpdateManager({
    client: { updateAvailable: options.decide ?? (() => ({ action: 'apply' })), reboot: () => void (d.reboots += 1) },
    reporter: socket,
    applier: new FileApplier({ path: target }),
    publicKeys: () => socket.fwupPublicKeys,
    downloader: new Downloader({ ca: server.serverCaPem, retry: { timeBetweenRetriesMs: 5, retryJitterRatio: 0, ...options.retry } }),
    strategy: options.strategy ?? 'streaming',
    stateDir: join(dir, 'state'),
    networkInterface: () => 'eth0',
    progressIntervalMs: 0,
  });
  d.manager = manager;
  holder.manager = manager;
  socket.on('update', (info) => void manager.handleUpdate(info));
  cleanups.push(async () => {
    await manager.close();
    await socket.close();
  });
  socket.connect();
  await server.waitForJoin(id);
  return d;
}

function deviceFrames(id: string, from = 0): DeviceFrame[] {
  return server.frames.slice(from).filter((f) => f.identifier === id && (f.event === 'status_update' || f.event === 'fwup_progress'));
}

function waitForStatus(id: string, status: string, timeoutMs = 10_000): Promise<DeviceFrame> {
  return server.waitForFrame(
    (f) => f.identifier === id && f.event === 'status_update' && (f.payload as { status?: string }).status === status,
    { timeoutMs },
  );
}

describe('end to end: NervesHubTestServer → NervesHubSocket → UpdateManager → FileApplier', () => {
  it.each(['streaming', 'cached'] as const)('%s: update → received, started, progress, updating 100, completed on the wire; reboot; bytes identical', async (strategy) => {
    const d = await device({ strategy });
    const keysFrom = server.frames.length;
    await expect.poll(() => d.socket.fwupPublicKeys.length).toBeGreaterThan(0); // keys came from the server
    const url = server.hostFirmware(`${d.id}.fw`, SIGNED);
    const uuid = randomUUID();
    server.pushUpdate(d.id, { firmwareUrl: url, firmwareMeta: { uuid, product: 'fixture', version: '0.1.0' }, size: SIGNED.length });
    await waitForStatus(d.id, 'completed');
    const frames = deviceFrames(d.id, keysFrom);
    const statuses = frames.filter((f) => f.event === 'status_update').map((f) => f.payload);
    expect(statuses).toEqual([{ status: 'received' }, { status: 'started', downloader_network_interface: 'eth0' }, { status: 'completed' }]);
    const last2 = frames.slice(-2).map((f) => [f.event, f.payload]);
    expect(last2).toEqual([
      ['fwup_progress', { stage: 'updating', value: 100 }],
      ['status_update', { status: 'completed' }],
    ]);
    if (strategy === 'cached') expect(frames.some((f) => f.event === 'fwup_progress' && (f.payload as { stage: string }).stage === 'downloading')).toBe(true);
    expect(readFileSync(d.target).equals(SIGNED)).toBe(true);
    await expect.poll(() => d.reboots).toBe(1);
  });

  it('no keys configured or received: failed "Refusing unverified firmware" on the wire, nothing downloaded', async () => {
    const keyless = await NervesHubTestServer.start();
    cleanups.push(() => keyless.close());
    const id = `NH-NOKEY-${randomUUID().slice(0, 8)}`;
    keyless.addDeviceKey(`nhd_${id}`, 's', id);
    const target = join(dirs.make(), 'target.img');
    writeFileSync(target, PREVIOUS);
    const socket = new NervesHubSocket({
      url: keyless.url,
      auth: { type: 'shared-secret', key: `nhd_${id}`, secret: 's', identifier: id },
      firmware: { uuid: randomUUID() },
      tls: { ca: keyless.serverCaPem },
      ...FAST_SOCKET,
    });
    let asked = 0;
    const manager = new UpdateManager({
      client: { updateAvailable: () => ((asked += 1), { action: 'apply' }) },
      reporter: socket,
      applier: new FileApplier({ path: target }),
      publicKeys: () => socket.fwupPublicKeys,
      downloader: new Downloader({ ca: keyless.serverCaPem }),
    });
    socket.on('update', (info) => void manager.handleUpdate(info));
    cleanups.push(() => socket.close());
    socket.connect();
    await keyless.waitForJoin(id);
    const url = keyless.hostFirmware('x.fw', SIGNED);
    keyless.pushUpdate(id, { firmwareUrl: url, firmwareMeta: { uuid: randomUUID() }, size: SIGNED.length });
    const frame = await keyless.waitForFrame((f) => f.identifier === id && f.event === 'status_update');
    expect(frame.payload).toEqual({ status: 'failed', reason: 'Refusing unverified firmware : no public keys available' });
    expect(asked).toBe(0);
    expect(keyless.firmware.requests).toHaveLength(0);
    expect(readFileSync(target).equals(PREVIOUS)).toBe(true);
  });

  it('the update survives a socket reconnect: rejoin carries currently_downloading_uuid, completed arrives on the new connection', async () => {
    const d = await device({ retry: { idleTimeoutMs: 1500 } });
    await expect.poll(() => d.socket.fwupPublicKeys.length).toBeGreaterThan(0);
    const name = `${d.id}-reconnect.fw`;
    const url = server.hostFirmware(name, SIGNED);
    server.firmware.setFaults(name, { stallAfterBytes: 1000, times: 1 });
    const uuid = randomUUID();
    server.pushUpdate(d.id, { firmwareUrl: url, firmwareMeta: { uuid }, size: SIGNED.length });
    await waitForStatus(d.id, 'started');
    await expect.poll(() => d.manager.currentlyDownloadingUuid).toBe(uuid);
    const joinsBefore = server.joinCount(d.id);
    server.dropConnections(d.id);
    const params = await server.waitForJoin(d.id, { count: joinsBefore + 1, timeoutMs: 5000 });
    expect(params.currently_downloading_uuid).toBe(uuid);
    const completed = await waitForStatus(d.id, 'completed');
    expect(completed.connectionId).toBeGreaterThan(deviceFrames(d.id)[0]!.connectionId);
    expect(readFileSync(d.target).equals(SIGNED)).toBe(true);
    expect(server.firmware.requests.filter((r) => r.path.endsWith(`/${name}`)).map((r) => r.headers.range)).toEqual([undefined, 'bytes=1000-']);
  });

  it.each([
    [{ action: 'ignore' }, { status: 'ignored', reason: '' }],
    [{ action: 'reschedule', delayMinutes: 2, reason: 'busy' }, { status: 'rescheduled', delay_for: 5, reason: 'busy' }],
  ] as const)('decision %j → exactly %j on the wire', async (decision, payload) => {
    const d = await device({ decide: () => decision });
    await expect.poll(() => d.socket.fwupPublicKeys.length).toBeGreaterThan(0);
    const from = server.frames.length;
    const url = server.hostFirmware(`${d.id}-decide.fw`, SIGNED);
    server.pushUpdate(d.id, { firmwareUrl: url, firmwareMeta: { uuid: randomUUID() }, size: SIGNED.length });
    await waitForStatus(d.id, payload.status);
    expect(deviceFrames(d.id, from).map((f) => [f.event, f.payload])).toEqual([
      ['status_update', { status: 'received' }],
      ['status_update', payload],
    ]);
    expect(server.firmware.requests.filter((r) => r.path.endsWith(`/${d.id}-decide.fw`))).toEqual([]);
  });

  it('a corrupted download fails with the verification reason on the wire, nothing applied', async () => {
    const d = await device();
    await expect.poll(() => d.socket.fwupPublicKeys.length).toBeGreaterThan(0);
    const name = `${d.id}-corrupt.fw`;
    const url = server.hostFirmware(name, SIGNED);
    server.firmware.setFaults(name, { corruptByteAt: 2477 });
    server.pushUpdate(d.id, { firmwareUrl: url, firmwareMeta: { uuid: randomUUID() }, size: SIGNED.length });
    const failed = await waitForStatus(d.id, 'failed');
    expect((failed.payload as { reason: string }).reason).toMatch(/^Update failed : firmware verification failed \(NH_FW_/);
    expect(readFileSync(d.target).equals(PREVIOUS)).toBe(true);
    expect(d.reboots).toBe(0);
  });
});
