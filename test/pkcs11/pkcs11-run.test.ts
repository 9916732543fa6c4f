/**
 * `nerves-hub-link run` and `doctor` with `auth.type: "pkcs11"` against a real SoftHSM2 token:
 * the CLI restarts itself with --openssl-config, and the device (key only in the token) updates.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NervesHubTestServer } from '../../src/testing/server/nerves-hub-test-server.js';
import { runCli, writeAgentDir } from '../cli/agent-process.js';
import { ROOT, SOFTHSM_MODULE, createTestToken, softHsmMissing } from './softhsm.js';

const missing = softHsmMissing();
if (missing) console.warn(`skipping the SoftHSM2 CLI tests: ${missing}`);

const FIXTURES = join(ROOT, 'test', 'fixtures', 'fwup');
const KEY = readFileSync(join(FIXTURES, 'keys', 'fwup-key.pub'), 'utf8').trim();
const SIGNED = readFileSync(join(FIXTURES, 'fw', 'signed.fw'));
const SIGNED_META = { uuid: '1004c0a7-a4e7-5094-9409-8ce6ffaa3993', product: 'fwup fixture', version: '0.1.0' };

describe.skipIf(missing !== undefined)('nerves-hub-link run/doctor with a SoftHSM2 key', () => {
  let server: NervesHubTestServer;
  const cleanup: Array<() => void> = [];
  beforeAll(async () => {
    server = await NervesHubTestServer.start();
  });
  afterAll(async () => server.close());
  afterEach(() => {
    for (const c of cleanup.splice(0).reverse()) c();
  });

  async function device(auth: Record<string, unknown> = {}) {
    const token = await createTestToken();
    cleanup.push(() => token.cleanup());
    const id = `NH-P11-RUN-${randomUUID().slice(0, 8)}`;
    const cert = await server.issueDeviceCertificate(id, { publicKeyPem: token.publicKeyPem });
    const config = {
      url: server.url,
      auth: { type: 'pkcs11', uri: `pkcs11:token=${token.label};object=${token.keyLabel};type=private`, pinEnv: 'DEVICE_PIN', certFile: 'cert.pem', modulePath: SOFTHSM_MODULE, ...auth },
      firmware: { uuid: randomUUID(), product: 'fixture', version: '0.0.1', platform: 'host', architecture: 'x86_64' },
      fwupVersion: '1.16.0',
      fwupPublicKeys: [KEY],
      apply: { type: 'file', path: 'target.fw' },
      reboot: { type: 'exit', code: 42 },
    };
    const { configPath } = writeAgentDir({ certPem: cert.certPem, serverCaPem: server.serverCaPem }, config, { dir: token.dir, files: { 'target.fw': 'previous firmware' } });
    return { token, id, configPath, target: join(token.dir, 'target.fw') };
  }

  const cli = (args: string[], env: NodeJS.ProcessEnv) => runCli(args, { env, timeoutMs: 40_000, cleanup });

  it('run: restarts itself with --openssl-config and applies an update with the token key', async () => {
    const d = await device();
    const agent = cli(['run', '--config', d.configPath], { ...d.token.env, DEVICE_PIN: d.token.pin });
    await server.waitForJoin(d.id, { timeoutMs: 20_000 });
    server.pushUpdate(d.id, { firmwareUrl: server.hostFirmware(`${d.id}.fw`, SIGNED), firmwareMeta: SIGNED_META, size: SIGNED.length });
    const r = await agent.exited;
    expect(r.code).toBe(42);
    expect(readFileSync(d.target).equals(SIGNED)).toBe(true);
    expect(r.stderr).toContain(`device ${d.id}`);
    expect(readFileSync(join(d.token.dir, 'state', 'openssl-pkcs11.cnf'), 'utf8')).toContain(`MODULE_PATH = ${SOFTHSM_MODULE}`);
    expect(r.stdout + r.stderr).not.toContain(d.token.pin);
  });

  it('run: a wrong PIN stops with exit 2 before any connection, naming the PIN source but not the PIN', async () => {
    const d = await device();
    const wrong = 'N0t-The-Pin';
    const r = await cli(['run', '--config', d.configPath], { ...d.token.env, DEVICE_PIN: wrong }).exited;
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 2 });
    expect(r.stderr).toContain('the token refused the PIN');
    expect(r.stderr).toContain('environment variable DEVICE_PIN');
    expect(r.stdout + r.stderr).not.toContain(wrong);
    expect(server.frames.some((f) => f.identifier === d.id)).toBe(false);
  });

  it('doctor: module, token, pin, object and engine are separate steps with fixes', async () => {
    const d = await device();
    const good = await cli(['doctor', '--config', d.configPath, '--json', '--join'], { ...d.token.env, DEVICE_PIN: d.token.pin }).exited;
    const report = JSON.parse(good.stdout) as { ok: boolean; steps: Array<{ name: string; status: string; detail: string; fix?: string; code?: string }> };
    expect(report.steps.map((s) => `${s.name}:${s.status}`)).toEqual(
      ['config', 'module', 'token', 'pin', 'object', 'engine', 'clock', 'dns', 'tcp', 'tls', 'auth', 'join', 'keys', 'deltas'].map((n) => `${n}:pass`),
    );
    expect(good.code).toBe(0);

    const bad = await cli(['doctor', '--config', d.configPath, '--json'], { ...d.token.env, DEVICE_PIN: 'wrong-9911' }).exited;
    const badReport = JSON.parse(bad.stdout) as typeof report;
    const pin = badReport.steps.find((s) => s.name === 'pin')!;
    expect(pin).toMatchObject({ status: 'fail', code: 'NH_PKCS11_PIN_INCORRECT' });
    expect(pin.fix).toContain('DEVICE_PIN');
    expect(badReport.steps.find((s) => s.name === 'object')!.status).toBe('skip');
    expect(bad.stdout + bad.stderr).not.toContain('wrong-9911');

    writeFileSync(d.configPath, readFileSync(d.configPath, 'utf8').replace(`object=${d.token.keyLabel}`, 'object=gone'));
    const noObject = JSON.parse((await cli(['doctor', '--config', d.configPath, '--json'], { ...d.token.env, DEVICE_PIN: d.token.pin }).exited).stdout) as typeof report;
    expect(noObject.steps.find((s) => s.name === 'object')).toMatchObject({ status: 'fail', code: 'NH_PKCS11_OBJECT_NOT_FOUND' });
    expect(noObject.steps.find((s) => s.name === 'object')!.detail).toContain(`"${d.token.keyLabel}"`);
  });
});
