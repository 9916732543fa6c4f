/**
 * Tests of the kiosk app (app.ts) against a real local NervesHub: real TLS, a real device
 * certificate, real signed firmware. Run: `npx tsx --test examples/test-your-device-app/app.test.ts`
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { NervesHubTestServer, createFirmware, createFwupKeyPair } from 'nerves-hub-link/testing';
import type { CreatedFirmware } from 'nerves-hub-link/testing';
import { SHOW_RESCHEDULE_MINUTES, startKiosk } from './app.js';
import type { Kiosk } from './app.js';

// An fwup signing key pair for this test run, in fwup's formats (fwup-key.pub / fwup-key.priv).
const fwupKeys = createFwupKeyPair();

let server: NervesHubTestServer;
let dir: string;
let firmware: CreatedFirmware;

before(async () => {
  // The org's fwup key is sent to devices when they join, as NervesHub does.
  server = await NervesHubTestServer.start({ fwupPublicKeys: [fwupKeys.publicKey] });
  dir = await mkdtemp(join(tmpdir(), 'kiosk-test-'));
  firmware = await createFirmware({
    resources: { 'kiosk.img': new TextEncoder().encode('kiosk 2.0 image') },
    meta: { product: 'kiosk', version: '2.0.0' },
    privateKey: fwupKeys.privateKey,
  });
});

after(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

/** Starts a kiosk with its own certificate and target file; returns what the test needs. */
async function kiosk(isPlaying: () => boolean): Promise<{ app: Kiosk; id: string; target: string }> {
  const id = `kiosk-${randomUUID().slice(0, 8)}`;
  const cert = await server.issueDeviceCertificate(id);
  const target = join(dir, `${id}.fw`);
  await writeFile(target, 'running firmware');
  const app = startKiosk({
    url: server.url,
    auth: { type: 'certificate', provider: { getTlsMaterial: async () => ({ certificateChain: [cert.certPem], key: cert.keyPem }) } },
    firmware: { uuid: randomUUID(), product: 'kiosk', version: '1.0.0', platform: 'host', architecture: 'x86_64' },
    targetFile: target,
    serverCa: server.serverCaPem,
    isPlaying,
  });
  // The server sends the org's fwup keys right after the join; an update pushed before they
  // arrive would be refused ("no public keys"), so wait for them like a real device does.
  const keysArrived = new Promise((resolve) => app.link.socket.once('fwupPublicKeys', resolve));
  await server.waitForJoin(id);
  await keysArrived;
  return { app, id, target };
}

/** The `status_update` payloads the server received from `id`, once `last` has arrived. */
async function statusesUntil(id: string, last: string): Promise<Array<Record<string, unknown>>> {
  await server.waitForFrame((f) => f.identifier === id && f.event === 'status_update' && (f.payload as { status?: unknown }).status === last);
  return server.frames.filter((f) => f.identifier === id && f.event === 'status_update').map((f) => f.payload as Record<string, unknown>);
}

test('an idle kiosk installs the update and asks for a reboot', async () => {
  const { app, id, target } = await kiosk(() => false);
  try {
    const outcome = app.nextUpdateOutcome();
    server.pushUpdate(id, { firmwareUrl: server.hostFirmware(`${id}.fw`, firmware), firmwareMeta: { uuid: firmware.uuid, product: 'kiosk', version: '2.0.0' } });
    assert.equal((await outcome).status, 'completed');
    const statuses = await statusesUntil(id, 'completed');
    assert.deepEqual(statuses.map((s) => s.status), ['received', 'started', 'completed']);
    assert.ok(Buffer.from(await readFile(target)).equals(Buffer.from(firmware)), 'the target holds the new firmware');
    assert.equal(app.rebootRequested, true);
  } finally {
    await app.stop();
  }
});

test('a kiosk playing a show reschedules and keeps its firmware', async () => {
  const { app, id, target } = await kiosk(() => true);
  try {
    const outcome = app.nextUpdateOutcome();
    server.pushUpdate(id, { firmwareUrl: server.hostFirmware(`${id}.fw`, firmware), firmwareMeta: { uuid: firmware.uuid, product: 'kiosk', version: '2.0.0' } });
    assert.equal((await outcome).status, 'rescheduled');
    const statuses = await statusesUntil(id, 'rescheduled');
    assert.deepEqual(statuses, [{ status: 'received' }, { status: 'rescheduled', delay_for: SHOW_RESCHEDULE_MINUTES, reason: 'a show is playing' }]);
    assert.equal(await readFile(target, 'utf8'), 'running firmware');
    assert.equal(app.rebootRequested, false);
  } finally {
    await app.stop();
  }
});

test('a corrupted download is reported failed and nothing is written', async () => {
  const { app, id, target } = await kiosk(() => false);
  try {
    const name = `${id}-corrupt.fw`;
    const url = server.hostFirmware(name, firmware);
    server.firmware.setFaults(name, { corruptByteAt: firmware.length - 40 });
    const outcome = app.nextUpdateOutcome();
    server.pushUpdate(id, { firmwareUrl: url, firmwareMeta: { uuid: firmware.uuid, product: 'kiosk', version: '2.0.0' } });
    assert.equal((await outcome).status, 'failed');
    const statuses = await statusesUntil(id, 'failed');
    assert.equal(statuses.at(-1)?.status, 'failed');
    assert.equal(await readFile(target, 'utf8'), 'running firmware');
    assert.equal(app.rebootRequested, false);
  } finally {
    await app.stop();
  }
});
