import { X509Certificate } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { TlsClientMaterial } from '../auth/certificate-provider.js';
import { createSharedSecretHeaders } from '../auth/shared-secret.js';
import { NervesHubError, isNervesHubError } from '../errors.js';
import type { FirmwareMeta } from '../protocol/firmware-metadata.js';
import { SocketErrorCodes } from './connect-errors.js';
import type { ResolvedSocketOptions } from './options.js';
import { createProxyAgent } from './proxy-agent.js';
import { buildTlsOptions } from './tls-options.js';
import type { TransportOptions } from './transport.js';

/** No server message comes close; bounds memory on a hostile or broken server. */
const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

/**
 * Everything one connection attempt needs, computed fresh per attempt: NH1 headers (signed with
 * max(device clock, the server's `Date` as last seen)), the certificate provider's material, the
 * firmware metadata for the join params, TLS and proxy options.
 * @internal
 */
export class AttemptPreparer {
  readonly #o: ResolvedSocketOptions;
  readonly #warn: (message: string, data?: Record<string, unknown>) => void;
  /** Latest firmware metadata (read per attempt). */
  firmware: FirmwareMeta | undefined;
  /** Latest `fwup --version`. */
  fwupVersion: string | undefined;
  /** Our device certificate of the latest attempt (PEM), for clock/expiry diagnostics. */
  deviceCertificatePem: string | undefined;
  /** The provider's `serverCaCertificates` of the latest attempt. */
  providerServerCa: Array<string | Uint8Array> | undefined;
  #serverClockOffsetMs = 0;

  constructor(o: ResolvedSocketOptions, warn: (message: string, data?: Record<string, unknown>) => void) {
    this.#o = o;
    this.#warn = warn;
  }

  /** NH1 headers for this very attempt (synchronous: called as the attempt starts). */
  authHeaders(): Record<string, string> | undefined {
    const auth = this.#o.auth;
    if (auth.type !== 'shared-secret') return undefined;
    const nowMs = this.#o.now();
    // never sign before the server's clock as last seen (ARCHITECTURE "Protocol decisions" §4)
    const signedAt = Math.floor(Math.max(nowMs, nowMs + this.#serverClockOffsetMs) / 1000);
    return { ...createSharedSecretHeaders({ ...auth, signedAt }) };
  }

  /** Remembers the server clock from a refused upgrade's `Date` header. */
  learnServerClock(headers: IncomingHttpHeaders): void {
    const date = headers.date;
    if (typeof date !== 'string') return;
    const serverMs = Date.parse(date);
    if (Number.isFinite(serverMs)) this.#serverClockOffsetMs = serverMs - this.#o.now();
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
      if (typeof meta !== 'object' || meta === null || typeof meta.uuid !== 'string' || meta.uuid === '') throw new TypeError('firmware metadata has no uuid');
      this.firmware = meta;
      const v = this.#o.fwupVersion;
      const version = typeof v === 'function' ? await v() : v;
      if (version !== undefined) this.fwupVersion = String(version).trim();
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
