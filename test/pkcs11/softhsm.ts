/**
 * SoftHSM2 helpers for the PKCS#11 tests: every test makes its own token in its own
 * SOFTHSM2_CONF directory, generates a P-256 key in it, and runs the TLS part in a child Node
 * process started with the OpenSSL config (Node reads it only at startup).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeOpenSslConfig } from '../../src/pkcs11/openssl-engine.js';
import { ROOT } from '../cli/agent-process.js';

export { ROOT, runNode } from '../cli/agent-process.js';
export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

function onPath(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why the SoftHSM tests cannot run here, or undefined when they can. */
export function softHsmMissing(): string | undefined {
  if (!onPath('softhsm2-util')) return 'softhsm2-util is not installed (apt-get install softhsm2 opensc libengine-pkcs11-openssl; .ci/run does this)';
  return undefined;
}

/** A fresh SoftHSM2 token with a P-256 key pair. */
export interface TestToken {
  dir: string;
  env: NodeJS.ProcessEnv;
  label: string;
  pin: string;
  keyLabel: string;
  /** SPKI PEM of the token key. */
  publicKeyPem: string;
  /** `--openssl-config=…` for a child node. */
  openSslFlag: string;
  configFile: string;
  /** Runs pkcs11-tool against this token's module. */
  tool(args: string[], input?: { pin?: string }): Buffer;
  cleanup(): void;
}

export async function createTestToken(options: { label?: string; pin?: string; keyLabel?: string; keyId?: string } = {}): Promise<TestToken> {
  const dir = mkdtempSync(join(tmpdir(), 'nhl-softhsm-'));
  const label = options.label ?? 'nhl-test';
  const pin = options.pin ?? '4711-secret';
  const keyLabel = options.keyLabel ?? 'device-key';
  execFileSync('mkdir', ['-p', join(dir, 'tokens')]);
  writeFileSync(join(dir, 'softhsm2.conf'), `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  const env = { ...process.env, SOFTHSM2_CONF: join(dir, 'softhsm2.conf') };
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--so-pin', '000000', '--pin', pin], { env, stdio: 'ignore' });
  const tool = (args: string[], input: { pin?: string } = {}): Buffer =>
    execFileSync('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', label, ...(input.pin ? ['--login', '--pin', 'env:NHL_TEST_PIN'] : []), ...args], {
      env: { ...env, ...(input.pin ? { NHL_TEST_PIN: input.pin } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  tool(['--keypairgen', '--key-type', 'EC:prime256v1', '--id', options.keyId ?? '01', '--label', keyLabel], { pin });
  const spki = tool(['--read-object', '--type', 'pubkey', '--label', keyLabel]);
  const publicKeyPem = `-----BEGIN PUBLIC KEY-----\n${spki.toString('base64').replace(/(.{64})/g, '$1\n').trimEnd()}\n-----END PUBLIC KEY-----\n`;
  const configFile = join(dir, 'openssl-pkcs11.cnf');
  await writeOpenSslConfig(configFile, { modulePath: SOFTHSM_MODULE });
  return {
    dir,
    env,
    label,
    pin,
    keyLabel,
    publicKeyPem,
    openSslFlag: `--openssl-config=${configFile}`,
    configFile,
    tool,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export const CHILD = join(ROOT, 'test', 'pkcs11', 'child', 'device-app.ts');
export { existsSync };
