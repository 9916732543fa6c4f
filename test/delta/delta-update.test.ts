// End to end: NervesHubTestServer offers an update whose URL serves a NervesHub delta .fw; the
// device (NervesHubSocket → UpdateManager → FileApplier) rebuilds it against the firmware it has,
// verifies the full archive, and applies it — or refuses a tampered one with the target untouched.
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DeltaSource } from '../../src/delta/delta-source.js';
import { rawRangeSource } from '../../src/delta/archive-delta-source.js';
import { Downloader } from '../../src/download/downloader.js';
import { FirmwareVerifier } from '../../src/firmware/firmware-verifier.js';
import { NervesHubSocket } from '../../src/socket/nerves-hub-socket.js';
import { createFirmware } from '../../src/testing/create-firmware.js';
import { NervesHubTestServer } from '../../src/testing/server/nerves-hub-test-server.js';
import { FileApplier } from '../../src/update/appliers/file-applier.js';
import { UpdateManager } from '../../src/update/update-manager.js';
import type { UpdateOutcome } from '../../src/update/update-manager-options.js';
import { KEY_A, PRIVATE_KEY_A } from '../firmware/fwup-fixtures.js';
import { HAS_XDELTA3, deltaFixture, makeDeltaFirmware, pseudoRandomBytes, tempDir, zipEntries } from './helpers.js';

const DELTA_KEY = readFileSync(deltaFixture('keys/delta-key.pub'), 'utf8').trim();
const FIXTURE_DELTA = readFileSync(deltaFixture('fw/delta-1-to-2.fw'));
const FIXTURE_TAMPERED = readFileSync(deltaFixture('fw/delta-1-to-2-tampered.fw'));
const FIXTURE_V1 = readFileSync(deltaFixture('fw/v1.fw'));
const FIXTURE_V2 = readFileSync(deltaFixture('fw/v2.fw'));

let server: NervesHubTestServer;
const cleanups: Array<() => Promise<void> | void> = [];
beforeAll(async () => {
  server = await NervesHubTestServer.start({ fwupPublicKeys: [KEY_A.trim(), DELTA_KEY] });
});
afterAll(async () => {
  await server.close();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  server.firmware.destroyOpenResponses();
});

interface Device {
  id: string;
  target: string;
  outcomes: UpdateOutcome[];
}

/** A device running `installed` (a .fw at `target`), wired as an app would. */
async function device(installed: Uint8Array, options: { strategy?: 'streaming' | 'cached'; deltaSource?: DeltaSource; useAsDeltaSource?: boolean } = {}): Promise<Device> {
  const id = `NH-DELTA-${randomUUID().slice(0, 8)}`;
  const secret = `secret-${id}`;
  server.addDeviceKey(`nhd_${id}`, secret, id);
  const t = tempDir();
  cleanups.push(t.remove);
  const target = join(t.dir, 'current.fw');
  writeFileSync(target, installed);
  const holder: { manager?: UpdateManager } = {};
  const socket = new NervesHubSocket({
    url: server.url,
    auth: { type: 'shared-secret', key: `nhd_${id}`, secret, identifier: id },
    firmware: { uuid: randomUUID(), product: 'delta', version: '1.0.0', platform: 'host', architecture: 'x86_64' },
    tls: { ca: server.serverCaPem },
    currentlyDownloadingUuid: () => holder.manager?.currentlyDownloadingUuid ?? null,
    heartbeatIntervalMs: 2000,
    reconnectBaseMs: 20,
    reconnectMaxMs: 80,
  });
  const d: Device = { id, target, outcomes: [] };
  const manager = new UpdateManager({
    client: { updateAvailable: () => ({ action: 'apply' }) },
    reporter: socket,
    applier: new FileApplier({ path: target, ...(options.useAsDeltaSource === undefined ? {} : { useAsDeltaSource: options.useAsDeltaSource }) }),
    publicKeys: () => socket.fwupPublicKeys,
    downloader: new Downloader({ ca: server.serverCaPem }),
    strategy: options.strategy ?? 'streaming',
    stateDir: join(t.dir, 'state'),
    progressIntervalMs: 0,
    ...(options.deltaSource ? { deltaSource: options.deltaSource } : {}),
  });
  holder.manager = manager;
  socket.on('update', (info) => void manager.handleUpdate(info).then((outcome) => d.outcomes.push(outcome)));
  cleanups.push(async () => {
    await manager.close();
    await socket.close();
  });
  socket.connect();
  await server.waitForJoin(id);
  await expect.poll(() => socket.fwupPublicKeys.length).toBeGreaterThan(0);
  return d;
}

function offer(d: Device, body: Uint8Array): void {
  const url = server.hostFirmware(`${d.id}-${randomUUID().slice(0, 6)}.fw`, body);
  server.pushUpdate(d.id, { firmwareUrl: url, firmwareMeta: { uuid: randomUUID(), product: 'delta', version: '2.0.0' }, size: body.length });
}

async function outcome(d: Device): Promise<UpdateOutcome> {
  await expect.poll(() => d.outcomes.length, { timeout: 15_000 }).toBe(1);
  return d.outcomes[0]!;
}

async function resources(archive: Uint8Array): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await zipEntries(archive)) if (e.name.startsWith('data/') && e.name !== 'data/') out[e.name] = Buffer.from(e.data).toString('hex');
  return out;
}

describe('delta update end to end (FileApplier: the file it applied last is the delta source)', () => {
  it.each(['streaming', 'cached'] as const)('%s: the fwup-delta fixture → completed; the target is the full v2 firmware, verified', async (strategy) => {
    const d = await device(FIXTURE_V1, { strategy });
    offer(d, FIXTURE_DELTA);
    expect(await outcome(d)).toMatchObject({ status: 'completed' });
    const written = readFileSync(d.target);
    expect(await resources(written)).toEqual(await resources(FIXTURE_V2));
    expect(await new FirmwareVerifier({ publicKeys: [DELTA_KEY] }).verify(written)).toMatchObject({ valid: true });
  });

  it.each(['streaming', 'cached'] as const)('%s: the tampered delta → failed on the wire, target untouched', async (strategy) => {
    const d = await device(FIXTURE_V1, { strategy });
    offer(d, FIXTURE_TAMPERED);
    const result = await outcome(d);
    expect(result).toMatchObject({ status: 'failed' });
    expect(result.reason).toMatch(/NH_(DELTA|FW)_/);
    const failed = await server.waitForFrame((f) => f.identifier === d.id && f.event === 'status_update' && (f.payload as { status?: string }).status === 'failed');
    expect((failed.payload as { reason?: string }).reason).toMatch(/^Update failed : /);
    expect(readFileSync(d.target).equals(FIXTURE_V1)).toBe(true);
  });

  it('a device running other firmware than the delta was made from → failed (NH_DELTA_WRONG_SOURCE), target untouched', async () => {
    const other = await createFirmware({ resources: { 'rootfs.bin': pseudoRandomBytes(69_632, 51), 'boot.cfg': pseudoRandomBytes(50, 52) }, meta: { product: 'delta', version: '0.9.0' }, privateKey: PRIVATE_KEY_A });
    const d = await device(other);
    offer(d, FIXTURE_DELTA);
    expect(await outcome(d)).toMatchObject({ status: 'failed', reason: expect.stringContaining('NH_DELTA_WRONG_SOURCE') });
    expect(readFileSync(d.target).equals(other)).toBe(true);
  });

  it('a full firmware still arrives byte for byte', async () => {
    const d = await device(FIXTURE_V1);
    offer(d, FIXTURE_V2);
    expect(await outcome(d)).toMatchObject({ status: 'completed' });
    expect(readFileSync(d.target).equals(FIXTURE_V2)).toBe(true);
  });

  it('an explicit deltaSource (the raw ranges of the device image, fwup-style) wins over the applier', async () => {
    const image = deltaFixture('expected/source-after-v1-complete.img');
    const ranges: Record<string, [number, number]> = { 'rootfs.bin': [256, 136], 'boot.cfg': [64, 1] };
    const deltaSource: DeltaSource = ({ resource }) => (ranges[resource] ? rawRangeSource(image, ranges[resource][0] * 512, ranges[resource][1] * 512) : undefined);
    const d = await device(new Uint8Array(0), { deltaSource, useAsDeltaSource: false });
    offer(d, FIXTURE_DELTA);
    expect(await outcome(d)).toMatchObject({ status: 'completed' });
    expect(await resources(readFileSync(d.target))).toEqual(await resources(FIXTURE_V2));
  });

  it('without a delta source (useAsDeltaSource: false), a delta is refused by the verifier and nothing is written', async () => {
    const d = await device(FIXTURE_V1, { useAsDeltaSource: false });
    offer(d, FIXTURE_DELTA);
    expect(await outcome(d)).toMatchObject({ status: 'failed', reason: expect.stringContaining('NH_FW_LENGTH_MISMATCH') });
    expect(readFileSync(d.target).equals(FIXTURE_V1)).toBe(true);
  });
});

describe.skipIf(!HAS_XDELTA3)('delta update end to end: createFirmware images made into a delta as NervesHub does', () => {
  it('completed; the target holds the new firmware', async () => {
    const rootfs1 = pseudoRandomBytes(600_000, 61);
    const rootfs2 = new Uint8Array(Buffer.concat([rootfs1.subarray(0, 300_000), pseudoRandomBytes(60_000, 62), rootfs1.subarray(300_000)]));
    const v1 = await createFirmware({ resources: { 'rootfs.img': rootfs1, 'boot.cfg': new TextEncoder().encode('same\n') }, meta: { product: 'delta', version: '1.0.0' }, privateKey: PRIVATE_KEY_A });
    const v2 = await createFirmware({ resources: { 'rootfs.img': rootfs2, 'boot.cfg': new TextEncoder().encode('same\n') }, meta: { product: 'delta', version: '2.0.0' }, privateKey: PRIVATE_KEY_A });
    const delta = await makeDeltaFirmware(v1, v2);
    const d = await device(v1);
    offer(d, delta);
    expect(await outcome(d)).toMatchObject({ status: 'completed' });
    expect(await resources(readFileSync(d.target))).toEqual(await resources(v2));
  });
});
