/**
 * Pkcs11CertificateProvider against a real SoftHSM2 token: mTLS + a full update through the
 * library, and each misconfiguration as a typed error that never shows the PIN.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NervesHubTestServer } from '../../src/testing/server/nerves-hub-test-server.js';
import { CHILD, ROOT, SOFTHSM_MODULE, createTestToken, runNode, softHsmMissing } from './softhsm.js';
import type { TestToken } from './softhsm.js';

const missing = softHsmMissing();
if (missing) console.warn(`skipping the SoftHSM2 tests: ${missing}`);

const FIXTURES = join(ROOT, 'test', 'fixtures', 'fwup');
const KEY = readFileSync(join(FIXTURES, 'keys', 'fwup-key.pub'), 'utf8').trim();
const SIGNED = readFileSync(join(FIXTURES, 'fw', 'signed.fw'));
const SIGNED_META = { uuid: '1004c0a7-a4e7-5094-9409-8ce6ffaa3993', product: 'fwup fixture', version: '0.1.0' };

interface Answer {
  ok: boolean;
  code?: string;
  message?: string;
  cause?: string;
  result?: { certificateSubject: string; keyUri: string };
}

describe.skipIf(missing !== undefined)('Pkcs11CertificateProvider with SoftHSM2', () => {
  let server: NervesHubTestServer;
  const cleanup: Array<() => void> = [];
  beforeAll(async () => {
    server = await NervesHubTestServer.start();
  });
  afterAll(async () => server.close());
  afterEach(() => {
    for (const c of cleanup.splice(0).reverse()) c();
  });

  async function setup(options: { certOnToken?: boolean } = {}) {
    const token = await createTestToken();
    cleanup.push(() => token.cleanup());
    const id = `NH-P11-${randomUUID().slice(0, 8)}`;
    const cert = await server.issueDeviceCertificate(id, { publicKeyPem: token.publicKeyPem });
    expect(cert.keyPem).toBe('');
    const certFile = join(token.dir, 'cert.pem');
    writeFileSync(certFile, cert.certPem);
    if (options.certOnToken) {
      writeFileSync(join(token.dir, 'cert.der'), cert.certDer);
      token.tool(['--write-object', join(token.dir, 'cert.der'), '--type', 'cert', '--label', token.keyLabel, '--id', '01'], { pin: token.pin });
    }
    return { token, id, cert, certFile };
  }

  function check(token: TestToken, provider: Record<string, unknown>, flags: string[] = [token.openSslFlag], env: NodeJS.ProcessEnv = token.env) {
    return runNode([...flags, '--import', 'tsx', CHILD, JSON.stringify({ mode: 'check', provider })], { env });
  }
  async function answers(run: ReturnType<typeof check>): Promise<{ list: Answer[]; stdout: string; stderr: string }> {
    const r = await run.exited;
    return { list: r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Answer), stdout: r.stdout, stderr: r.stderr };
  }

  it('completes mTLS and a full update with the key only in the token (PIN from an env var)', async () => {
    const { token, id, certFile } = await setup();
    const dir = mkdtempSync(join(tmpdir(), 'nhl-p11-dev-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const target = join(dir, 'target.fw');
    writeFileSync(target, 'previous firmware');
    const job = {
      mode: 'update',
      provider: { uri: `pkcs11:token=${token.label};object=${token.keyLabel};type=private`, modulePath: SOFTHSM_MODULE, pinEnv: 'DEVICE_PIN', certFile },
      url: server.url,
      ca: server.serverCaPem,
      target,
      stateDir: join(dir, 'state'),
      keys: [KEY],
    };
    const child = runNode([token.openSslFlag, '--import', 'tsx', CHILD, JSON.stringify(job)], { env: { ...token.env, DEVICE_PIN: token.pin } });
    cleanup.push(() => child.child.kill('SIGKILL'));
    await server.waitForJoin(id, { timeoutMs: 15_000 });
    server.pushUpdate(id, { firmwareUrl: server.hostFirmware(`${id}.fw`, SIGNED), firmwareMeta: SIGNED_META, size: SIGNED.length });
    const r = await child.exited;
    expect(r.stdout).toContain('"status":"completed"');
    expect(r.code).toBe(0);
    expect(readFileSync(target).equals(SIGNED)).toBe(true);
    const statuses = server.frames.filter((f) => f.identifier === id && f.event === 'status_update').map((f) => (f.payload as { status: string }).status);
    expect(statuses).toEqual(['received', 'started', 'completed']);
    expect(r.stdout + r.stderr).not.toContain(token.pin);
  });

  it('reads the certificate from the token and the PIN from a file or a callback', async () => {
    const { token, id } = await setup({ certOnToken: true });
    const pinFile = join(token.dir, 'pin');
    writeFileSync(pinFile, `${token.pin}\n`, { mode: 0o600 });
    const uri = `pkcs11:token=${token.label};object=${token.keyLabel}`;
    const viaFile = await answers(check(token, { uri, modulePath: SOFTHSM_MODULE, pinFile }));
    expect(viaFile.list[0]).toMatchObject({ ok: true, result: { certificateSubject: `CN=${id}`, keyUri: `${uri};type=private` } });
    const viaCallback = await answers(check(token, { uri, modulePath: SOFTHSM_MODULE, pinCallbackValue: token.pin }));
    expect(viaCallback.list[0]).toMatchObject({ ok: true });
    expect(viaFile.stdout + viaFile.stderr + viaCallback.stdout + viaCallback.stderr).not.toContain(token.pin);
  });

  it('wrong PIN: NH_PKCS11_PIN_INCORRECT, tried on the token once, and the PIN appears nowhere', async () => {
    const { token, certFile } = await setup();
    const wrong = 'Wr0ngPin-77';
    const r = await answers(check(token, { uri: `pkcs11:token=${token.label};object=${token.keyLabel}`, modulePath: SOFTHSM_MODULE, pinEnv: 'DEVICE_PIN', certFile }, [token.openSslFlag], { ...token.env, DEVICE_PIN: wrong }));
    expect(r.list.map((a) => a.code)).toEqual(['NH_PKCS11_PIN_INCORRECT', 'NH_PKCS11_PIN_INCORRECT']);
    expect(r.list[0]!.message).toContain('environment variable DEVICE_PIN');
    expect(r.list[1]!.message).toContain('not trying it again');
    // libp11 prints "Login failed" once per login attempt on stderr: the second call did not log in
    expect(r.stderr.match(/Login failed/g)?.length).toBe(1);
    expect(r.stdout + r.stderr).not.toContain(wrong);
  });

  it('missing object and missing token: NH_PKCS11_OBJECT_NOT_FOUND / NH_PKCS11_TOKEN_NOT_FOUND', async () => {
    const { token, certFile } = await setup();
    const env = { ...token.env, DEVICE_PIN: token.pin };
    const object = await answers(check(token, { uri: `pkcs11:token=${token.label};object=no-such-key`, modulePath: SOFTHSM_MODULE, pinEnv: 'DEVICE_PIN', certFile }, [token.openSslFlag], env));
    expect(object.list[0]).toMatchObject({ ok: false, code: 'NH_PKCS11_OBJECT_NOT_FOUND' });
    expect(object.list[0]!.message).toContain('object "no-such-key"');
    const tok = await answers(check(token, { uri: `pkcs11:token=other-token;object=${token.keyLabel}`, modulePath: SOFTHSM_MODULE, pinEnv: 'DEVICE_PIN', certFile }, [token.openSslFlag], env));
    expect(tok.list[0]).toMatchObject({ ok: false, code: 'NH_PKCS11_TOKEN_NOT_FOUND' });
    expect(tok.list[0]!.message).toContain(`"${token.label}"`);
    expect(object.stdout + object.stderr + tok.stdout + tok.stderr).not.toContain(token.pin);
  });

  it('missing module and unregistered engine: typed errors that say what to do', async () => {
    const { token, certFile } = await setup();
    const env = { ...token.env, DEVICE_PIN: token.pin };
    const provider = { uri: `pkcs11:token=${token.label};object=${token.keyLabel}`, modulePath: SOFTHSM_MODULE, pinEnv: 'DEVICE_PIN', certFile };
    const noModule = await answers(check(token, { ...provider, modulePath: '/usr/lib/no-such-pkcs11.so' }, [token.openSslFlag], env));
    expect(noModule.list[0]).toMatchObject({ ok: false, code: 'NH_PKCS11_MODULE_MISSING' });
    expect(noModule.list[0]!.message).toContain('/usr/lib/no-such-pkcs11.so');
    const noEngine = await answers(check(token, provider, [], env));
    expect(noEngine.list[0]).toMatchObject({ ok: false, code: 'NH_PKCS11_ENGINE_NOT_REGISTERED' });
    expect(noEngine.list[0]!.message).toContain('--openssl-config=');
    expect(noEngine.list[0]!.message).toContain(`MODULE_PATH = ${SOFTHSM_MODULE}`);
    const noPin = await answers(check(token, provider, [token.openSslFlag], token.env));
    expect(noPin.list[0]).toMatchObject({ ok: false, code: 'NH_PKCS11_PIN_UNAVAILABLE' });
    expect(noPin.list[0]!.message).toContain('DEVICE_PIN is not set');
    for (const r of [noModule, noEngine, noPin]) expect(r.stdout + r.stderr).not.toContain(token.pin);
  });

  it('a certificate for another key: NH_PKCS11_CERT before any handshake', async () => {
    const { token } = await setup();
    const other = await server.issueDeviceCertificate(`NH-OTHER-${randomUUID().slice(0, 6)}`);
    const certFile = join(token.dir, 'other.pem');
    writeFileSync(certFile, other.certPem);
    const r = await answers(check(token, { uri: `pkcs11:token=${token.label};object=${token.keyLabel}`, modulePath: SOFTHSM_MODULE, pinEnv: 'DEVICE_PIN', certFile }, [token.openSslFlag], { ...token.env, DEVICE_PIN: token.pin }));
    expect(r.list[0]).toMatchObject({ ok: false, code: 'NH_PKCS11_CERT' });
  });
});
