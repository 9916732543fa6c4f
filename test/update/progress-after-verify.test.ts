import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Downloader } from '../../src/download/downloader.js';
import { NervesHubSocket } from '../../src/socket/nerves-hub-socket.js';
import { createFirmware } from '../../src/testing/create-firmware.js';
import { NervesHubTestServer } from '../../src/testing/server/nerves-hub-test-server.js';
import type { DeviceFrame } from '../../src/testing/server/types.js';
import { FileApplier } from '../../src/update/appliers/file-applier.js';
import { UpdateManager } from '../../src/update/update-manager.js';
import { FWUP_FIXTURES, fixtureKey, tempDirs } from './helpers/update-harness.js';

/**
 * `fwup_progress` means "this firmware is being installed": nothing of it may reach the server
 * before the firmware's signature is proven. A wrongly signed firmware used to report
 * `updating N` (download progress) before `failed`.
 */
const PREVIOUS = Buffer.from('previous\n');
const FAST_SOCKET = { heartbeatIntervalMs: 2000, reconnectBaseMs: 20, reconnectMaxMs: 80, minReconnectDelayMs: 5, rejoinAfterMs: 50, closeTimeoutMs: 200, connectTimeoutMs: 3000 };

let server: NervesHubTestServer;
let trusted: Uint8Array;
let untrusted: Uint8Array;
const dirs = tempDirs();
const cleanups: (() => Promise<void>)[] = [];

function privateKey(name: 'fwup-key' | 'other-key'): string {
  return readFileSync(join(FWUP_FIXTURES, 'keys', `${name}.priv`), 'utf8');
}

beforeAll(async () => {
  server = await NervesHubTestServer.start();
  // 4 MiB of incompressible, stored data: the download arrives in many chunks.
  const rootfs = randomBytes(4 * 1024 * 1024);
  const firmware = (key: string): Promise<Uint8Array> =>
    createFirmware({ resources: { 'rootfs.img': rootfs }, meta: { product: 'fixture', version: '0.2.0' }, privateKey: key, compression: 0 });
  [trusted, untrusted] = await Promise.all([firmware(privateKey('fwup-key')), firmware(privateKey('other-key'))]);
});
afterAll(async () => {
  await server.close();
});
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  server.firmware.destroyOpenResponses();
  dirs.cleanup();
});

/** A joined device (NH1) whose manager trusts fwup-key only, writing to a FileApplier target. */
async function device(): Promise<{ id: string; target: string }> {
  const id = `NH-PROG-${randomUUID().slice(0, 8)}`;
  server.addDeviceKey(`nhd_${id}`, `secret-${id}`, id);
  const target = join(dirs.make(), 'target.img');
  writeFileSync(target, PREVIOUS);
  const socket = new NervesHubSocket({
    url: server.url,
    auth: { type: 'shared-secret', key: `nhd_${id}`, secret: `secret-${id}`, identifier: id },
    firmware: { uuid: randomUUID(), product: 'fixture', version: '0.0.1', platform: 'host', architecture: 'x86_64' },
    tls: { ca: server.serverCaPem },
    ...FAST_SOCKET,
  });
  const manager = new UpdateManager({
    client: { updateAvailable: () => ({ action: 'apply' }) },
    reporter: socket,
    applier: new FileApplier({ path: target }),
    publicKeys: () => [fixtureKey('fwup-key')],
    downloader: new Downloader({ ca: server.serverCaPem, retry: { timeBetweenRetriesMs: 5, retryJitterRatio: 0 } }),
    strategy: 'streaming',
    progressIntervalMs: 0, // every progress value is sent: nothing hides behind the throttle
  });
  socket.on('update', (info) => void manager.handleUpdate(info));
  cleanups.push(async () => {
    await manager.close();
    await socket.close();
  });
  socket.connect();
  await server.waitForJoin(id);
  return { id, target };
}

async function offer(id: string, bytes: Uint8Array, status: 'failed' | 'completed'): Promise<DeviceFrame[]> {
  const from = server.frames.length;
  const name = `${id}-${randomUUID()}.fw`;
  const url = server.hostFirmware(name, bytes);
  // The first response ends inside meta.conf (as a slow link or a small first read would): the
  // downloader resumes, and the bytes before the signature check already count as received.
  server.firmware.setFaults(name, { cutAfterBytes: 200, times: 1 });
  server.pushUpdate(id, { firmwareUrl: url, firmwareMeta: { uuid: randomUUID(), product: 'fixture', version: '0.2.0' }, size: bytes.length });
  await server.waitForFrame((f) => f.identifier === id && f.event === 'status_update' && (f.payload as { status?: string }).status === status, { timeoutMs: 15_000 });
  return server.frames.slice(from).filter((f) => f.identifier === id && (f.event === 'status_update' || f.event === 'fwup_progress'));
}

describe('streaming update: fwup_progress only after the signature is verified', () => {
  it('firmware signed by an untrusted key → no fwup_progress at all, then failed; target untouched', async () => {
    const d = await device();
    const frames = await offer(d.id, untrusted, 'failed');
    expect(server.firmware.requests.filter((r) => r.path.includes(d.id)).map((r) => r.headers.range)).toEqual([undefined, 'bytes=200-']);
    expect(frames.filter((f) => f.event === 'fwup_progress')).toEqual([]);
    // `started` again at the resumed request (nerves_hub_link reports every downloader connect).
    expect(frames.map((f) => (f.payload as { status?: string }).status)).toEqual(['received', 'started', 'started', 'failed']);
    expect(JSON.stringify(frames.at(-1)!.payload)).toMatch(/NH_FW_BAD_SIGNATURE|signature/i);
    expect(readFileSync(d.target).equals(PREVIOUS)).toBe(true);
  });

  it('firmware signed by the trusted key → progress is reported (rising, ending with updating 100) before completed', async () => {
    const d = await device();
    const frames = await offer(d.id, trusted, 'completed');
    const progress = frames.filter((f) => f.event === 'fwup_progress').map((f) => f.payload as { stage: string; value: number });
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.every((p) => p.stage === 'updating')).toBe(true);
    expect(progress.map((p) => p.value)).toEqual([...progress.map((p) => p.value)].sort((a, b) => a - b));
    expect(progress.at(-1)).toEqual({ stage: 'updating', value: 100 });
    // The first progress frame comes after started and is not an early 0/1 from before verification.
    const events = frames.map((f) => (f.event === 'fwup_progress' ? 'progress' : (f.payload as { status: string }).status));
    expect(events.slice(0, 2)).toEqual(['received', 'started']);
    expect(events.at(-1)).toBe('completed');
    expect(Buffer.from(readFileSync(d.target)).equals(Buffer.from(trusted))).toBe(true);
  });
});
