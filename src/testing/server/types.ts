import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from '../../internal/logger.js';
import type { FirmwareMeta } from '../../protocol/firmware-metadata.js';
import type { FirmwareHost } from '../firmware-host.js';
import type { TestCertificateAuthority } from '../test-ca.js';

/** Options of {@link NervesHubTestServer.start}. */
export interface NervesHubTestServerOptions {
  /** CA that issues the server certificate and device certificates (default: a fresh one). */
  ca?: TestCertificateAuthority;
  /** Accept any CN signed by a registered CA and register the device (like a JITP profile). Default false. */
  autoRegister?: boolean;
  /** The server's clock in Unix ms (used for NH1 age checks and the `Date` header). Default `Date.now`. */
  now?: () => number;
  /** NH1 signature max age in seconds (nerves_hub_web: 90). */
  sharedSecretMaxAgeSeconds?: number;
  /** `false` imitates a server without `DEVICE_SHARED_SECRETS_ENABLED` (every NH1 attempt → 401). Default true. */
  sharedSecretsEnabled?: boolean;
  /** Names returned by the `extensions` join (default `[]`). */
  extensions?: string[];
  /** The org's fwup public keys (base64 Ed25519) sent when a device joins with `fwup_public_keys: "on_connect"`. */
  fwupPublicKeys?: string[];
  /** The org's archive public keys, sent for `archive_public_keys: "on_connect"`. */
  archivePublicKeys?: string[];
  /** Allow TLS 1.3 (nerves_hub_web: only with `DEVICE_ENABLE_TLS_13=true`). Default false: TLS 1.2 only. */
  enableTls13?: boolean;
  /** Port to listen on (default 0 = random). */
  port?: number;
  /** Where unknown paths are redirected (nerves_hub_web `DEVICE_ENDPOINT_REDIRECT`). */
  redirectLocation?: string;
  /** Serves firmware files on the same HTTPS listener (default: a new `FirmwareHost`, paths `/firmware/…`). */
  firmwareHost?: FirmwareHost;
  /**
   * Where a certificate whose CN is not a registered device is refused: `'tls'` (default) drops the
   * connection right after the handshake, like nerves_hub_web's verify_fun refusing
   * `:device_not_registered` during the handshake; `'upgrade'` answers the WebSocket upgrade with 401
   * (`:invalid_auth`) instead, for tests that want to see an HTTP refusal.
   */
  unregisteredDeviceRefusal?: 'upgrade' | 'tls';
  /** Close a connection after this long without any frame from the device (nerves_hub_web: 180 000). */
  idleTimeoutMs?: number;
  /** Negotiate permessage-deflate like the real endpoint (`compress: true`). Default true. */
  compress?: boolean;
  /** Log sink (default silent). */
  logger?: Logger;
}

/** One Phoenix frame a device sent, as recorded by the server. */
export interface DeviceFrame {
  /** The authenticated device identifier. */
  readonly identifier: string;
  /** Sequence number of the connection it came over (see {@link UpgradeRecord.connectionId}). */
  readonly connectionId: number;
  readonly joinRef: string | null;
  readonly ref: string | null;
  readonly topic: string;
  readonly event: string;
  readonly payload: unknown;
  /** Server clock (ms) at receipt. */
  readonly at: number;
}

/** One frame the server sent to a device. */
export interface ServerFrame {
  readonly identifier: string;
  readonly connectionId: number;
  readonly joinRef: string | null;
  readonly ref: string | null;
  readonly topic: string;
  readonly event: string;
  readonly payload: unknown;
  readonly at: number;
}

/** A text/binary frame the server could not decode (the connection is closed with 1011, like Phoenix). */
export interface MalformedFrameRecord {
  readonly identifier: string;
  readonly connectionId: number;
  readonly data: string;
  readonly at: number;
}

/** How a device authenticated. */
export type AuthMethod = 'certificate' | 'shared-secret';

/** A snapshot of one open device connection. */
export interface ConnectionInfo {
  readonly identifier: string;
  readonly connectionId: number;
  readonly authMethod: AuthMethod;
  /** Topics joined on this connection. */
  readonly joinedTopics: readonly string[];
  readonly stalled: boolean;
}

/** One WebSocket upgrade attempt, for wire-level assertions. */
export interface UpgradeRecord {
  readonly connectionId: number;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly headers: IncomingHttpHeaders;
  readonly at: number;
  /** HTTP status answered (101 when accepted). */
  readonly status: number;
  readonly identifier?: string;
  readonly authMethod?: AuthMethod;
  /** Internal reason of a refusal (e.g. `expired`, `device_not_registered`, `no_auth`, `bad_vsn`). */
  readonly refusal?: string;
}

/** A TLS connection dropped because its client certificate did not verify. */
export interface TlsRejectionRecord {
  readonly at: number;
  /** OpenSSL's verification error, e.g. `CERT_HAS_EXPIRED`, `UNABLE_TO_VERIFY_LEAF_SIGNATURE`. */
  readonly reason: string;
  readonly commonName?: string;
}

/** Fields of an `update` push (see nerves_hub_web `update_payload.ex`). */
export interface UpdateOffer {
  /** Absolute firmware URL (use {@link NervesHubTestServer.hostFirmware}). */
  firmwareUrl: string;
  /** Metadata of the target firmware; missing optional fields are sent as `null`. */
  firmwareMeta: FirmwareMeta;
  size?: number | null;
  /** Upper-case hex SHA-256 of the whole file. */
  checksum?: string | null;
  /** One SHA-256 per MiB part. */
  partialsChecksums?: string[] | null;
  /** `null` for a manual push. */
  deploymentId?: number | null;
}

/** The JSON `update` payload exactly as the server sends it. */
export interface UpdatePayload {
  update_available: true;
  firmware_url: string;
  firmware_meta: Record<string, string | null>;
  size: number | null;
  checksum: string | null;
  partials_checksums: string[] | null;
  deployment_id: number | null;
}

/** Refusal rule armed by {@link NervesHubTestServer.refuseUpgrades}. */
export interface RefuseUpgradesOptions {
  /** 401 (invalid auth) or 503 (platform unavailable). */
  status: 401 | 503;
  /** How many upgrades to refuse (default: all until {@link NervesHubTestServer.acceptUpgrades}). */
  count?: number;
  /** Sets the `nh-connection-error-reason` header and body (503 default: the real server's text). */
  reason?: string;
}

/** Options of the `waitFor…` helpers. */
export interface WaitOptions {
  /** Give up after this long (default 5000 ms). */
  timeoutMs?: number;
  /** Abort the wait early. */
  signal?: AbortSignal;
}
