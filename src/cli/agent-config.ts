import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { NervesHubError } from '../errors.js';
import type { WireFirmwareMeta } from '../protocol/wire-firmware-meta.js';
import type { AgentServicesConfig } from './agent-services-config.js';
import { parseAgentServices } from './agent-services-config.js';

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
  apply: AgentApplyConfig;
  stateDir: string;
  strategy: 'streaming' | 'cached';
  reboot: AgentRebootConfig;
  proxy?: string;
  heartbeatIntervalMs?: number;
  /** LAB SETUPS ONLY: accept plain-http firmware URLs (see `DownloaderOptions.allowInsecureHttpDownloadsForTesting`). */
  allowInsecureHttpDownloadsForTesting?: boolean;
  /** Extensions, identify command, remote console. */
  services: AgentServicesConfig;
}

/** A config problem, naming the offending key (`NH_CONFIG_INVALID`). */
export class AgentConfigError extends NervesHubError {
  /** JSON path of the offending key, e.g. `auth.certFile`. */
  readonly key: string;
  constructor(key: string, message: string) {
    super('NH_CONFIG_INVALID', `config key "${key}": ${message}`);
    this.name = 'AgentConfigError';
    this.key = key;
  }
}

type Obj = Record<string, unknown>;

function obj(v: unknown, key: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new AgentConfigError(key, 'must be an object');
  return v as Obj;
}
function str(o: Obj, k: string, path: string, required: true): string;
function str(o: Obj, k: string, path: string, required: false): string | undefined;
function str(o: Obj, k: string, path: string, required: boolean): string | undefined {
  const v = o[k];
  const key = path ? `${path}.${k}` : k;
  if (v === undefined || v === null) {
    if (required) throw new AgentConfigError(key, 'is required');
    return undefined;
  }
  if (typeof v !== 'string' || v.length === 0) throw new AgentConfigError(key, 'must be a non-empty string');
  return v;
}
function strList(o: Obj, k: string, path: string): string[] | undefined {
  const v = o[k];
  const key = path ? `${path}.${k}` : k;
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new AgentConfigError(key, 'must be a list of strings');
  return v as string[];
}
function oneOf<T extends string>(v: string, allowed: readonly T[], key: string): T {
  if (!(allowed as readonly string[]).includes(v)) throw new AgentConfigError(key, `must be one of ${allowed.map((a) => `"${a}"`).join(', ')}`);
  return v as T;
}
function checkUnknown(o: Obj, allowed: string[], path: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new AgentConfigError(path ? `${path}.${k}` : k, `is not a known key (known: ${allowed.join(', ')})`);
  }
}

/**
 * Validates a parsed `device.json`. Relative paths are resolved against `baseDir`.
 * @throws AgentConfigError naming the key at fault.
 */
export function parseAgentConfig(raw: unknown, baseDir: string): AgentConfig {
  const c = obj(raw, '(root)');
  checkUnknown(
    c,
    ['url', 'auth', 'serverCaFile', 'serverName', 'firmware', 'fwupVersion', 'fwupPublicKeys', 'apply', 'stateDir', 'strategy', 'reboot', 'proxy', 'heartbeatIntervalMs', 'allowInsecureHttpDownloadsForTesting', 'extensions', 'identify', 'console'],
    '',
  );
  const p = (f: string): string => resolve(baseDir, f);
  const url = str(c, 'url', '', true);
  let parsedUrl: URL;
  try {
    parsedUrl = new URL(url);
  } catch {
    throw new AgentConfigError('url', `"${url}" is not a URL (expected e.g. wss://device.example.com)`);
  }
  if (!['wss:', 'ws:'].includes(parsedUrl.protocol)) throw new AgentConfigError('url', 'must start with wss:// (or ws:// for development)');

  const a = obj(c.auth, 'auth');
  const type = oneOf(str(a, 'type', 'auth', true), ['certificate', 'shared-secret', 'pkcs11', 'nerveskey'] as const, 'auth.type');
  let auth: AgentAuthConfig;
  if (type === 'certificate') {
    checkUnknown(a, ['type', 'certFile', 'keyFile', 'signerCertFile'], 'auth');
    const signer = str(a, 'signerCertFile', 'auth', false);
    auth = { type, certFile: p(str(a, 'certFile', 'auth', true)), keyFile: p(str(a, 'keyFile', 'auth', true)), ...(signer ? { signerCertFile: p(signer) } : {}) };
  } else if (type === 'shared-secret') {
    checkUnknown(a, ['type', 'key', 'secret', 'identifier'], 'auth');
    const key = str(a, 'key', 'auth', true);
    if (!/^nh[pd]_/.test(key)) throw new AgentConfigError('auth.key', 'must be a NervesHub product key (nhp_…) or device key (nhd_…)');
    auth = { type, key, secret: str(a, 'secret', 'auth', true), identifier: str(a, 'identifier', 'auth', true) };
  } else if (type === 'nerveskey') {
    auth = parseNervesKeyAuth(a);
  } else {
    checkUnknown(a, ['type', 'uri', 'pinEnv', 'pinFile', 'certFile', 'modulePath'], 'auth');
    const pinEnv = str(a, 'pinEnv', 'auth', false);
    const pinFile = str(a, 'pinFile', 'auth', false);
    auth = {
      type,
      uri: str(a, 'uri', 'auth', true),
      certFile: p(str(a, 'certFile', 'auth', true)),
      modulePath: str(a, 'modulePath', 'auth', true),
      ...(pinEnv ? { pinEnv } : {}),
      ...(pinFile ? { pinFile: p(pinFile) } : {}),
    };
    if (/pin-value=/i.test(auth.uri)) throw new AgentConfigError('auth.uri', 'must not contain pin-value; use pinEnv or pinFile');
    if (pinEnv && pinFile) throw new AgentConfigError('auth.pinFile', 'give pinEnv or pinFile, not both');
    if (!/^pkcs11:/i.test(auth.uri)) throw new AgentConfigError('auth.uri', 'must be a PKCS#11 URI, e.g. pkcs11:token=dev;object=device-key;type=private');
  }

  const f = obj(c.firmware, 'firmware');
  checkUnknown(f, ['uuid', 'product', 'version', 'platform', 'architecture', 'author', 'description', 'vcs_identifier', 'misc'], 'firmware');
  const firmware: WireFirmwareMeta = { uuid: str(f, 'uuid', 'firmware', true) };
  for (const k of ['product', 'version', 'platform', 'architecture'] as const) firmware[k] = str(f, k, 'firmware', true);
  // A Nerves device's KV often holds "" for these: sent as given (nerves_fw_misc: "").
  for (const k of ['author', 'description', 'vcs_identifier', 'misc'] as const) {
    const v = f[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') throw new AgentConfigError(`firmware.${k}`, 'must be a string (it may be empty)');
    firmware[k] = v;
  }

  const fwupPublicKeys = strList(c, 'fwupPublicKeys', '') ?? [];
  fwupPublicKeys.forEach((k, i) => {
    const bytes = Buffer.from(k, 'base64');
    if (bytes.length !== 32) throw new AgentConfigError(`fwupPublicKeys[${i}]`, 'must be a base64 Ed25519 public key (44 characters, as in fwup-key.pub)');
  });

  const ap = obj(c.apply, 'apply');
  const applyType = oneOf(str(ap, 'type', 'apply', true), ['file', 'fwup'] as const, 'apply.type');
  let apply: AgentApplyConfig;
  if (applyType === 'file') {
    checkUnknown(ap, ['type', 'path'], 'apply');
    apply = { type: 'file', path: p(str(ap, 'path', 'apply', true)) };
  } else {
    checkUnknown(ap, ['type', 'devicePath', 'task', 'fwupPath', 'extraArgs'], 'apply');
    const fwupPath = str(ap, 'fwupPath', 'apply', false);
    const extraArgs = strList(ap, 'extraArgs', 'apply');
    apply = { type: 'fwup', devicePath: str(ap, 'devicePath', 'apply', true), task: str(ap, 'task', 'apply', false) ?? 'upgrade', ...(fwupPath ? { fwupPath } : {}), ...(extraArgs ? { extraArgs } : {}) };
  }

  const r = c.reboot === undefined ? { type: 'exit', code: 0 } : obj(c.reboot, 'reboot');
  const rebootType = oneOf(str(r, 'type', 'reboot', true), ['exit', 'command'] as const, 'reboot.type');
  let reboot: AgentRebootConfig;
  if (rebootType === 'exit') {
    checkUnknown(r, ['type', 'code'], 'reboot');
    const code = r.code ?? 0;
    if (typeof code !== 'number' || !Number.isInteger(code) || code < 0 || code > 255) throw new AgentConfigError('reboot.code', 'must be an integer 0..255');
    reboot = { type: 'exit', code };
  } else {
    checkUnknown(r, ['type', 'argv'], 'reboot');
    const argv = strList(r, 'argv', 'reboot');
    if (!argv || argv.length === 0) throw new AgentConfigError('reboot.argv', 'must be a non-empty list, e.g. ["/sbin/reboot"]');
    reboot = { type: 'command', argv };
  }

  const strategy = oneOf(str(c, 'strategy', '', false) ?? 'streaming', ['streaming', 'cached'] as const, 'strategy');
  const hb = c.heartbeatIntervalMs;
  if (hb !== undefined && (typeof hb !== 'number' || !Number.isInteger(hb) || hb < 0)) throw new AgentConfigError('heartbeatIntervalMs', 'must be a non-negative integer (milliseconds)');
  const serverCaFile = str(c, 'serverCaFile', '', false);
  const serverName = str(c, 'serverName', '', false);
  const fwupVersion = str(c, 'fwupVersion', '', false);
  const proxy = str(c, 'proxy', '', false);
  const insecureHttp = c.allowInsecureHttpDownloadsForTesting;
  if (insecureHttp !== undefined && typeof insecureHttp !== 'boolean') throw new AgentConfigError('allowInsecureHttpDownloadsForTesting', 'must be true or false');
  return {
    url,
    auth,
    firmware,
    fwupPublicKeys,
    apply,
    stateDir: p(str(c, 'stateDir', '', true)),
    strategy,
    reboot,
    services: parseAgentServices(c, p, AgentConfigError),
    ...(serverCaFile ? { serverCaFile: p(serverCaFile) } : {}),
    ...(serverName ? { serverName } : {}),
    ...(fwupVersion ? { fwupVersion } : {}),
    ...(proxy ? { proxy } : {}),
    ...(hb !== undefined ? { heartbeatIntervalMs: hb as number } : {}),
    ...(insecureHttp === true ? { allowInsecureHttpDownloadsForTesting: true } : {}),
  };
}

function parseNervesKeyAuth(a: Obj): AgentNervesKeyAuthConfig {
  checkUnknown(a, ['type', 'i2cBus', 'i2cAddress', 'certificateSet', 'modulePath', 'uri'], 'auth');
  const int = (k: string, min: number, max: number, fallback: number | undefined): number | undefined => {
    const v = a[k];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new AgentConfigError(`auth.${k}`, `must be an integer ${min}..${max}`);
    return v;
  };
  const i2cBus = int('i2cBus', 0, 1023, 1) as number;
  const i2cAddress = int('i2cAddress', 0x08, 0x77, undefined);
  const set = str(a, 'certificateSet', 'auth', false);
  const uri = str(a, 'uri', 'auth', false) ?? `pkcs11:token=${i2cBus}`;
  if (/pin-value=/i.test(uri)) throw new AgentConfigError('auth.uri', 'must not contain pin-value');
  return {
    type: 'nerveskey',
    i2cBus,
    modulePath: str(a, 'modulePath', 'auth', true),
    uri,
    ...(i2cAddress !== undefined ? { i2cAddress } : {}),
    ...(set !== undefined ? { certificateSet: oneOf(set, ['primary', 'aux'] as const, 'auth.certificateSet') } : {}),
  };
}

/** Reads and validates a `device.json`. @throws AgentConfigError */
export async function loadAgentConfig(file: string): Promise<AgentConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new AgentConfigError('(file)', `cannot read ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new AgentConfigError('(file)', `${file} is not valid JSON: ${(err as Error).message}`);
  }
  return parseAgentConfig(raw, dirname(resolve(file)));
}
