import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NervesKeyCertificateProvider } from '../../src/atecc508a/index.js';
import { AgentConfigError, parseAgentConfig } from '../../src/cli/agent-config.js';
import { agentAuth, deviceIdentity } from '../../src/cli/agent.js';
import { runCli } from '../cli/agent-process.js';

const KEY = Buffer.alloc(32, 7).toString('base64');
const MODULE = '/usr/lib/nerves_key_pkcs11.so';
const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

function config(auth: Record<string, unknown>): unknown {
  return {
    url: 'wss://127.0.0.1:4001',
    auth: { type: 'nerveskey', modulePath: MODULE, ...auth },
    firmware: { uuid: 'u-1', product: 'p', version: '1.0.0', platform: 'rpi4', architecture: 'aarch64' },
    fwupPublicKeys: [KEY],
    apply: { type: 'file', path: 'out/firmware.fw' },
    stateDir: 'state',
  };
}

function keyOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AgentConfigError);
    return (err as AgentConfigError).key;
  }
  throw new Error('expected an AgentConfigError');
}

describe('run config auth.type "nerveskey"', () => {
  it('parses with defaults: bus 1, the nerves_key_pkcs11 URI for that bus', () => {
    expect(parseAgentConfig(config({}), '/etc/nhl').auth).toEqual({ type: 'nerveskey', i2cBus: 1, modulePath: MODULE, uri: 'pkcs11:token=1' });
    expect(parseAgentConfig(config({ i2cBus: 2, i2cAddress: 0x35, certificateSet: 'aux', uri: 'pkcs11:token=MCHP;object=device;type=private' }), '/').auth).toEqual({
      type: 'nerveskey',
      i2cBus: 2,
      i2cAddress: 0x35,
      certificateSet: 'aux',
      modulePath: MODULE,
      uri: 'pkcs11:token=MCHP;object=device;type=private',
    });
  });

  it('names the bad key', () => {
    expect(keyOf(() => parseAgentConfig(config({ i2cBus: '1' }), '/'))).toBe('auth.i2cBus');
    expect(keyOf(() => parseAgentConfig(config({ i2cAddress: 0xc0 }), '/'))).toBe('auth.i2cAddress');
    expect(keyOf(() => parseAgentConfig(config({ certificateSet: 'backup' }), '/'))).toBe('auth.certificateSet');
    expect(keyOf(() => parseAgentConfig(config({ modulePath: undefined }), '/'))).toBe('auth.modulePath');
    expect(keyOf(() => parseAgentConfig(config({ keyFile: 'key.pem' }), '/'))).toBe('auth.keyFile');
    expect(keyOf(() => parseAgentConfig(config({ uri: 'pkcs11:token=1;pin-value=1' }), '/'))).toBe('auth.uri');
  });

  it('the agent authenticates with a NervesKeyCertificateProvider that signs through the module, checked before the chip is read', async () => {
    const parsed = parseAgentConfig(config({ modulePath: '/nonexistent/nerves_key_pkcs11.so' }), '/');
    const auth = await agentAuth(parsed);
    expect(auth.type).toBe('certificate');
    const provider = (auth as { provider: unknown }).provider;
    expect(provider).toBeInstanceOf(NervesKeyCertificateProvider);
    await expect((provider as NervesKeyCertificateProvider).getTlsMaterial()).rejects.toMatchObject({ code: expect.stringMatching(/^NH_PKCS11_(MODULE|ENGINE)_MISSING$/) });
    expect(await deviceIdentity(parsed)).toEqual({ identifier: 'NervesKey on /dev/i2c-1', auth: 'nerveskey' });
  });
});

describe('nerves-hub-link run with auth.type "nerveskey"', () => {
  it.skipIf(!existsSync(SOFTHSM_MODULE))(
    'restarts itself with the engine registered for the chip module, then reports the missing i2c-bus at each attempt without exiting',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'nhl-nk-run-'));
      try {
        const configPath = join(dir, 'device.json');
        // SoftHSM's module stands in for the chip's PKCS#11 module (the engine config only needs a module file).
        writeFileSync(configPath, JSON.stringify({ ...(config({ modulePath: SOFTHSM_MODULE }) as object), url: 'wss://127.0.0.1:9/socket', stateDir: 'state' }));
        const { child, exited, err } = runCli(['run', '--config', configPath, '--log-format', 'json']);
        const deadline = Date.now() + 20_000;
        while (!err().includes('NH_ATECC_I2C_UNAVAILABLE') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        child.kill('SIGTERM');
        const { code, stderr } = await exited;
        expect(code).toBe(0);
        expect(readFileSync(join(dir, 'state', 'openssl-pkcs11.cnf'), 'utf8')).toContain(`MODULE_PATH = ${SOFTHSM_MODULE}`);
        expect(stderr).toContain('device NervesKey on /dev/i2c-1');
        expect(stderr).toMatch(/NH_ATECC_I2C_UNAVAILABLE.*install i2c-bus|install i2c-bus.*NH_ATECC_I2C_UNAVAILABLE/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
