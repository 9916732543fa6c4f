import { setEngine } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { NervesHubError } from '../errors.js';

/** The OpenSSL engine id libp11 registers (`libengine-pkcs11-openssl`). */
export const PKCS11_ENGINE_ID = 'pkcs11';

/** Where Debian/Ubuntu (any multiarch triplet), Fedora and Alpine install libp11's engine. */
function engineCandidates(): string[] {
  const out: string[] = [];
  try {
    for (const entry of readdirSync('/usr/lib')) {
      if (/-linux-gnu/.test(entry)) out.push(`/usr/lib/${entry}/engines-3/pkcs11.so`);
    }
  } catch {
    // no /usr/lib (not Linux): fall through to the fixed list
  }
  out.push('/usr/lib64/engines-3/pkcs11.so', '/usr/lib/engines-3/pkcs11.so', '/usr/local/lib/engines-3/pkcs11.so');
  return out;
}

/**
 * Finds libp11's OpenSSL 3 engine (`pkcs11.so`, Debian package `libengine-pkcs11-openssl`).
 *
 * @returns the path, or `undefined` when it is not installed
 * @example
 * ```ts
 * findPkcs11EnginePath(); // '/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so'
 * ```
 */
export function findPkcs11EnginePath(): string | undefined {
  return engineCandidates().find((p) => existsSync(p));
}

/** What {@link openSslConfigText} and {@link writeOpenSslConfig} need. */
export interface OpenSslConfigOptions {
  /** The PKCS#11 module of the token, e.g. `/usr/lib/softhsm/libsofthsm2.so`. */
  modulePath: string;
  /** libp11's engine; found with {@link findPkcs11EnginePath} when omitted. */
  enginePath?: string;
}

function resolveEngine(enginePath: string | undefined): string {
  const path = enginePath ?? findPkcs11EnginePath();
  if (path === undefined || !existsSync(path)) {
    throw new NervesHubError(
      'NH_PKCS11_ENGINE_MISSING',
      `the OpenSSL pkcs11 engine${path ? ` ${path}` : ''} is not installed: install the Debian package libengine-pkcs11-openssl (apt-get install libengine-pkcs11-openssl)`,
    );
  }
  return path;
}

/**
 * The OpenSSL config that registers libp11's engine for Node: Node reads the `nodejs_conf`
 * section of the file given by `--openssl-config` (or `OPENSSL_CONF` + `--openssl-shared-config`
 * with `openssl_conf`; both sections are written so either way works). No PIN goes in it.
 *
 * @throws NervesHubError `NH_PKCS11_ENGINE_MISSING` when the engine is not installed.
 * @example
 * ```ts
 * const text = openSslConfigText({ modulePath: '/usr/lib/softhsm/libsofthsm2.so' });
 * ```
 */
export function openSslConfigText(options: OpenSslConfigOptions): string {
  if (typeof options?.modulePath !== 'string' || options.modulePath === '') throw new TypeError('openSslConfigText: modulePath is required');
  if (/[\n\r]/.test(options.modulePath) || /[\n\r]/.test(options.enginePath ?? '')) throw new TypeError('openSslConfigText: paths must be one line');
  const engine = resolveEngine(options.enginePath);
  return [
    '# Registers the PKCS#11 engine for nerves-hub-link (written by writeOpenSslConfig).',
    '# Start Node with --openssl-config=<this file>.',
    'nodejs_conf = nhl_openssl_init',
    'openssl_conf = nhl_openssl_init',
    '',
    '[nhl_openssl_init]',
    'engines = nhl_engines',
    '',
    '[nhl_engines]',
    `${PKCS11_ENGINE_ID} = nhl_pkcs11`,
    '',
    '[nhl_pkcs11]',
    `engine_id = ${PKCS11_ENGINE_ID}`,
    `dynamic_path = ${engine}`,
    `MODULE_PATH = ${options.modulePath}`,
    'init = 0',
    '',
  ].join('\n');
}

/** What {@link writeOpenSslConfig} wrote. */
export interface WrittenOpenSslConfig {
  /** The config file. */
  file: string;
  /** The Node flag to start with, e.g. `--openssl-config=/data/nhl/openssl.cnf` (also valid in `NODE_OPTIONS`). */
  nodeOptions: string;
}

/**
 * Writes {@link openSslConfigText} to `file` (atomically) and returns the Node flag to start with.
 *
 * @returns `{ file, nodeOptions }`, e.g. `nodeOptions: '--openssl-config=/data/nhl/openssl.cnf'`
 * @throws NervesHubError `NH_PKCS11_ENGINE_MISSING` when the engine is not installed.
 * @example
 * ```ts
 * const { nodeOptions } = await writeOpenSslConfig('/data/nhl/openssl.cnf', { modulePath: '/usr/lib/softhsm/libsofthsm2.so' });
 * // then: NODE_OPTIONS="$nodeOptions" node app.js
 * ```
 */
export async function writeOpenSslConfig(file: string, options: OpenSslConfigOptions): Promise<WrittenOpenSslConfig> {
  const text = openSslConfigText(options);
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o644 });
  await rename(tmp, file);
  return { file, nodeOptions: `--openssl-config=${file}` };
}

/**
 * True when this process can use the `pkcs11` engine by id, i.e. Node was started with an
 * OpenSSL config that registers it. Loads nothing into the default crypto methods (flags 0).
 *
 * @example
 * ```ts
 * if (!isPkcs11EngineRegistered()) console.error('start node with --openssl-config=…');
 * ```
 */
export function isPkcs11EngineRegistered(): boolean {
  try {
    setEngine(PKCS11_ENGINE_ID, 0);
    return true;
  } catch {
    return false;
  }
}

/** The OpenSSL config file this process was started with, when it can tell. @internal */
export function activeOpenSslConfigFile(): string | undefined {
  const fromArgs = (args: string[]): string | undefined => {
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a.startsWith('--openssl-config=')) return a.slice('--openssl-config='.length);
      if (a === '--openssl-config') return args[i + 1];
    }
    return undefined;
  };
  return fromArgs(process.execArgv) ?? fromArgs((process.env.NODE_OPTIONS ?? '').split(/\s+/)) ?? (process.env.OPENSSL_CONF || undefined);
}

/** The `MODULE_PATH` the active config gives the engine, when it can be read. @internal */
export function activeModulePath(): string | undefined {
  const file = activeOpenSslConfigFile();
  if (file === undefined) return undefined;
  try {
    return /^\s*MODULE_PATH\s*=\s*(.+?)\s*$/m.exec(readFileSync(file, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

/** What {@link checkPkcs11Engine} checks against. */
export interface Pkcs11EngineCheck {
  /** The PKCS#11 module the key is in. */
  modulePath: string;
  /** libp11's engine path when not in a standard place. */
  enginePath?: string;
  /** Where the fix text says to write the config; default `/etc/nerves-hub-link/openssl-pkcs11.cnf`. */
  configFile?: string;
}

/**
 * Checks, in order, that the engine is installed, the PKCS#11 module exists, and this Node
 * process has the engine registered (with that module). Each failure says exactly what to do.
 *
 * @throws NervesHubError `NH_PKCS11_ENGINE_MISSING`, `NH_PKCS11_MODULE_MISSING` or `NH_PKCS11_ENGINE_NOT_REGISTERED`.
 * @example
 * ```ts
 * checkPkcs11Engine({ modulePath: '/usr/lib/softhsm/libsofthsm2.so' });
 * ```
 */
export function checkPkcs11Engine(check: Pkcs11EngineCheck): void {
  const engine = resolveEngine(check.enginePath);
  if (!existsSync(check.modulePath)) {
    throw new NervesHubError(
      'NH_PKCS11_MODULE_MISSING',
      `the PKCS#11 module ${check.modulePath} does not exist: install the token's module (SoftHSM2: apt-get install softhsm2, /usr/lib/softhsm/libsofthsm2.so) or fix modulePath`,
    );
  }
  if (!isPkcs11EngineRegistered()) {
    const file = check.configFile ?? '/etc/nerves-hub-link/openssl-pkcs11.cnf';
    throw new NervesHubError(
      'NH_PKCS11_ENGINE_NOT_REGISTERED',
      `the OpenSSL pkcs11 engine is not registered in this Node process: write the config with writeOpenSslConfig('${file}', { modulePath: '${check.modulePath}' }) ` +
        `then start Node with --openssl-config=${file} (or NODE_OPTIONS=--openssl-config=${file}). ` +
        `Its content:\n${openSslConfigText({ modulePath: check.modulePath, enginePath: engine })}`,
    );
  }
  const active = activeModulePath();
  if (active !== undefined && active !== check.modulePath) {
    throw new NervesHubError(
      'NH_PKCS11_ENGINE_NOT_REGISTERED',
      `the OpenSSL config ${activeOpenSslConfigFile()} registers the PKCS#11 module ${active}, not ${check.modulePath}: regenerate it with writeOpenSslConfig(…, { modulePath: '${check.modulePath}' })`,
    );
  }
}
