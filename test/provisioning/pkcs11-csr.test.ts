/**
 * `cert device csr` for a key that lives in a real SoftHSM2 token: the request is signed through
 * OpenSSL's pkcs11 engine, certified by our signer, and the device then joins with the token key.
 */
import { createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPkcs11DeviceCsr, createSignerCaFiles } from '../../src/provisioning/index.js';
import { commonNameOf, readCertificate } from '../../src/provisioning/x509/certificate.js';
import { NervesHubTestServer } from '../../src/testing/server/nerves-hub-test-server.js';
import { runCli, writeAgentDir } from '../cli/agent-process.js';
import { SOFTHSM_MODULE, createTestToken, softHsmMissing, type TestToken } from '../pkcs11/softhsm.js';
import { cli } from './helpers.js';

const missing = softHsmMissing();
if (missing) console.warn(`skipping the SoftHSM2 CSR tests: ${missing}`);

const spki = (pem: string): Buffer => createPublicKey(pem).export({ format: 'der', type: 'spki' });

describe.skipIf(missing !== undefined)('certificate requests for a key in a PKCS#11 token (SoftHSM2)', () => {
  let server: NervesHubTestServer;
  const cleanup: Array<() => void> = [];
  beforeAll(async () => {
    server = await NervesHubTestServer.start();
  });
  afterAll(async () => server.close());
  afterEach(() => {
    for (const c of cleanup.splice(0).reverse()) c();
  });
  async function token(): Promise<TestToken> {
    const t = await createTestToken();
    cleanup.push(() => t.cleanup());
    return t;
  }
  const uriOf = (t: TestToken, object = t.keyLabel): string => `pkcs11:token=${t.label};object=${object};type=private`;

  it('cert device csr → cert device create --csr → the device joins with the token key (nerves-hub-link run)', async () => {
    const t = await token();
    const env = { ...t.env, DEVICE_PIN: t.pin };
    const id = 'NH-HSM-0001';
    const csr = await cli(['cert', 'device', 'csr', '--identifier', id, '--uri', uriOf(t), '--module', SOFTHSM_MODULE, '--pin-env', 'DEVICE_PIN'], { cwd: t.dir, env });
    expect(csr.code, csr.stderr).toBe(0);
    expect(csr.stdout + csr.stderr).not.toContain(t.pin);
    expect(readFileSync(join(t.dir, `${id}.csr`), 'utf8')).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----/);
    // openssl agrees the request is self-signed by the token's key
    const check = await cli(['cert', 'signer', 'create', 'signer'], { cwd: t.dir });
    expect(check.code).toBe(0);
    const issued = await cli(['cert', 'device', 'create', '--signer', 'signer', '--identifier', id, '--csr', `${id}.csr`], { cwd: t.dir });
    expect(issued.code, issued.stderr).toBe(0);
    expect(existsSync(join(t.dir, `${id}-key.pem`))).toBe(false);
    const cert = new X509Certificate(readFileSync(join(t.dir, `${id}-cert.pem`)));
    expect(cert.subject).toBe(`CN=${id}`);
    expect(spki(cert.publicKey.export({ format: 'pem', type: 'spki' }).toString()).equals(spki(t.publicKeyPem))).toBe(true);

    server.registerSignerCa(readFileSync(join(t.dir, 'signer-cert.pem'), 'utf8'));
    server.registerDevice(id);
    const { configPath } = writeAgentDir(
      { serverCaPem: server.serverCaPem },
      {
        url: server.url,
        auth: { type: 'pkcs11', uri: uriOf(t), pinEnv: 'DEVICE_PIN', certFile: `${id}-cert.pem`, modulePath: SOFTHSM_MODULE },
        firmware: { uuid: '7b0c4e1a-1111-4222-8333-944455556666', product: 'hsm', version: '0.0.1', platform: 'host', architecture: 'x86_64' },
        fwupPublicKeys: [readFileSync(join(import.meta.dirname, '..', 'fixtures', 'fwup', 'keys', 'fwup-key.pub'), 'utf8')],
        apply: { type: 'file', path: 'target.fw' },
      },
      { dir: t.dir },
    );
    const agent = runCli(['run', '--config', configPath], { env, timeoutMs: 40_000, cleanup });
    await server.waitForJoin(id, { timeoutMs: 20_000 });
    agent.child.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
    expect(server.upgrades.find((u) => u.identifier === id)).toMatchObject({ status: 101, authMethod: 'certificate' });
  });

  it('the library: identifiers with /, + and = survive; a wrong PIN and a missing key give NH_PKCS11_* codes without the PIN', async () => {
    const t = await token();
    process.env.NHL_PROV_TEST_PIN = t.pin;
    const previous = process.env.SOFTHSM2_CONF;
    process.env.SOFTHSM2_CONF = t.env.SOFTHSM2_CONF;
    try {
      const base = { modulePath: SOFTHSM_MODULE, pinEnv: 'NHL_PROV_TEST_PIN' };
      const odd = 'NH/1+x=y\\z é';
      const made = await createPkcs11DeviceCsr({ ...base, identifier: odd, organization: 'acme', uri: uriOf(t) });
      expect(spki(made.publicKeyPem).equals(spki(t.publicKeyPem))).toBe(true);
      const signer = (await createSignerCaFiles(join(t.dir, 's'))).certificate;
      const { createDeviceCertificate } = await import('../../src/provisioning/index.js');
      const cert = await createDeviceCertificate({ signer, identifier: odd, csr: made.csrPem });
      expect(commonNameOf(readCertificate(new X509Certificate(cert.certPem).raw).subject)).toBe(odd);

      process.env.NHL_PROV_TEST_PIN = 'Wr0ng-PIN-value';
      const wrong = (await createPkcs11DeviceCsr({ ...base, identifier: 'NH-1', uri: uriOf(t) }).catch((e: unknown) => e)) as Error & { code: string };
      expect(wrong).toMatchObject({ code: 'NH_PKCS11_PIN_INCORRECT' });
      expect(`${wrong.message} ${String(wrong.cause)}`).not.toContain('Wr0ng-PIN-value');
      process.env.NHL_PROV_TEST_PIN = t.pin;
      await expect(createPkcs11DeviceCsr({ ...base, identifier: 'NH-1', uri: uriOf(t, 'no-such-key') })).rejects.toMatchObject({ code: 'NH_PKCS11_OBJECT_NOT_FOUND' });
      delete process.env.NHL_PROV_TEST_PIN;
      await expect(createPkcs11DeviceCsr({ ...base, identifier: 'NH-1', uri: uriOf(t) })).rejects.toMatchObject({ code: 'NH_PKCS11_PIN_UNAVAILABLE' });
    } finally {
      delete process.env.NHL_PROV_TEST_PIN;
      if (previous === undefined) delete process.env.SOFTHSM2_CONF;
      else process.env.SOFTHSM2_CONF = previous;
    }
  });
});
