import { X509Certificate } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { TlsClientMaterial } from '../auth/certificate-provider.js';
import { createSharedSecretHeaders } from '../auth/shared-secret.js';
import { NervesHubError, isNervesHubError, invalidOptions } from '../errors.js';
import type { WireFirmwareMeta } from '../protocol/wire-firmware-meta.js';
import { SocketErrorCodes } from './connect-errors.js';
import type { ResolvedSocketOptions } from './options.js';
import { createProxyAgent } from './proxy-agent.js';
import { buildTlsOptions } from './tls-options.js';
import type { TransportOptions } from './transport.js';

/** No server message comes close; bounds memory on a hostile or broken server. */
const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;
/** A clock offset below this is `Date`'s 1 s resolution plus latency, not worth a warning. */
const CLOCK_NOTICE_MS = 2_000;

/**
 * @internal "the device clock is 300 s ahead of NervesHub" for `serverMinusDeviceMs` = −300 000
 * (or "… behind …" for a positive offset). The offset is measured from a `Date` header, which is
 * truncated to the second: half a second is added back before rounding.
 */
export function describeClockOffset(serverMinusDeviceMs: number): string {
  const centred = serverMinusDeviceMs + 500;
  const seconds = Math.round(Math.abs(centred) / 1000);
  return `the device clock is ${seconds} s ${centred < 0 ? 'ahead of' : 'behind'} NervesHub`;
}

/**
 * Everything one connection attempt needs, computed fresh per attempt: NH1 headers (signed with the
 * device clock, or the server's clock once a refused upgrade told it), the certificate provider's
 * material, the firmware metadata for the join params, TLS and proxy options.
 * @internal
 */
export class AttemptPreparer {
  readonly #o: ResolvedSocketOptions;
  readonly #warn: (message: string, data?: Record<string, unknown>) => void;
  /** Latest firmware metadata (read per attempt). */
  firmware: WireFirmwareMeta | undefined;
  /** Latest `fwup --version`. */
  fwupVersion: string | undefined;
  /** Our device certificate of the latest attempt (PEM), for clock/expiry diagnostics. */
  deviceCertificatePem: string | undefined;
  /** The provider's `serverCaCertificates` of the latest attempt. */
  providerServerCa: Array<string | Uint8Array> | undefined;
  /** Server clock minus device clock, from the last refused upgrade's `Date` (0 until one is seen). */
  #serverClockOffsetMs = 0;

  constructor(o: ResolvedSocketOptions, warn: (message: string, data?: Record<string, unknown>) => void) {
    this.#o = o;
    this.#warn = warn;
  }

  /** NH1 headers for this very attempt (synchronous: called as the attempt starts). */
  authHeaders(): Record<string, string> | undefined {
    const auth = this.#o.auth;
    if (auth.type !== 'shared-secret') return undefined;
    // The server accepts signatures from [its now − 90 s, its now]: sign with its clock whether the
    // device runs behind or ahead (nerves_hub_link only corrects a clock that is behind). `Date` is truncated to
    // the second and read after the answer travelled, so the estimate never lies in its future.
    const signedAt = Math.max(0, Math.floor((this.#o.now() + this.#serverClockOffsetMs) / 1000));
    return { ...createSharedSecretHeaders({ ...auth, signedAt }) };
  }

  /** Server clock minus device clock (ms) as last learned; 0 before any refused upgrade. */
  get serverClockOffsetMs(): number {
    return this.#serverClockOffsetMs;
  }

  /**
   * Remembers the server clock from a refused upgrade's `Date` header (401, or 403 from older
   * servers): the next attempts sign with it. Other answers may come from a proxy: ignored.
   */
  learnServerClock(status: number, headers: IncomingHttpHeaders): void {
    if (status !== 401 && status !== 403) return;
    const date = headers.date;
    if (typeof date !== 'string') return;
    const serverMs = Date.parse(date);
    if (!Number.isFinite(serverMs)) return;
    const offset = serverMs - this.#o.now();
    const before = this.#serverClockOffsetMs;
    this.#serverClockOffsetMs = offset;
    if (this.#o.auth.type === 'shared-secret' && Math.abs(offset) > CLOCK_NOTICE_MS && Math.abs(offset - before) > CLOCK_NOTICE_MS) {
      this.#warn(`${describeClockOffset(offset)}; signing with the server's clock (sync the device clock with NTP)`);
    }
  }

  /** The ws options of the attempt. Rejects with a NervesHubError the socket reports. */
  async options(signal: AbortSignal, headers: Record<string, string> | undefined): Promise<TransportOptions> {
    await this.#refreshFirmware();
    let material: TlsClientMaterial | undefined;
    if (this.#o.auth.type === 'certificate') {
      material = await this.#o.auth.provider.getTlsMaterial({ signal });
      const first = material?.certificateChain?.[0];
      const ca = material?.serverCaCertificates;
      this.providerServerCa = Array.isArray(ca) && ca.length > 0 ? [...ca] : undefined;
      this.deviceCertificatePem = first === undefined ? undefined : certificatePem(first);
    }
    const tls = this.#o.secure ? buildTlsOptions(this.#o, material) : {};
    if (!this.#o.secure && material) this.#warn('ws:// URL: the client certificate cannot be used without TLS');
    const options: TransportOptions = {
      ...tls,
      ...(headers ? { headers } : {}),
      handshakeTimeout: this.#o.connectTimeoutMs,
      perMessageDeflate: true,
      followRedirects: true,
      maxRedirects: 2,
      maxPayload: MAX_PAYLOAD_BYTES,
    };
    if (this.#o.proxy) options.agent = createProxyAgent({ proxyUrl: this.#o.proxy, secure: this.#o.secure, connectTimeoutMs: this.#o.connectTimeoutMs });
    return options;
  }

  async #refreshFirmware(): Promise<void> {
    try {
      const f = this.#o.firmware;
      const meta = typeof f === 'function' ? await f() : f;
      if (typeof meta !== 'object' || meta === null || typeof meta.uuid !== 'string' || meta.uuid === '') throw invalidOptions('firmware metadata has no uuid');
      this.firmware = meta;
      const v = this.#o.fwupVersion;
      const version = typeof v === 'function' ? await v() : v;
      // an empty answer means "do not report one" (e.g. fwup missing, or no delta support)
      if (version !== undefined) this.fwupVersion = String(version).trim() || undefined;
    } catch (error) {
      if (this.firmware) {
        this.#warn('firmware metadata callback failed; using the last value', { error: errorText(error) });
        return;
      }
      throw new NervesHubError(SocketErrorCodes.firmwareMetadata, `cannot read the running firmware's metadata: ${errorText(error)}`, { cause: error });
    }
  }
}

function certificatePem(cert: string | Uint8Array): string | undefined {
  try {
    return new X509Certificate(cert).toString();
  } catch {
    return undefined;
  }
}

/** @internal A one-line description of anything thrown. */
export function errorText(error: unknown): string {
  if (isNervesHubError(error)) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
