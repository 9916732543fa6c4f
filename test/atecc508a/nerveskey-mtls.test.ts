import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { NervesKeyCertificateProvider } from '../../src/atecc508a/index.js';
import { openSslConfigText } from '../../src/pkcs11/openssl-engine.js';
import { NervesHubSocket } from '../../src/socket/nerves-hub-socket.js';
import { NervesHubTestServer, SimulatedAtecc508a, createNervesKeyImage } from '../../src/testing/index.js';
import type { NervesKeyImage } from '../../src/testing/index.js';
import { FAST, FIRMWARE, nextEvent } from '../socket/helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const hasSoftHsm = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v softhsm2-util && command -v pkcs11-tool'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function serverTrusting(image: NervesKeyImage): Promise<NervesHubTestServer> {
  const server = await NervesHubTestServer.start();
  cleanup.push(() => server.close());
  // NervesHub trusts the uploaded signer CA and knows the device by its certificate CN.
  server.registerSignerCa(image.signerCertificatePem);
  server.registerDevice(image.contents.manufacturerSerialNumber);
  return server;
}

describe('NervesKey mTLS with NervesHubTestServer', () => {
  it('software key standing in for slot 0: the certificates rebuilt from the simulated chip authenticate the device', async () => {
    const image = createNervesKeyImage({ manufacturerSerialNumber: 'NK-MTLS-SW' });
    const server = await serverTrusting(image);
    const nervesKey = new NervesKeyCertificateProvider({ transport: new SimulatedAtecc508a(image.simulatorOptions), signing: { uri: 'pkcs11:token=1' } });
    // The only substitution: the engine reference is swapped for the equivalent software key.
    const provider = { getTlsMaterial: async () => ({ certificateChain: (await nervesKey.getTlsMaterial()).certificateChain, key: image.devicePrivateKeyPem }) };
    const socket = new NervesHubSocket({ url: server.url, auth: { type: 'certificate', provider }, firmware: FIRMWARE, tls: { ca: server.serverCaPem }, ...FAST });
    cleanup.push(() => socket.close());
    const connected = nextEvent(socket, 'connected');
    socket.connect();
    await connected;
    expect(server.upgrades.find((u) => u.identifier === 'NK-MTLS-SW')).toMatchObject({ status: 101, authMethod: 'certificate' });
  });

  it.skipIf(!hasSoftHsm)('key in SoftHSM standing in for slot 0, signing through the OpenSSL pkcs11 engine: the device joins', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nhl-nk-hsm-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    execFileSync('mkdir', ['-p', join(dir, 'tokens')]);
    writeFileSync(join(dir, 'softhsm2.conf'), `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
    const env = { ...process.env, SOFTHSM2_CONF: join(dir, 'softhsm2.conf'), NHL_TEST_PIN: '2468' };
    execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'nervesk', '--so-pin', '000000', '--pin', '2468'], { env, stdio: 'ignore' });
    const tool = (args: string[]) => execFileSync('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', 'nervesk', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    tool(['--login', '--pin', 'env:NHL_TEST_PIN', '--keypairgen', '--key-type', 'EC:prime256v1', '--id', '00', '--label', 'slot0']);
    const spki = tool(['--read-object', '--type', 'pubkey', '--label', 'slot0']);
    const devicePublicKeyPem = `-----BEGIN PUBLIC KEY-----\n${spki.toString('base64')}\n-----END PUBLIC KEY-----\n`;

    const image = createNervesKeyImage({ manufacturerSerialNumber: 'NK-MTLS-HSM', devicePublicKeyPem });
    expect(image.devicePrivateKeyPem).toBe(''); // the private key exists only in the token
    const server = await serverTrusting(image);
    // A NervesKey's module needs no PIN; SoftHSM does, so this test's engine config logs in itself.
    const configFile = join(dir, 'openssl.cnf');
    writeFileSync(configFile, `${openSslConfigText({ modulePath: SOFTHSM_MODULE })}PIN = 2468\n`);
    const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');
    const c = image.contents;
    const args = {
      url: server.url,
      serverCaPem: server.serverCaPem,
      uri: 'pkcs11:token=nervesk;object=slot0;type=private',
      modulePath: SOFTHSM_MODULE,
      contents: {
        serialNumber: hexOf(c.serialNumber),
        manufacturerSerialNumber: c.manufacturerSerialNumber,
        devicePublicKey: hexOf(c.devicePublicKey),
        deviceCompressed: hexOf(c.deviceCompressed),
        signerPublicKey: hexOf(c.signerPublicKey),
        signerCompressed: hexOf(c.signerCompressed),
      },
    };
    const child = spawn(process.execPath, [`--openssl-config=${configFile}`, '--import', 'tsx', join(ROOT, 'test/atecc508a/child/nerveskey-device.ts'), JSON.stringify(args)], {
      cwd: ROOT,
      env: { ...env, NHL_TEST_PIN: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect({ code, stdout, stderr: stderr.slice(0, 2000) }).toMatchObject({ code: 0 });
    expect(JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}')).toMatchObject({ ok: true });
    expect(server.upgrades.find((u) => u.identifier === 'NK-MTLS-HSM')).toMatchObject({ status: 101, authMethod: 'certificate' });
  });
});
