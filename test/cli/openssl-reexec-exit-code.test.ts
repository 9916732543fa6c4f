/**
 * The CLI re-executes itself with --openssl-config for PKCS#11 keys. SoftHSM2 with libp11 sometimes
 * crashes (SIGSEGV) in OpenSSL's exit-time cleanup after a failed login: the child's exit code must
 * survive that, because a wrong PIN is exit 2 (fix the config), not exit 1.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentConfig } from '../../src/cli/agent-config.js';
import { REEXEC_ENV, allowOpenSslReexec, reexecForPkcs11 } from '../../src/cli/openssl-reexec.js';
import { ROOT, SOFTHSM_MODULE, softHsmMissing } from '../pkcs11/softhsm.js';

const CRASHING_CHILD = join(ROOT, 'test', 'cli', 'child', 'exit-then-crash.mjs');
const missing = softHsmMissing();

describe.skipIf(missing !== undefined)('reexecForPkcs11: the exit code of the re-executed CLI', () => {
  const dirs: string[] = [];
  const saved = { ...process.env };
  afterEach(() => {
    allowOpenSslReexec(undefined);
    for (const key of ['NHL_TEST_REPORT', 'NHL_TEST_CODE']) delete process.env[key];
    Object.assign(process.env, saved);
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  function pkcs11Config(): AgentConfig {
    const stateDir = mkdtempSync(join(tmpdir(), 'nhl-reexec-'));
    dirs.push(stateDir);
    return { auth: { type: 'pkcs11', modulePath: SOFTHSM_MODULE }, stateDir } as unknown as AgentConfig;
  }

  it('keeps the code the child reported when the module then crashes at exit', async () => {
    allowOpenSslReexec(CRASHING_CHILD);
    process.env.NHL_TEST_CODE = '2';
    expect(await reexecForPkcs11(pkcs11Config())).toBe(2);
  });

  it('a child that crashes before it reported anything is still a failure (1)', async () => {
    allowOpenSslReexec(CRASHING_CHILD);
    process.env.NHL_TEST_REPORT = '0';
    expect(await reexecForPkcs11(pkcs11Config())).toBe(1);
  });
});

describe('the CLI in a re-executed child', () => {
  it('reports its exit code to the parent over IPC, then exits with it', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'no-such-command'], {
      cwd: ROOT,
      env: { ...process.env, [REEXEC_ENV]: '1' },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    const messages: unknown[] = [];
    child.on('message', (m) => messages.push(m));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(2);
    expect(messages).toEqual([{ nervesHubLinkExitCode: 2 }]);
  });
});
