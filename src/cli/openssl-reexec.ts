import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { NervesHubError } from '../errors.js';
import type { AgentConfig } from './agent-config.js';

/** Set in the re-executed child, so it never re-executes again. */
export const REEXEC_ENV = 'NERVES_HUB_LINK_OPENSSL_REEXEC';

/** Key of the IPC message in which the re-executed child reports its exit code. */
const EXIT_CODE_MESSAGE = 'nervesHubLinkExitCode';

let cliScript: string | undefined;

/** Called by the CLI's `main` only: lets `run`/`doctor` restart the CLI with `--openssl-config`. */
export function allowOpenSslReexec(script: string | undefined): void {
  cliScript = script;
}

/** Where the CLI writes the engine's OpenSSL config for a pkcs11 device.json. */
export function agentOpenSslConfigFile(config: AgentConfig): string {
  return join(config.stateDir, 'openssl-pkcs11.cnf');
}

/**
 * Node reads its OpenSSL config only at startup, so a pkcs11 config needs the process started with
 * `--openssl-config`. When the engine is not registered yet, this writes the config into
 * `stateDir` and runs the same CLI command again in a child Node with the flag (stdio and signals
 * passed through), returning its exit code. Returns `undefined` when nothing is needed.
 *
 * @throws NervesHubError `NH_PKCS11_ENGINE_NOT_REGISTERED` (with the exact flag) when it cannot re-execute.
 */
export async function reexecForPkcs11(config: AgentConfig): Promise<number | undefined> {
  // Both sign through the engine: pkcs11 with the token's module, nerveskey with the chip's.
  if (config.auth.type !== 'pkcs11' && config.auth.type !== 'nerveskey') return undefined;
  const { isPkcs11EngineRegistered, writeOpenSslConfig } = await import('../pkcs11/openssl-engine.js');
  if (isPkcs11EngineRegistered()) return undefined;
  const file = agentOpenSslConfigFile(config);
  const { nodeOptions } = await writeOpenSslConfig(file, { modulePath: config.auth.modulePath });
  if (cliScript === undefined || process.env[REEXEC_ENV] === '1') {
    throw new NervesHubError(
      'NH_PKCS11_ENGINE_NOT_REGISTERED',
      `the OpenSSL pkcs11 engine is not registered in this Node process: start it with ${nodeOptions} (written for auth.modulePath ${config.auth.modulePath})`,
    );
  }
  // The IPC channel carries the child's exit code: some PKCS#11 modules (SoftHSM2 with libp11)
  // crash in OpenSSL's exit-time cleanup after a failed login, which would turn exit 2 into a signal.
  const child = spawn(process.execPath, [...process.execArgv, nodeOptions, cliScript, ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, [REEXEC_ENV]: '1' },
  });
  let reported: number | undefined;
  child.on('message', (message: unknown) => {
    const code = (message as { [EXIT_CODE_MESSAGE]?: unknown } | null)?.[EXIT_CODE_MESSAGE];
    if (typeof code === 'number' && Number.isInteger(code)) reported = code;
  });
  const forward = (signal: NodeJS.Signals): void => void child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => {
        if (code !== null) return resolve(code);
        if (reported !== undefined) {
          // the command had finished; only the module's teardown died
          process.stderr.write(`nerves-hub-link: the PKCS#11 module crashed (${signal}) while the process was exiting; keeping exit code ${reported}\n`);
          return resolve(reported);
        }
        resolve(signal === 'SIGINT' || signal === 'SIGTERM' ? 0 : 1);
      });
    });
  } finally {
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
  }
}

/**
 * Called by the CLI's `main` when a command has finished: a re-executed child tells its parent the
 * exit code before exiting, so a crash in the module's exit-time cleanup cannot change it.
 */
export async function reportExitCodeToParent(code: number): Promise<void> {
  if (process.env[REEXEC_ENV] !== '1' || typeof process.send !== 'function' || !process.connected) return;
  await new Promise<void>((resolve) => {
    process.send!({ [EXIT_CODE_MESSAGE]: code }, undefined, {}, () => resolve());
  });
  // an open IPC channel would keep this process alive
  process.disconnect();
}
