/**
 * The checks of `nerves-hub-link doctor`, step by step: config, clock, DNS, TCP, TLS, auth
 * (the WebSocket upgrade), join, fwup keys. A step that fails makes the steps depending on it
 * `skip`.
 *
 * Side-effect free by default: NervesHub disconnects any other connection of the same device as
 * soon as one authenticates, and a join without `currently_downloading_uuid` deletes the device's
 * in-flight update. So `auth` and `join`, which connect as the device, run only when asked
 * (`join: true`, `--join`); the TLS step already proves the device certificate is accepted.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { isNervesHubError, NervesHubError } from '../errors.js';
import { redactUrl } from '../logging/redact.js';
import { SocketErrorCodes } from '../socket/connect-errors.js';
import type { FailureContext } from '../socket/connect-errors.js';
import { describeClockOffset } from '../socket/attempt-preparer.js';
import { createSharedSecretHeaders } from '../auth/shared-secret.js';
import type { AgentConfig } from './agent-config.js';
import { loadAgentConfig } from './agent-config.js';
import { agentDeltaCapability, commonName } from './agent.js';
import { probeTcp, probeTls, probeUpgrade, withTimeout } from './doctor-probes.js';
import type { JoinFacts } from './doctor-join.js';
import { joinOnce } from './doctor-join.js';
import { checkDeltas } from './doctor-deltas.js';
import { checkKeys } from './doctor-keys.js';
import type { Prepared } from './doctor-prepare.js';
import { prepare } from './doctor-prepare.js';
import { PKCS11_DOCTOR_STEPS, PKCS11_FIXES, pkcs11PinFix, pkcs11Step } from './doctor-pkcs11.js';
import { NERVESKEY_DOCTOR_STEPS, NervesKeyDoctor, nervesKeyFix } from './doctor-nerveskey.js';
import type { I2cBusModule } from '../atecc508a/linux-i2c.js';

/**
 * The steps, in order. PKCS#11 configs add {@link PKCS11_DOCTOR_STEPS} after `config`; NervesKey
 * configs add {@link NERVESKEY_DOCTOR_STEPS} and `engine`.
 */
export const DOCTOR_STEPS = ['config', 'clock', 'dns', 'tcp', 'tls', 'auth', 'join', 'keys', 'deltas'] as const;
/** One step's name. */
export type DoctorStepName = (typeof DOCTOR_STEPS)[number] | (typeof PKCS11_DOCTOR_STEPS)[number] | (typeof NERVESKEY_DOCTOR_STEPS)[number];

/** What a step found. */
export interface DoctorStepResult {
  name: DoctorStepName;
  status: 'pass' | 'fail' | 'skip';
  /** What was checked or what went wrong. */
  detail: string;
  /** How to fix it (failures only). */
  fix?: string;
  /** Stable error code of a failure (e.g. `NH_SOCKET_UNAUTHORIZED`). */
  code?: string;
  durationMs: number;
}

/** Options of {@link runDoctorChecks}. */
export interface DoctorOptions {
  /** Device clock in Unix ms (tests). Default `Date.now`. */
  now?: () => number;
  /** Time allowed per network step (default 10 000 ms). */
  stepTimeoutMs?: number;
  /** Called after each step, for output as it happens. */
  onStep?(result: DoctorStepResult): void;
  /**
   * Also run the steps that connect as the device: the WebSocket upgrade (`auth`) and a real join
   * (`join`), which also shows whether NervesHub sends fwup keys. Default false: connecting as the
   * device disconnects a running agent with the same identity (it reconnects by itself). The join
   * sends the in-flight update recorded in `stateDir`, so NervesHub keeps it.
   */
  join?: boolean;
  /** For `auth.type: "nerveskey"`: an `i2c-bus`-compatible module to open the bus with instead of the optional `i2c-bus` package (tests, bundlers). */
  i2cBusModule?: I2cBusModule;
}

/** Defaults of {@link DoctorOptions}. */
export const DOCTOR_DEFAULTS = Object.freeze({
  stepTimeoutMs: 10_000,
  earliestPlausibleYear: 2024,
  /** A device/server clock difference past this is named in the auth step (`Date`'s 1 s resolution + latency below it). */
  clockOffsetNoticeMs: 2_000,
  /** How long the join step waits for the fwup keys NervesHub pushes after a join that asked. */
  keysWaitMs: 3_000,
});

/** Detail of the steps that connect as the device when they were not asked for. */
export const DOCTOR_NOT_JOINED =
  'not run: it connects as this device, which disconnects a running agent with the same identity; stop the agent and run doctor with --join to check it';

/** Which earlier step each step needs. */
const NEEDS: Readonly<Record<DoctorStepName, readonly DoctorStepName[]>> = Object.freeze({
  config: [],
  clock: ['config'],
  dns: ['config'],
  tcp: ['dns'],
  tls: ['tcp', 'clock'],
  auth: ['tls'],
  join: ['auth'],
  keys: ['config'],
  deltas: ['config'],
  module: ['config'],
  token: ['module'],
  pin: ['token'],
  object: ['pin'],
  engine: ['object'],
  i2c: ['config'],
  chip: ['i2c'],
  nerveskey: ['chip'],
  certs: ['nerveskey'],
});

/** CLI-specific fixes by error code (the socket's messages speak of options, doctor of device.json keys). */
const FIXES: Readonly<Record<string, string>> = Object.freeze({
  [SocketErrorCodes.dns]: 'check the host in "url" and the device\'s DNS settings (/etc/resolv.conf)',
  [SocketErrorCodes.connect]: 'check the host and port in "url", the network and any firewall between the device and NervesHub',
  [SocketErrorCodes.serverCertUntrusted]: 'set "serverCaFile" to the CA that signed NervesHub\'s certificate (omit it for a server with a public certificate)',
  [SocketErrorCodes.serverNameMismatch]: 'use the host name the server certificate names in "url", or set "serverName"',
  [SocketErrorCodes.tlsUnknownCa]: 'is the signer CA registered with NervesHub (mix nerves_hub.ca_certificate register, or the web UI), and is the device (certificate CN) registered? Send the signer certificate in the chain with auth.signerCertFile',
  [SocketErrorCodes.tlsCertificateRequired]: 'use auth.type "certificate", or a "/device-socket" URL for shared secrets',
  [SocketErrorCodes.certExpired]: 'renew the certificate, or check the device clock',
  [SocketErrorCodes.clockNotSet]: 'set the time first (NTP or an RTC)',
  [SocketErrorCodes.unauthorized]: 'register the device (or its signer CA / shared-secret key) with NervesHub',
  [SocketErrorCodes.serializer]: 'the server refused serializer vsn=2.0.0: check the URL points at a NervesHub device endpoint',
  [SocketErrorCodes.serviceUnavailable]: 'NervesHub is not accepting devices right now; try again later',
  [SocketErrorCodes.httpStatus]: 'check "url": the path must be /socket/websocket (certificates) or /device-socket/websocket (shared secrets)',
  [SocketErrorCodes.joinRefused]: 'the server refused the device topic join: check the firmware metadata in "firmware" and the server logs',
  NH_AUTH_CERT_FILE: 'check auth.certFile / auth.keyFile paths, permissions and formats (PEM or DER)',
  NH_CONFIG_INVALID: 'fix the named key in the config file',
  NH_CONFIG_UNSUPPORTED: 'use auth.type "certificate" (files) or "shared-secret"',
  NH_DELTA_NO_SOURCE: 'point "deltaSource" at what the running firmware was installed from (an archive of it, or the device fwup wrote it to), or remove "deltaSource" to receive full firmware',
  NH_DELTA_WRONG_SOURCE: 'the delta source must hold the firmware the device runs (firmware.uuid): update "firmware" or the archive, or remove "deltaSource"',
  NH_FW_NO_KEYS: 'put the fwup public key that signs your firmware (the contents of fwup-key.pub) into "fwupPublicKeys", or add a firmware signing key to the NervesHub organisation',
  ...PKCS11_FIXES,
});

function isoDay(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString().slice(0, 10) : 'an invalid date';
}

function failure(error: unknown): Pick<DoctorStepResult, 'detail' | 'fix' | 'code'> {
  const code = isNervesHubError(error) ? error.code : undefined;
  const detail = error instanceof Error ? error.message : String(error);
  const fix = code !== undefined ? FIXES[code] : undefined;
  return { detail, ...(fix ? { fix } : {}), ...(code ? { code } : {}) };
}

/**
 * Runs every check and returns one result per step (skipped steps included).
 *
 * @example
 * ```ts
 * const steps = await runDoctorChecks('/etc/nerves-hub/device.json', { onStep: (s) => console.log(s.name, s.status) });
 * const healthy = steps.every((s) => s.status === 'pass');
 * ```
 */
export async function runDoctorChecks(configFile: string, options: DoctorOptions = {}): Promise<DoctorStepResult[]> {
  const now = options.now ?? Date.now;
  const timeoutMs = options.stepTimeoutMs ?? DOCTOR_DEFAULTS.stepTimeoutMs;
  const results: DoctorStepResult[] = [];
  let prepared: Prepared | undefined;
  /** The server's `Date` minus the device clock, learned in the TLS step (ms; `Date` has 1 s resolution). */
  let serverOffsetMs: number | undefined;
  const ctx = (): FailureContext => ({
    nowMs: now(),
    authType: prepared?.resolved.auth.type ?? 'certificate',
    ...(prepared?.certificate ? { deviceCertificatePem: prepared.certificate.toString() } : {}),
  });

  const joining = options.join === true;
  /** What the join learnt about the fwup keys NervesHub sends (join step, when it ran). */
  let joined: JoinFacts | undefined;
  let pkcs11Config: AgentConfig | undefined;
  let nervesKeyConfig: AgentConfig | undefined;
  /** The config as loaded (the keys and deltas steps need it even when the engine step failed). */
  let loaded: AgentConfig | undefined;
  const chipSteps: readonly string[] = NERVESKEY_DOCTOR_STEPS;

  const step = async (name: DoctorStepName, check: () => Promise<string>, optIn = false): Promise<void> => {
    // with a PKCS#11 key every network step needs the engine step (it builds the TLS material)
    // with a NervesKey every network step needs the engine step, and that one the chip's certificates
    const hardware = pkcs11Config ?? nervesKeyConfig;
    const own = nervesKeyConfig && name === 'engine' ? (['certs'] as const) : NEEDS[name];
    const needs =
      hardware && !(PKCS11_DOCTOR_STEPS as readonly string[]).includes(name) && !chipSteps.includes(name) && name !== 'config' && name !== 'keys' ? [...own, 'engine' as const] : own;
    // A need that was only "not run" (no --join) does not make this step fail to run; the opt-in does.
    const failedNeed = needs.find((n) => {
      const need = results.find((r) => r.name === n);
      return need?.status !== 'pass' && need?.detail !== DOCTOR_NOT_JOINED;
    });
    let result: DoctorStepResult;
    if (failedNeed !== undefined) {
      result = { name, status: 'skip', detail: `skipped: the ${failedNeed} check did not pass`, durationMs: 0 };
    } else if (optIn && !joining) {
      result = { name, status: 'skip', detail: DOCTOR_NOT_JOINED, durationMs: 0 };
    } else {
      const started = performance.now();
      try {
        const detail = await check();
        result = { name, status: 'pass', detail, durationMs: performance.now() - started };
      } catch (error) {
        result = { name, status: 'fail', ...failure(error), durationMs: performance.now() - started };
        if (result.code === 'NH_PKCS11_PIN_INCORRECT' && pkcs11Config) result.fix = pkcs11PinFix(pkcs11Config);
        const chipFix = nervesKeyConfig?.auth.type === 'nerveskey' ? nervesKeyFix(error, nervesKeyConfig.auth) : undefined;
        if (chipFix !== undefined) result.fix = chipFix;
      }
    }
    results.push(result);
    options.onStep?.(result);
  };

  await step('config', async () => {
    loaded = await loadAgentConfig(configFile);
    if (loaded.auth.type === 'pkcs11') {
      pkcs11Config = loaded;
      const auth = loaded.auth;
      return `device certificate ${auth.certFile}, key ${auth.uri} in ${auth.modulePath}, firmware ${loaded.firmware.product ?? '?'} ${loaded.firmware.version ?? '?'}, ${redactUrl(loaded.url)}`;
    }
    if (loaded.auth.type === 'nerveskey') {
      // the chip is read by the steps that follow, one part at a time
      nervesKeyConfig = loaded;
      const auth = loaded.auth;
      return `NervesKey on /dev/i2c-${auth.i2cBus} at 0x${(auth.i2cAddress ?? 0x60).toString(16)} (${auth.certificateSet ?? 'primary'} certificate set), key ${auth.uri} in ${auth.modulePath}, firmware ${loaded.firmware.product ?? '?'} ${loaded.firmware.version ?? '?'}, ${redactUrl(loaded.url)}`;
    }
    prepared = await prepare(loaded, timeoutMs);
    const { config, certificate } = prepared;
    const who =
      certificate !== undefined
        ? `device ${commonName(certificate) ?? '(no CN)'} (certificate valid until ${isoDay(Date.parse(certificate.validTo))})`
        : `device ${config.auth.type === 'shared-secret' ? config.auth.identifier : '?'} (shared secret)`;
    return `${who}, firmware ${config.firmware.product ?? '?'} ${config.firmware.version ?? '?'}, ${redactUrl(config.url)}`;
  });

  if (pkcs11Config?.auth.type === 'pkcs11') {
    const auth = pkcs11Config.auth;
    for (const name of PKCS11_DOCTOR_STEPS.slice(0, -1)) await step(name, () => pkcs11Step(name, auth));
    await step('engine', async () => {
      prepared = await prepare(pkcs11Config!, timeoutMs);
      const cert = prepared.certificate;
      return `OpenSSL pkcs11 engine registered; the key loads through it and matches ${cert ? `the certificate of ${commonName(cert) ?? '(no CN)'}` : 'the certificate'}`;
    });
  }

  if (nervesKeyConfig?.auth.type === 'nerveskey') {
    const chip = new NervesKeyDoctor(nervesKeyConfig.auth, options.i2cBusModule);
    try {
      for (const name of NERVESKEY_DOCTOR_STEPS) await step(name, () => chip.step(name));
    } finally {
      await chip.close(); // the agent's provider opens the bus again for itself
    }
    await step('engine', async () => {
      prepared = await prepare(nervesKeyConfig!, timeoutMs);
      const cert = prepared.certificate;
      return `OpenSSL pkcs11 engine registered; the chip's key (${nervesKeyConfig!.auth.type === 'nerveskey' ? nervesKeyConfig!.auth.uri : ''}) loads through it and matches ${cert ? `the certificate of ${commonName(cert) ?? '(no CN)'}` : 'the certificate'}`;
    });
  }

  await step('clock', async () => {
    const nowMs = now();
    const year = new Date(nowMs).getUTCFullYear();
    if (!(year >= DOCTOR_DEFAULTS.earliestPlausibleYear)) {
      throw new NervesHubError(SocketErrorCodes.clockNotSet, `the device clock says ${isoDay(nowMs)}: set the time first (NTP or an RTC)`);
    }
    const cert = prepared?.certificate;
    if (cert === undefined) return `${new Date(nowMs).toISOString()}`;
    const from = Date.parse(cert.validFrom);
    const to = Date.parse(cert.validTo);
    if (nowMs < from) {
      throw new NervesHubError(SocketErrorCodes.clockNotSet, `the device clock says ${isoDay(nowMs)} but the device certificate is valid from ${isoDay(from)}: set the time first`);
    }
    if (nowMs > to) throw new NervesHubError(SocketErrorCodes.certExpired, `the device certificate expired on ${isoDay(to)} (device clock ${isoDay(nowMs)})`);
    return `${new Date(nowMs).toISOString()}, within the certificate's validity (${isoDay(from)} … ${isoDay(to)})`;
  });

  await step('dns', async () => {
    const { host, viaProxy } = prepared!.firstHop;
    if (viaProxy && isIP(host)) return `proxy ${host} is an IP address (no lookup needed)`;
    if (isIP(host)) return `${host} is an IP address (no lookup needed)`;
    try {
      const addresses = await withTimeout(lookup(host, { all: true }), timeoutMs, 'DNS lookup');
      return `${viaProxy ? 'proxy ' : ''}${host} → ${addresses.map((a) => a.address).join(', ')}`;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? '';
      throw new NervesHubError(SocketErrorCodes.dns, `cannot resolve ${host} (${code || (error as Error).message})`, { cause: error });
    }
  });

  await step('tcp', async () => {
    const { firstHop } = prepared!;
    const r = await probeTcp(firstHop, ctx());
    if (!r.ok) throw r.error;
    return `connected to ${firstHop.viaProxy ? 'the proxy at ' : ''}${r.value.address}`;
  });

  await step('tls', async () => {
    const p = prepared!;
    if (!p.target.secure) return 'not used: ws:// URL (development only; NervesHub devices use wss://)';
    const r = await probeTls(p.target, p.tlsOptions, ctx(), p.agent);
    if (!r.ok) throw r.error;
    if (r.value.serverDateMs !== undefined) serverOffsetMs = r.value.serverDateMs - now();
    const client = p.certificate !== undefined ? `, client certificate ${commonName(p.certificate) ?? ''} accepted` : '';
    const via = p.agent ? ' through the proxy' : '';
    return `${r.value.protocol} ${r.value.cipher}${via}; server ${r.value.serverSubject} issued by ${r.value.serverIssuer} verified${client} (GET /status/alive → ${r.value.httpStatus})`;
  });

  await step('auth', async () => {
    const p = prepared!;
    const url = new URL(`${p.resolved.endpoint}/websocket`);
    for (const [k, v] of Object.entries(p.resolved.endpointParams)) url.searchParams.set(k, v);
    url.searchParams.set('vsn', '2.0.0');
    const auth = p.resolved.auth;
    // NH1 signatures are accepted only in [server now − 90 s, server now]: like the socket after a
    // refused upgrade, sign with the server's clock (its Date header), ahead or behind.
    const signedAtMs = now() + (serverOffsetMs ?? 0);
    const headers: Record<string, string> = auth.type === 'shared-secret' ? { ...createSharedSecretHeaders({ ...auth, signedAt: Math.max(0, Math.floor(signedAtMs / 1000)) }) } : {};
    const r = await probeUpgrade(p.target, `${url.pathname}${url.search}`, p.tlsOptions, headers, ctx(), p.agent);
    if (!r.ok) throw r.error;
    let clock = '';
    if (serverOffsetMs !== undefined && Math.abs(serverOffsetMs) > DOCTOR_DEFAULTS.clockOffsetNoticeMs) {
      const how = auth.type === 'shared-secret' ? "signed with the server's time, as the socket does after its first refused attempt" : 'TLS certificates are judged by the device clock';
      clock = `; ${describeClockOffset(serverOffsetMs)} (its Date header): ${how}; sync the clock (NTP)`;
    }
    return `WebSocket upgrade on ${url.pathname} answered ${r.value.status} (${auth.type} accepted)${clock}`;
  }, true);

  await step('join', async () => {
    const p = prepared!;
    // The socket signs with the server's clock once told it; give it the corrected clock right away
    // so the join does not stop at the first (expected) refusal.
    // joins as `run` would: fwup_version (which makes NervesHub send deltas) only when deltas can be applied
    const { fwupVersion, ...socketOptions } = p.socketOptions;
    const advertise = fwupVersion !== undefined && agentDeltaCapability(p.config).canApplyDeltas;
    joined = await joinOnce(
      { ...socketOptions, ...(advertise ? { fwupVersion } : {}), now: () => now() + (serverOffsetMs ?? 0), currentlyDownloadingUuid: () => p.inFlightUuid },
      { timeoutMs, keysWaitMs: DOCTOR_DEFAULTS.keysWaitMs },
    );
    const kept = p.inFlightUuid !== null ? `; kept the in-flight update ${p.inFlightUuid} (currently_downloading_uuid)` : '';
    return `joined topic "device" in ${joined.joinMs} ms, then left${kept}`;
  }, true);

  await step('keys', async () => checkKeys((prepared?.config ?? loaded)!, joining, joined, results.find((r) => r.name === 'join')?.status === 'pass', DOCTOR_DEFAULTS.keysWaitMs));

  await step('deltas', async () => checkDeltas((prepared?.config ?? loaded)!));
  return results;
}
