import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { NervesHubError } from '../errors.js';
import type { WireFirmwareMeta } from '../protocol/wire-firmware-meta.js';
import type { AgentServicesConfig } from './agent-services-config.js';
import { parseAgentArchives, parseAgentServices } from './agent-services-config.js';
import type { ConfigProblem } from './config-problems.js';
import { checkUnknownKeys, closestKey, ConfigProblemSignal, ConfigProblems, problem, skipCheck } from './config-problems.js';
import { findJsonSyntaxError } from './json-syntax.js';
import { checkConfigFiles } from './config-files.js';

/** How the agent authenticates to NervesHub. */
export type AgentAuthConfig =
  | { type: 'certificate'; certFile: string; keyFile: string; signerCertFile?: string }
  | { type: 'shared-secret'; key: string; secret: string; identifier: string }
  | { type: 'pkcs11'; uri: string; pinEnv?: string; pinFile?: string; certFile: string; modulePath: string }
  | AgentNervesKeyAuthConfig;

/**
 * A NervesKey (ATECC508A/608A) on I²C: certificates read from the chip, TLS signed through the
 * chip's PKCS#11 module (`modulePath`, key `uri`, default `pkcs11:token=<i2cBus>` as
 * nerves_key_pkcs11 names it).
 */
export interface AgentNervesKeyAuthConfig {
  type: 'nerveskey';
  /** Linux I²C bus number (`/dev/i2c-<n>`), default 1. */
  i2cBus: number;
  /** 7-bit I²C address, default 0x60 (96). */
  i2cAddress?: number;
  /** `primary` (slots 10/11/12, default) or `aux` (9/14/15). */
  certificateSet?: 'primary' | 'aux';
  /** The chip's PKCS#11 module (nerves_key_pkcs11 or cryptoauthlib). */
  modulePath: string;
  /** PKCS#11 URI of the slot-0 key in that module. */
  uri: string;
}

/** Where the agent applies firmware. */
export type AgentApplyConfig =
  | { type: 'file'; path: string }
  | { type: 'fwup'; devicePath: string; task: string; fwupPath?: string; extraArgs?: string[] };

/**
 * What the agent rebuilds delta firmware against (`deltaSource` in device.json); absent: none,
 * so deltas only through fwup. `file`: the archive `apply.type: "file"` wrote last (valid while it
 * is the firmware the device runs). `archive`: a firmware archive of the running firmware.
 * `raw`: the device fwup wrote the running firmware to, read at the ranges the delta's meta.conf
 * names (`delta-source-raw-offset`/`-count`; `task` picks a task prefix, default `apply.task`).
 */
export type AgentDeltaSourceConfig = { type: 'file' } | { type: 'archive'; path: string } | { type: 'raw'; path: string; task?: string };

/** What the agent does after a completed update or on the server's `reboot`. */
export type AgentRebootConfig = { type: 'exit'; code: number } | { type: 'command'; argv: string[] };

/** The validated `device.json` of `nerves-hub-link run` / `doctor`. Paths are absolute. */
export interface AgentConfig {
  url: string;
  auth: AgentAuthConfig;
  serverCaFile?: string;
  serverName?: string;
  firmware: WireFirmwareMeta;
  fwupVersion?: string;
  fwupPublicKeys: string[];
  /** Archive public keys (base64 Ed25519); none → the fwup keys, or the server's when neither is set. */
  archivePublicKeys?: string[];
  /** Ask NervesHub for the archive keys at every join; its answer replaces `archivePublicKeys`. */
  requestArchivePublicKeys?: boolean;
  apply: AgentApplyConfig;
  /** Delta source of the TypeScript delta rebuild; absent: none. */
  deltaSource?: AgentDeltaSourceConfig;
  stateDir: string;
  strategy: 'streaming' | 'cached';
  reboot: AgentRebootConfig;
  proxy?: string;
  heartbeatIntervalMs?: number;
  /** LAB SETUPS ONLY: accept plain-http firmware URLs (see `DownloaderOptions.allowInsecureHttpDownloadsForTesting`). */
  allowInsecureHttpDownloadsForTesting?: boolean;
  /** Device services: extensions (health, geo), identify command, remote console, archives. */
  services: AgentServicesConfig;
}

/**
 * Config problems (`NH_CONFIG_INVALID`): every problem found, each naming its key. `key` is the
 * first one's, for callers that show one.
 */
export class AgentConfigError extends NervesHubError {
  /** JSON path of the (first) offending key, e.g. `auth.certFile`. */
  readonly key: string;
  /** Every problem found, in config order. */
  readonly problems: readonly ConfigProblem[];
  constructor(key: string, message: string);
  constructor(problems: readonly ConfigProblem[]);
  constructor(keyOrProblems: string | readonly ConfigProblem[], message = '') {
    const problems = typeof keyOrProblems === 'string' ? [{ key: keyOrProblems, message }] : keyOrProblems;
    const lines = problems.map((p) => `config key "${p.key}": ${p.message}`);
    super('NH_CONFIG_INVALID', lines.length === 1 ? lines[0]! : `${lines.length} problems in the config: ${lines.join('; ')}`);
    this.name = 'AgentConfigError';
    this.key = problems[0]?.key ?? '(root)';
    this.problems = Object.freeze([...problems]);
  }
}

type Obj = Record<string, unknown>;

const ROOT_KEYS = ['url', 'auth', 'serverCaFile', 'serverName', 'firmware', 'fwupVersion', 'fwupPublicKeys', 'archivePublicKeys', 'requestArchivePublicKeys', 'apply', 'deltaSource', 'stateDir', 'strategy', 'reboot', 'proxy', 'heartbeatIntervalMs', 'allowInsecureHttpDownloadsForTesting', 'extensions', 'identify', 'console', 'archives'] as const;
const AUTH_KEYS = {
  certificate: ['type', 'certFile', 'keyFile', 'signerCertFile'],
  'shared-secret': ['type', 'key', 'secret', 'identifier'],
  pkcs11: ['type', 'uri', 'pinEnv', 'pinFile', 'certFile', 'modulePath'],
  nerveskey: ['type', 'i2cBus', 'i2cAddress', 'certificateSet', 'modulePath', 'uri'],
} as const;
const FIRMWARE_KEYS = ['uuid', 'product', 'version', 'platform', 'architecture', 'author', 'description', 'vcs_identifier', 'misc'] as const;
/** Socket paths a configured URL may name (the default follows from the auth type). */
const SOCKET_PATHS = ['/socket', '/socket/websocket', '/device-socket', '/device-socket/websocket'];

function obj(v: unknown, key: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) problem(key, v === undefined ? 'is required' : 'must be an object');
  return v as Obj;
}
function str(o: Obj, k: string, path: string, required: true): string;
function str(o: Obj, k: string, path: string, required: false): string | undefined;
function str(o: Obj, k: string, path: string, required: boolean): string | undefined {
  const v = o[k];
  const key = path ? `${path}.${k}` : k;
  if (v === undefined || v === null) {
    if (required) problem(key, 'is required');
    return undefined;
  }
  if (typeof v !== 'string' || v.length === 0) problem(key, 'must be a non-empty string');
  return v as string;
}
function strList(o: Obj, k: string, path: string): string[] | undefined {
  const v = o[k];
  const key = path ? `${path}.${k}` : k;
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) problem(key, 'must be a list of strings');
  return v as string[];
}
function oneOf<T extends string>(v: string, allowed: readonly T[], key: string): T {
  if (!(allowed as readonly string[]).includes(v)) {
    const guess = closestKey(v, allowed);
    problem(key, `must be one of ${allowed.map((a) => `"${a}"`).join(', ')}${guess !== undefined ? ` (did you mean "${guess}"?)` : ''}`);
  }
  return v as T;
}

function parseUrl(c: Obj): string {
  const url = str(c, 'url', '', true);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return problem('url', `"${url}" is not a URL (expected e.g. wss://device.example.com)`);
  }
  if (!['wss:', 'ws:'].includes(parsed.protocol)) problem('url', 'must start with wss:// (or ws:// for development)');
  if (parsed.username || parsed.password) problem('url', 'must not carry a user name or password');
  const path = parsed.pathname.replace(/\/+$/, '');
  if (path !== '' && !SOCKET_PATHS.includes(path)) {
    problem('url', `has the path "${parsed.pathname}": give only the server (e.g. wss://${parsed.host}); the socket path follows from auth.type (or name /socket/websocket or /device-socket/websocket)`);
  }
  return url;
}

function parseAuth(c: Obj, problems: ConfigProblems, p: (f: string) => string): AgentAuthConfig {
  const a = obj(c.auth, 'auth');
  const type = oneOf(str(a, 'type', 'auth', true), ['certificate', 'shared-secret', 'pkcs11', 'nerveskey'] as const, 'auth.type');
  checkUnknownKeys(problems, a, AUTH_KEYS[type], 'auth');
  if (type === 'certificate') {
    const signer = problems.attempt(() => str(a, 'signerCertFile', 'auth', false));
    const certFile = problems.attempt(() => str(a, 'certFile', 'auth', true));
    const keyFile = str(a, 'keyFile', 'auth', true);
    if (certFile === undefined) skipCheck();
    return { type, certFile: p(certFile!), keyFile: p(keyFile), ...(signer ? { signerCertFile: p(signer) } : {}) };
  }
  if (type === 'shared-secret') {
    const key = problems.attempt(() => {
      const k = str(a, 'key', 'auth', true);
      if (!/^nh[pd]_/.test(k)) problem('auth.key', 'must be a NervesHub product key (nhp_…) or device key (nhd_…)');
      return k;
    });
    const secret = problems.attempt(() => str(a, 'secret', 'auth', true));
    const identifier = str(a, 'identifier', 'auth', true);
    if (key === undefined || secret === undefined) skipCheck();
    return { type, key: key!, secret: secret!, identifier };
  }
  if (type === 'nerveskey') return parseNervesKeyAuth(a);
  const pinEnv = str(a, 'pinEnv', 'auth', false);
  const pinFile = str(a, 'pinFile', 'auth', false);
  const auth = {
    type,
    uri: str(a, 'uri', 'auth', true),
    certFile: p(str(a, 'certFile', 'auth', true)),
    modulePath: str(a, 'modulePath', 'auth', true),
    ...(pinEnv ? { pinEnv } : {}),
    ...(pinFile ? { pinFile: p(pinFile) } : {}),
  };
  if (/pin-value=/i.test(auth.uri)) problem('auth.uri', 'must not contain pin-value; use pinEnv or pinFile');
  if (pinEnv && pinFile) problem('auth.pinFile', 'give pinEnv or pinFile, not both');
  if (!/^pkcs11:/i.test(auth.uri)) problem('auth.uri', 'must be a PKCS#11 URI, e.g. pkcs11:token=dev;object=device-key;type=private');
  return auth;
}

function parseNervesKeyAuth(a: Obj): AgentNervesKeyAuthConfig {
  const int = (k: string, min: number, max: number, fallback: number | undefined): number | undefined => {
    const v = a[k];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) problem(`auth.${k}`, `must be an integer ${min}..${max}`);
    return v as number;
  };
  const i2cBus = int('i2cBus', 0, 1023, 1) as number;
  const i2cAddress = int('i2cAddress', 0x08, 0x77, undefined);
  const set = str(a, 'certificateSet', 'auth', false);
  const uri = str(a, 'uri', 'auth', false) ?? `pkcs11:token=${i2cBus}`;
  if (/pin-value=/i.test(uri)) problem('auth.uri', 'must not contain pin-value');
  return {
    type: 'nerveskey',
    i2cBus,
    modulePath: str(a, 'modulePath', 'auth', true),
    uri,
    ...(i2cAddress !== undefined ? { i2cAddress } : {}),
    ...(set !== undefined ? { certificateSet: oneOf(set, ['primary', 'aux'] as const, 'auth.certificateSet') } : {}),
  };
}

function parseFirmware(c: Obj, problems: ConfigProblems): WireFirmwareMeta {
  const f = obj(c.firmware, 'firmware');
  checkUnknownKeys(problems, f, FIRMWARE_KEYS, 'firmware');
  const firmware: WireFirmwareMeta = { uuid: problems.attempt(() => str(f, 'uuid', 'firmware', true)) ?? '' };
  for (const k of ['product', 'version', 'platform', 'architecture'] as const) {
    const v = problems.attempt(() => str(f, k, 'firmware', true));
    if (v !== undefined) firmware[k] = v;
  }
  // A Nerves device's KV often holds "" for these: sent as given (nerves_fw_misc: "").
  for (const k of ['author', 'description', 'vcs_identifier', 'misc'] as const) {
    const v = f[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') problems.add(`firmware.${k}`, 'must be a string (it may be empty)');
    else firmware[k] = v;
  }
  return firmware;
}

function parseKeys(c: Obj, problems: ConfigProblems, name: 'fwupPublicKeys' | 'archivePublicKeys'): string[] {
  const keys = strList(c, name, '') ?? [];
  keys.forEach((k, i) => {
    if (Buffer.from(k, 'base64').length !== 32) problems.add(`${name}[${i}]`, 'must be a base64 Ed25519 public key (44 characters, as in fwup-key.pub)');
  });
  return keys;
}

function parseApply(c: Obj, problems: ConfigProblems, p: (f: string) => string): AgentApplyConfig {
  const ap = obj(c.apply, 'apply');
  const applyType = oneOf(str(ap, 'type', 'apply', true), ['file', 'fwup'] as const, 'apply.type');
  if (applyType === 'file') {
    checkUnknownKeys(problems, ap, ['type', 'path'], 'apply');
    return { type: 'file', path: p(str(ap, 'path', 'apply', true)) };
  }
  checkUnknownKeys(problems, ap, ['type', 'devicePath', 'task', 'fwupPath', 'extraArgs'], 'apply');
  const fwupPath = problems.attempt(() => str(ap, 'fwupPath', 'apply', false));
  const extraArgs = problems.attempt(() => strList(ap, 'extraArgs', 'apply'));
  const task = problems.attempt(() => str(ap, 'task', 'apply', false));
  return { type: 'fwup', devicePath: str(ap, 'devicePath', 'apply', true), task: task ?? 'upgrade', ...(fwupPath ? { fwupPath } : {}), ...(extraArgs ? { extraArgs } : {}) };
}

function parseDeltaSource(c: Obj, problems: ConfigProblems, p: (f: string) => string, apply: AgentApplyConfig | undefined): AgentDeltaSourceConfig | undefined {
  if (c.deltaSource === undefined) return undefined;
  const d = obj(c.deltaSource, 'deltaSource');
  const type = oneOf(str(d, 'type', 'deltaSource', true), ['file', 'archive', 'raw'] as const, 'deltaSource.type');
  if (type === 'file') {
    checkUnknownKeys(problems, d, ['type'], 'deltaSource');
    if (apply !== undefined && apply.type !== 'file') problem('deltaSource.type', '"file" is the archive apply.type "file" wrote last; with apply.type "fwup" use "raw" (the device fwup wrote to) or "archive"');
    return { type };
  }
  if (type === 'archive') {
    checkUnknownKeys(problems, d, ['type', 'path'], 'deltaSource');
    return { type, path: p(str(d, 'path', 'deltaSource', true)) };
  }
  checkUnknownKeys(problems, d, ['type', 'path', 'task'], 'deltaSource');
  const task = problems.attempt(() => str(d, 'task', 'deltaSource', false)) ?? (apply?.type === 'fwup' ? apply.task : undefined);
  return { type, path: p(str(d, 'path', 'deltaSource', true)), ...(task !== undefined ? { task } : {}) };
}

function parseReboot(c: Obj, problems: ConfigProblems): AgentRebootConfig {
  const r = c.reboot === undefined ? { type: 'exit', code: 0 } : obj(c.reboot, 'reboot');
  const rebootType = oneOf(str(r, 'type', 'reboot', true), ['exit', 'command'] as const, 'reboot.type');
  if (rebootType === 'exit') {
    checkUnknownKeys(problems, r, ['type', 'code'], 'reboot');
    const code = r.code ?? 0;
    if (typeof code !== 'number' || !Number.isInteger(code) || code < 0 || code > 255) problem('reboot.code', 'must be an integer 0..255');
    return { type: 'exit', code: code as number };
  }
  checkUnknownKeys(problems, r, ['type', 'argv'], 'reboot');
  const argv = strList(r, 'argv', 'reboot');
  if (!argv || argv.length === 0) problem('reboot.argv', 'must be a non-empty list, e.g. ["/sbin/reboot"]');
  return { type: 'command', argv: argv! };
}

/**
 * Validates a parsed `device.json`. Relative paths are resolved against `baseDir`.
 * @throws AgentConfigError listing every problem found, each naming its key.
 */
export function parseAgentConfig(raw: unknown, baseDir: string): AgentConfig {
  const problems = new ConfigProblems();
  const c = problems.attempt(() => obj(raw, '(root)'));
  if (c === undefined) throw new AgentConfigError(problems.list);
  checkUnknownKeys(problems, c, ROOT_KEYS, '');
  const p = (f: string): string => resolve(baseDir, f);
  const url = problems.attempt(() => parseUrl(c));
  const auth = problems.attempt(() => parseAuth(c, problems, p));
  const firmware = problems.attempt(() => parseFirmware(c, problems));
  const fwupPublicKeys = problems.attempt(() => parseKeys(c, problems, 'fwupPublicKeys'));
  const archivePublicKeys = problems.attempt(() => parseKeys(c, problems, 'archivePublicKeys'));
  const requestArchiveKeys = c.requestArchivePublicKeys;
  if (requestArchiveKeys !== undefined && typeof requestArchiveKeys !== 'boolean') problems.add('requestArchivePublicKeys', 'must be true or false');
  const apply = problems.attempt(() => parseApply(c, problems, p));
  const deltaSource = problems.attempt(() => parseDeltaSource(c, problems, p, apply));
  const reboot = problems.attempt(() => parseReboot(c, problems));
  const strategy = problems.attempt(() => oneOf(str(c, 'strategy', '', false) ?? 'streaming', ['streaming', 'cached'] as const, 'strategy'));
  const stateDir = problems.attempt(() => p(str(c, 'stateDir', '', true)));
  const hb = c.heartbeatIntervalMs;
  if (hb !== undefined && (typeof hb !== 'number' || !Number.isInteger(hb) || hb < 0)) problems.add('heartbeatIntervalMs', 'must be a non-negative integer (milliseconds)');
  const serverCaFile = problems.attempt(() => str(c, 'serverCaFile', '', false));
  const serverName = problems.attempt(() => str(c, 'serverName', '', false));
  const fwupVersion = problems.attempt(() => str(c, 'fwupVersion', '', false));
  const proxy = problems.attempt(() => str(c, 'proxy', '', false));
  const insecureHttp = c.allowInsecureHttpDownloadsForTesting;
  if (insecureHttp !== undefined && typeof insecureHttp !== 'boolean') problems.add('allowInsecureHttpDownloadsForTesting', 'must be true or false');
  const services = problems.attempt(() => parseAgentServices(c, p, ServicesProblem));
  const archives = problems.attempt(() => parseAgentArchives(c, p, ServicesProblem));
  if (problems.list.length > 0) throw new AgentConfigError(sortByConfigOrder(problems.list, raw));
  return {
    services: { ...services!, ...(archives ? { archives } : {}) },
    url: url!,
    auth: auth!,
    firmware: firmware!,
    fwupPublicKeys: fwupPublicKeys!,
    ...(archivePublicKeys!.length > 0 ? { archivePublicKeys: archivePublicKeys! } : {}),
    ...(requestArchiveKeys === true ? { requestArchivePublicKeys: true } : {}),
    apply: apply!,
    ...(deltaSource !== undefined ? { deltaSource } : {}),
    stateDir: stateDir!,
    strategy: strategy!,
    reboot: reboot!,
    ...(serverCaFile ? { serverCaFile: p(serverCaFile) } : {}),
    ...(serverName ? { serverName } : {}),
    ...(fwupVersion ? { fwupVersion } : {}),
    ...(proxy ? { proxy } : {}),
    ...(hb !== undefined ? { heartbeatIntervalMs: hb as number } : {}),
    ...(insecureHttp === true ? { allowInsecureHttpDownloadsForTesting: true } : {}),
  };
}

/** A problem found by the services parser, recorded like the others. */
class ServicesProblem extends ConfigProblemSignal {
  constructor(key: string, message: string) {
    super({ key, message });
  }
}

/** Orders problems as their top-level keys appear in the file (then by the order found). */
function sortByConfigOrder(list: readonly ConfigProblem[], raw: unknown): ConfigProblem[] {
  const order = Object.keys(raw as Obj);
  const rank = (p: ConfigProblem): number => {
    const top = /^[^.[]+/.exec(p.key)?.[0] ?? '';
    const at = order.indexOf(top);
    return at === -1 ? order.length : at;
  };
  return list.map((p, i) => ({ p, i })).sort((x, y) => rank(x.p) - rank(y.p) || x.i - y.i).map(({ p }) => p);
}

/** Reads and validates a `device.json`. @throws AgentConfigError */
export async function loadAgentConfig(file: string): Promise<AgentConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new AgentConfigError('(file)', `cannot read ${file}: ${(err as Error).message}`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a byte order mark some editors write
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    // Never quote the parser's message: it may echo the file, and the file may hold a secret.
    const at = findJsonSyntaxError(text);
    throw new AgentConfigError('(file)', `${file} is not valid JSON: ${at ? `line ${at.line}, column ${at.column}: expected ${at.expected}` : 'syntax error'}`);
  }
  const config = parseAgentConfig(raw, dirname(resolve(file)));
  const fileProblems = await checkConfigFiles(config);
  if (fileProblems.length > 0) throw new AgentConfigError(fileProblems);
  return config;
}
