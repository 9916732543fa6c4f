import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runDoctorChecks } from '../../src/cli/doctor-checks.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('doctor with a PKCS#11 key whose module is missing', () => {
  it('still checks the fwup keys from the loaded config (the engine step never built the TLS material)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nhl-doctor-hw-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'cert.pem'), '');
    writeFileSync(
      join(dir, 'device.json'),
      JSON.stringify({
        url: 'wss://127.0.0.1:9',
        auth: { type: 'pkcs11', uri: 'pkcs11:token=t;object=k;type=private', certFile: 'cert.pem', modulePath: '/nonexistent/module.so', pinEnv: 'NHL_TEST_PIN' },
        firmware: { uuid: 'u', product: 'p', version: '1', platform: 'host', architecture: 'x86_64' },
        fwupPublicKeys: [Buffer.alloc(32, 3).toString('base64')],
        apply: { type: 'file', path: 'target.fw' },
        stateDir: 'state',
      }),
    );
    const steps = await runDoctorChecks(join(dir, 'device.json'));
    const by = Object.fromEntries(steps.map((s) => [s.name, s]));
    expect(by.module).toMatchObject({ status: 'fail', code: 'NH_PKCS11_MODULE_MISSING' });
    expect(by.engine!.status).toBe('skip');
    expect(by.keys).toMatchObject({ status: 'pass', detail: expect.stringMatching(/^1 fwup public key configured/) });
  });
});
