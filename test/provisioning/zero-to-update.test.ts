/**
 * The README walk "From zero to an updated device", every step a `nerves-hub-link` command, against
 * NervesHubTestServer: keys → firmware signed → signer registered → device certificate →
 * device.json → run → update completed. Registering the signer and the device is done on the
 * server object here (in NervesHub: web UI or API).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateFwupKeyPair } from '../../src/provisioning/index.js';
import { createFirmware } from '../../src/testing/create-firmware.js';
import { NervesHubTestServer } from '../../src/testing/server/nerves-hub-test-server.js';
import { cli, tempDir } from './helpers.js';

let server: NervesHubTestServer;
const cleanups: Array<() => void> = [];
beforeAll(async () => {
  server = await NervesHubTestServer.start();
});
afterAll(async () => server.close());
afterEach(() => cleanups.splice(0).forEach((c) => c()));

describe('README: from zero to an updated device', () => {
  it('keys create → firmware sign → cert signer create → cert device create → device.json → run → update completed', async () => {
    const { dir, cleanup } = tempDir('nhl-walk-');
    cleanups.push(cleanup);
    const step = async (...args: string[]): Promise<string> => {
      const r = await cli(args, { cwd: dir });
      expect(r.code, `nerves-hub-link ${args.join(' ')}\n${r.stderr}`).toBe(0);
      return r.stdout;
    };

    // 1. firmware signing keys
    await step('keys', 'create', 'fwup-key');
    // 2. the firmware as a build makes it (here signed by some other key, which signing replaces)
    writeFileSync(
      join(dir, 'app.fw'),
      await createFirmware({
        resources: { 'rootfs.img': new Uint8Array(256 * 1024).map((_, i) => (i * 31) & 0xff) },
        meta: { product: 'walk', version: '1.1.0', platform: 'host', architecture: 'x86_64' },
        privateKey: generateFwupKeyPair().privateKey,
      }),
    );
    await step('firmware', 'sign', 'app.fw', '--key', 'fwup-key.priv');
    await step('verify', 'app.fw', '--public-key-file', 'fwup-key.pub');
    const metadata = JSON.parse(await step('metadata', 'app.fw', '--public-key-file', 'fwup-key.pub', '--json')) as { uuid: string; product: string; version: string };

    // 3. the signer CA, registered with NervesHub
    await step('cert', 'signer', 'create', 'signer', '--organization', 'walk-org');
    server.registerSignerCa(readFileSync(join(dir, 'signer-cert.pem'), 'utf8'));

    // 4. the device: created in NervesHub, then its certificate
    const id = 'NH-WALK-0001';
    server.registerDevice(id);
    await step('cert', 'device', 'create', '--signer', 'signer', '--identifier', id);

    // 5. device.json
    const publicKey = (await step('keys', 'show', 'fwup-key')).trim();
    writeFileSync(join(dir, 'ca.pem'), server.serverCaPem);
    writeFileSync(join(dir, 'current.fw'), 'the firmware running now');
    writeFileSync(
      join(dir, 'device.json'),
      JSON.stringify(
        {
          url: server.url,
          auth: { type: 'certificate', certFile: `${id}-cert.pem`, keyFile: `${id}-key.pem` },
          serverCaFile: 'ca.pem',
          firmware: { uuid: '00000000-0000-4000-8000-000000000001', product: 'walk', version: '1.0.0', platform: 'host', architecture: 'x86_64' },
          fwupPublicKeys: [publicKey],
          apply: { type: 'file', path: 'current.fw' },
          stateDir: 'state',
          reboot: { type: 'exit', code: 0 },
        },
        null,
        2,
      ),
    );

    // 6. run; NervesHub offers the signed firmware; the device applies it and "reboots" (exit 0)
    const agent = cli(['run', '--config', 'device.json'], { cwd: dir, timeoutMs: 60_000 });
    await server.waitForJoin(id, { timeoutMs: 20_000 });
    const signed = readFileSync(join(dir, 'app.fw'));
    server.pushUpdate(id, { firmwareUrl: server.hostFirmware('app.fw', signed), firmwareMeta: metadata, size: signed.length });
    const result = await agent;
    expect(result.code, result.stderr).toBe(0);
    const statuses = server.frames.filter((f) => f.identifier === id && f.event === 'status_update').map((f) => (f.payload as { status: string }).status);
    expect(statuses).toEqual(['received', 'started', 'completed']);
    expect(readFileSync(join(dir, 'current.fw')).equals(signed)).toBe(true);
    expect(server.upgrades.find((u) => u.identifier === id)).toMatchObject({ status: 101, authMethod: 'certificate' });
  });
});
