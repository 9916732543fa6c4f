import type { CertificateProvider } from '../auth/certificate-provider.js';
import type { Logger } from '../logging/logger.js';
import { silentLogger } from '../logging/logger.js';
import { CERTIFICATE_SOCKET_PATH, SHARED_SECRET_SOCKET_PATH } from '../protocol/constants.js';
import type { WireFirmwareMeta } from '../protocol/wire-firmware-meta.js';
import { BACKOFF_DEFAULTS, cryptoRandom } from './backoff.js';
import type { RandomSource } from './backoff.js';
import { invalidOptions } from '../errors.js';

/**
 * Mutual-TLS authentication with a per-device certificate.
 *
 * @example
 * ```ts
 * const auth: CertificateAuth = { type: 'certificate', provider: new FileCertificateProvider({ certFile, keyFile }) };
 * ```
 */
export interface CertificateAuth {
  /** Selects mutual-TLS authentication. */
  type: 'certificate';
  /** Asked for the certificate and key at every connection attempt. */
  provider: CertificateProvider;
}

/**
 * NH1 shared-secret authentication (product or device key).
 *
 * @example
 * ```ts
 * const auth: SharedSecretAuth = { type: 'shared-secret', key: 'nhp_…', secret: readFileSync('/data/secret', 'utf8').trim(), identifier: serial };
 * ```
 */
export interface SharedSecretAuth {
  /** Selects NH1 shared-secret authentication. */
  type: 'shared-secret';
  /** `nhp_…` (product) or `nhd_…` (device) key. */
  key: string;
  /** Its secret. Never logged. */
  secret: string;
  /** The device identifier (serial number). */
  identifier: string;
  /** PBKDF2 digest (default `sha256`). */
  digest?: string;
  /** PBKDF2 iterations (default 1000). */
  iterations?: number;
  /** Derived key length (default 32). */
  keyLength?: number;
}

/**
 * How the device authenticates.
 *
 * @category Connection
 */
export type SocketAuth = CertificateAuth | SharedSecretAuth;

/**
 * TLS settings of the connection. Server verification is always on and cannot be disabled.
 *
 * @example
 * ```ts
 * const tls: SocketTlsOptions = { ca: readFileSync('/etc/ssl/nerves-hub-ca.pem', 'utf8'), servername: 'devices.example.com' };
 * ```
 */
export interface SocketTlsOptions {
  /** CA certificates that authenticate the server (PEM/DER); default: the provider's, else Node's roots. */
  ca?: string | Uint8Array | Array<string | Uint8Array>;
  /** SNI / certificate host name to expect (default: the URL's host name). */
  servername?: string;
  /** Lowest TLS version (default `TLSv1.2`; `TLSv1.3` is allowed). */
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
}

/**
 * Options of {@link NervesHubSocket}.
 *
 * @example
 * ```ts
 * const options: NervesHubSocketOptions = {
 *   url: 'devices.nerves-hub.org',
 *   auth: { type: 'shared-secret', key: 'nhp_…', secret, identifier: serial },
 *   firmware: { uuid, product: 'my_product', version: '1.0.0', platform: 'rpi4', architecture: 'arm' },
 *   fwupPublicKeys: [publicKey],
 * };
 * ```
 * @category Connection
 */
export interface NervesHubSocketOptions {
  /**
   * NervesHub host (`devices.nerves-hub.org`, `host:port`) or URL. With no path (or `/`), the
   * path is `/socket/websocket` for certificate auth and `/device-socket/websocket` for shared
   * secrets; a URL with a path is used as is. `ws://` is for development only.
   */
  url: string | URL;
  /** How the device authenticates: {@link CertificateAuth} or {@link SharedSecretAuth}. */
  auth: SocketAuth;
  /** The running firmware's metadata (`nerves_fw_*` join params); a function is re-read at every connect. */
  firmware: WireFirmwareMeta | (() => WireFirmwareMeta | Promise<WireFirmwareMeta>);
  /** `fwup --version` of the device (join param `fwup_version`); a function is re-read at every connect. */
  fwupVersion?: string | (() => string | Promise<string>);
  /**
   * fwup public keys (base64 Ed25519) configured on the device: the trust anchor of every update.
   * Server pushes of `fwup_public_keys` are ignored while they are set, unless
   * {@link requestFwupPublicKeys}. None → ask the server at each join (`"on_connect"`).
   */
  fwupPublicKeys?: string[];
  /** Archive public keys, pinned like {@link fwupPublicKeys}. None (and no fwup keys) → ask the server. */
  archivePublicKeys?: string[];
  /**
   * Ask for the server's fwup keys at every join even when keys are configured; the server's
   * answer to that join then replaces the configured keys (it trusts the server with signing).
   * Without it, pushed keys the device did not ask for are dropped with a warning.
   */
  requestFwupPublicKeys?: boolean;
  /** Same as {@link requestFwupPublicKeys} for the archive keys. */
  requestArchivePublicKeys?: boolean;
  /** UUID of the firmware being downloaded right now, or null (join param; re-read at every join). */
  currentlyDownloadingUuid?: () => string | null | undefined;
  /** Whether the running firmware is validated (join `meta`; re-read at every join; non-boolean → true). */
  firmwareValidated?: () => boolean;
  /** Whether an auto-revert happened (join `meta`; re-read at every join; non-boolean → false). */
  firmwareAutoRevertDetected?: () => boolean;
  /** More join params (e.g. extra `nerves_fw_*` keys of the active slot); cannot override the SDK's keys. */
  extraJoinParams?: () => Record<string, unknown>;
  /**
   * After every join, push `report_network_interface` with the interface that owns the connection's
   * local address, as nerves_hub_link ≥ 2.11 does (NervesHub can restrict releases to interface
   * types). Default false here; `NervesHubLink` turns it on.
   */
  reportNetworkInterface?: boolean;
  /** Heartbeat period; an un-acked heartbeat at the next period closes the connection (default 30 000). */
  heartbeatIntervalMs?: number;
  /** First reconnect delay (default 1000); doubles per failure up to {@link reconnectMaxMs}. */
  reconnectBaseMs?: number;
  /** Largest reconnect delay before jitter (default 60 000). */
  reconnectMaxMs?: number;
  /** Random extra delay as a fraction of each delay (default 0.5 → +0…50 %). */
  reconnectJitterRatio?: number;
  /** No reconnect is scheduled sooner than this (default 500), whatever the schedule or hook says. */
  minReconnectDelayMs?: number;
  /** A joined connection must last this long to reset the backoff (default 10 000). */
  stableConnectionMs?: number;
  /** Per-cycle schedule override, like nerves_hub_link's `reconnect_backoff/0`: a list, or undefined for the default. */
  reconnectBackoff?: () => number[] | undefined;
  /** Delay before re-joining `device` after a refused or timed-out join (default 5000). */
  rejoinAfterMs?: number;
  /** Time to wait for a join reply (default 10 000). */
  joinTimeoutMs?: number;
  /** Time allowed for the TCP+TLS+HTTP upgrade (default 30 000). */
  connectTimeoutMs?: number;
  /** Time allowed for the close handshake in `close()` (default 1000). */
  closeTimeoutMs?: number;
  /** While the firmware is not validated, poll `firmwareValidated()` this often and report when it turns true (default 10 000; 0 = off). */
  firmwareValidationPollMs?: number;
  /** TLS settings: trusted server CA, server name, minimum version. */
  tls?: SocketTlsOptions;
  /** `http://[user:pass@]host:port` proxy to tunnel through (HTTP CONNECT). */
  proxy?: string | URL;
  /** Log sink (default: silent). Never receives keys, secrets or signed URL queries. */
  logger?: Logger;
  /** Clock in Unix ms (tests). Default `Date.now`. */
  now?: () => number;
  /** Uniform [0,1) source for jitter (tests). Default: crypto randomness. */
  random?: RandomSource;
}

/** Defaults of {@link NervesHubSocketOptions}. */
export const SOCKET_DEFAULTS = Object.freeze({
  /** Default {@link NervesHubSocketOptions.heartbeatIntervalMs}. */
  heartbeatIntervalMs: 30_000,
  /** Default {@link NervesHubSocketOptions.reconnectBaseMs}. */
  reconnectBaseMs: BACKOFF_DEFAULTS.baseMs,
  /** Default {@link NervesHubSocketOptions.reconnectMaxMs}. */
  reconnectMaxMs: BACKOFF_DEFAULTS.maxMs,
  /** Default {@link NervesHubSocketOptions.reconnectJitterRatio}. */
  reconnectJitterRatio: BACKOFF_DEFAULTS.jitterRatio,
  /** Default {@link NervesHubSocketOptions.minReconnectDelayMs}. */
  minReconnectDelayMs: 500,
  /** Default {@link NervesHubSocketOptions.stableConnectionMs}. */
  stableConnectionMs: 10_000,
  /** Default {@link NervesHubSocketOptions.rejoinAfterMs}. */
  rejoinAfterMs: 5_000,
  /** Default {@link NervesHubSocketOptions.joinTimeoutMs}. */
  joinTimeoutMs: 10_000,
  /** Default {@link NervesHubSocketOptions.connectTimeoutMs}. */
  connectTimeoutMs: 30_000,
  /** Default {@link NervesHubSocketOptions.closeTimeoutMs}. */
  closeTimeoutMs: 1_000,
  /** Default {@link NervesHubSocketOptions.firmwareValidationPollMs}. */
  firmwareValidationPollMs: 10_000,
  /** Default {@link SocketTlsOptions.minVersion} (nerves_hub_web accepts TLS 1.2; 1.3 only when enabled). */
  minTlsVersion: 'TLSv1.2' as const,
  /** Device pushes kept while not joined, flushed after the next join (oldest dropped first). */
  outboxLimit: 64,
});

/** Options after validation, with defaults applied. @internal */
export interface ResolvedSocketOptions {
  /** Phoenix endpoint (URL without the trailing `/websocket`). */
  endpoint: string;
  /** Query params of the given URL, passed through phoenix. */
  endpointParams: Record<string, string>;
  secure: boolean;
  host: string;
  auth: SocketAuth;
  firmware: NervesHubSocketOptions['firmware'];
  fwupVersion: NervesHubSocketOptions['fwupVersion'];
  fwupPublicKeys: string[];
  archivePublicKeys: string[];
  requestFwupPublicKeys: boolean;
  requestArchivePublicKeys: boolean;
  currentlyDownloadingUuid: (() => string | null | undefined) | undefined;
  firmwareValidated: (() => boolean) | undefined;
  firmwareAutoRevertDetected: (() => boolean) | undefined;
  extraJoinParams: (() => Record<string, unknown>) | undefined;
  reportNetworkInterface: boolean;
  heartbeatIntervalMs: number;
  reconnectBaseMs: number;
  reconnectMaxMs: number;
  reconnectJitterRatio: number;
  minReconnectDelayMs: number;
  stableConnectionMs: number;
  reconnectBackoff: (() => number[] | undefined) | undefined;
  rejoinAfterMs: number;
  joinTimeoutMs: number;
  connectTimeoutMs: number;
  closeTimeoutMs: number;
  firmwareValidationPollMs: number;
  tls: { ca: Array<string | Uint8Array> | undefined; servername: string | undefined; minVersion: 'TLSv1.2' | 'TLSv1.3' };
  proxy: URL | undefined;
  logger: Logger;
  now: () => number;
  random: RandomSource;
}

function positiveMs(name: string, value: unknown, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw invalidOptions(`NervesHubSocket: ${name} must be a ${allowZero ? 'non-negative' : 'positive'} number of milliseconds`);
  }
  return value;
}

function optionalFunction<T>(name: string, value: T | undefined): T | undefined {
  if (value !== undefined && typeof value !== 'function') throw invalidOptions(`NervesHubSocket: ${name} must be a function`);
  return value;
}

function stringList(name: string, value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw invalidOptions(`NervesHubSocket: ${name} must be a list of strings`);
  return value.filter((v) => v.length > 0);
}

function resolveUrl(url: unknown, auth: SocketAuth): { endpoint: string; params: Record<string, string>; secure: boolean; host: string } {
  if (typeof url !== 'string' && !(url instanceof URL)) throw invalidOptions('NervesHubSocket: url must be a string or URL');
  const text = String(url).trim();
  if (text === '') throw invalidOptions('NervesHubSocket: url is empty');
  let parsed: URL;
  try {
    parsed = new URL(text.includes('://') ? text : `wss://${text}`);
  } catch {
    throw invalidOptions(`NervesHubSocket: url ${JSON.stringify(text)} is not a valid URL`);
  }
  if (parsed.protocol === 'https:') parsed.protocol = 'wss:';
  if (parsed.protocol === 'http:') parsed.protocol = 'ws:';
  if (parsed.protocol !== 'wss:' && parsed.protocol !== 'ws:') throw invalidOptions('NervesHubSocket: url must be wss:// (or ws:// for development)');
  if (parsed.hash) throw invalidOptions('NervesHubSocket: url must not have a fragment');
  if (parsed.username || parsed.password) throw invalidOptions('NervesHubSocket: url must not carry credentials');
  if (parsed.pathname === '' || parsed.pathname === '/') {
    parsed.pathname = auth.type === 'certificate' ? CERTIFICATE_SOCKET_PATH : SHARED_SECRET_SOCKET_PATH;
  }
  const params: Record<string, string> = {};
  for (const [k, v] of parsed.searchParams) if (k !== 'vsn') params[k] = v;
  parsed.search = '';
  // phoenix appends "/websocket" itself
  const endpoint = parsed.toString().replace(/\/websocket\/?$/, '').replace(/\/$/, '');
  return { endpoint, params, secure: parsed.protocol === 'wss:', host: parsed.hostname };
}

function resolveAuth(auth: unknown): SocketAuth {
  if (typeof auth !== 'object' || auth === null) throw invalidOptions('NervesHubSocket: auth is required');
  const a = auth as { type?: unknown; provider?: CertificateProvider; key?: unknown; secret?: unknown; identifier?: unknown; digest?: unknown; iterations?: unknown; keyLength?: unknown };
  if (a.type === 'certificate') {
    if (typeof a.provider !== 'object' || a.provider === null || typeof a.provider.getTlsMaterial !== 'function') {
      throw invalidOptions('NervesHubSocket: certificate auth needs a provider with getTlsMaterial()');
    }
    return { type: 'certificate', provider: a.provider };
  }
  if (a.type === 'shared-secret') {
    for (const k of ['key', 'secret', 'identifier'] as const) {
      if (typeof a[k] !== 'string' || a[k] === '') throw invalidOptions(`NervesHubSocket: shared-secret auth needs ${k}`);
    }
    if (a.digest !== undefined && typeof a.digest !== 'string') throw invalidOptions('NervesHubSocket: digest must be a string');
    for (const k of ['iterations', 'keyLength'] as const) {
      const v = a[k];
      if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0)) throw invalidOptions(`NervesHubSocket: ${k} must be a positive integer`);
    }
    return { ...(a as unknown as SharedSecretAuth) };
  }
  throw invalidOptions("NervesHubSocket: auth.type must be 'certificate' or 'shared-secret'");
}

/**
 * Validates the options and applies defaults (once, at construction).
 * @throws NervesHubError `NH_INVALID_OPTIONS` on any invalid option.
 * @internal
 */
export function resolveSocketOptions(options: NervesHubSocketOptions): ResolvedSocketOptions {
  if (typeof options !== 'object' || options === null) throw invalidOptions('NervesHubSocket: options are required');
  const auth = resolveAuth(options.auth);
  const { endpoint, params, secure, host } = resolveUrl(options.url, auth);
  if (options.firmware === undefined || options.firmware === null || (typeof options.firmware !== 'function' && typeof options.firmware !== 'object')) {
    throw invalidOptions('NervesHubSocket: firmware (WireFirmwareMeta or a function returning it) is required');
  }
  if (typeof options.firmware === 'object' && (typeof options.firmware.uuid !== 'string' || options.firmware.uuid === '')) {
    throw invalidOptions('NervesHubSocket: firmware.uuid is required');
  }
  if (options.fwupVersion !== undefined && typeof options.fwupVersion !== 'string' && typeof options.fwupVersion !== 'function') {
    throw invalidOptions('NervesHubSocket: fwupVersion must be a string or a function');
  }
  const tlsIn = options.tls ?? {};
  if (typeof tlsIn !== 'object') throw invalidOptions('NervesHubSocket: tls must be an object');
  if ('rejectUnauthorized' in tlsIn) throw invalidOptions('NervesHubSocket: server certificate verification cannot be turned off; set tls.ca to trust a private CA');
  const minVersion = tlsIn.minVersion ?? SOCKET_DEFAULTS.minTlsVersion;
  if (minVersion !== 'TLSv1.2' && minVersion !== 'TLSv1.3') throw invalidOptions("NervesHubSocket: tls.minVersion must be 'TLSv1.2' or 'TLSv1.3'");
  if (tlsIn.servername !== undefined && (typeof tlsIn.servername !== 'string' || tlsIn.servername === '')) throw invalidOptions('NervesHubSocket: tls.servername must be a host name');
  const ca = tlsIn.ca === undefined ? undefined : Array.isArray(tlsIn.ca) ? tlsIn.ca : [tlsIn.ca];
  if (ca && !ca.every((c) => typeof c === 'string' || c instanceof Uint8Array)) throw invalidOptions('NervesHubSocket: tls.ca must be PEM strings or DER bytes');
  let proxy: URL | undefined;
  if (options.proxy !== undefined) {
    try {
      proxy = new URL(String(options.proxy));
    } catch {
      throw invalidOptions('NervesHubSocket: proxy must be an http:// URL');
    }
    if (proxy.protocol !== 'http:') throw invalidOptions('NervesHubSocket: proxy must be an http:// URL (HTTP CONNECT)');
  }
  const logger = options.logger ?? silentLogger;
  if (typeof logger.log !== 'function') throw invalidOptions('NervesHubSocket: logger must have a log() method');
  const jitter = options.reconnectJitterRatio ?? SOCKET_DEFAULTS.reconnectJitterRatio;
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 10)) throw invalidOptions('NervesHubSocket: reconnectJitterRatio must be between 0 and 10');
  const reconnectBaseMs = positiveMs('reconnectBaseMs', options.reconnectBaseMs, SOCKET_DEFAULTS.reconnectBaseMs);
  const reconnectMaxMs = positiveMs('reconnectMaxMs', options.reconnectMaxMs, Math.max(SOCKET_DEFAULTS.reconnectMaxMs, reconnectBaseMs));
  if (reconnectMaxMs < reconnectBaseMs) throw invalidOptions('NervesHubSocket: reconnectMaxMs must be ≥ reconnectBaseMs');
  return {
    endpoint,
    endpointParams: params,
    secure,
    host,
    auth,
    firmware: options.firmware,
    fwupVersion: options.fwupVersion,
    fwupPublicKeys: stringList('fwupPublicKeys', options.fwupPublicKeys),
    archivePublicKeys: stringList('archivePublicKeys', options.archivePublicKeys),
    requestFwupPublicKeys: options.requestFwupPublicKeys === true,
    requestArchivePublicKeys: options.requestArchivePublicKeys === true,
    currentlyDownloadingUuid: optionalFunction('currentlyDownloadingUuid', options.currentlyDownloadingUuid),
    firmwareValidated: optionalFunction('firmwareValidated', options.firmwareValidated),
    firmwareAutoRevertDetected: optionalFunction('firmwareAutoRevertDetected', options.firmwareAutoRevertDetected),
    extraJoinParams: optionalFunction('extraJoinParams', options.extraJoinParams),
    reportNetworkInterface: options.reportNetworkInterface === true,
    heartbeatIntervalMs: positiveMs('heartbeatIntervalMs', options.heartbeatIntervalMs, SOCKET_DEFAULTS.heartbeatIntervalMs),
    reconnectBaseMs,
    reconnectMaxMs,
    reconnectJitterRatio: jitter,
    minReconnectDelayMs: positiveMs('minReconnectDelayMs', options.minReconnectDelayMs, SOCKET_DEFAULTS.minReconnectDelayMs, true),
    stableConnectionMs: positiveMs('stableConnectionMs', options.stableConnectionMs, SOCKET_DEFAULTS.stableConnectionMs, true),
    reconnectBackoff: optionalFunction('reconnectBackoff', options.reconnectBackoff),
    rejoinAfterMs: positiveMs('rejoinAfterMs', options.rejoinAfterMs, SOCKET_DEFAULTS.rejoinAfterMs),
    joinTimeoutMs: positiveMs('joinTimeoutMs', options.joinTimeoutMs, SOCKET_DEFAULTS.joinTimeoutMs),
    connectTimeoutMs: positiveMs('connectTimeoutMs', options.connectTimeoutMs, SOCKET_DEFAULTS.connectTimeoutMs),
    closeTimeoutMs: positiveMs('closeTimeoutMs', options.closeTimeoutMs, SOCKET_DEFAULTS.closeTimeoutMs),
    firmwareValidationPollMs: positiveMs('firmwareValidationPollMs', options.firmwareValidationPollMs, SOCKET_DEFAULTS.firmwareValidationPollMs, true),
    tls: { ca, servername: tlsIn.servername, minVersion },
    proxy,
    logger,
    now: optionalFunction('now', options.now) ?? Date.now,
    random: optionalFunction('random', options.random) ?? cryptoRandom,
  };
}
