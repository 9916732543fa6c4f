import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from '../../logging/logger.js';
import type { WireFirmwareMeta } from '../../protocol/wire-firmware-meta.js';
import type { FirmwareHost } from '../firmware-host.js';
import type { TestCertificateAuthority } from '../test-ca.js';

/**
 * Options of {@link NervesHubTestServer.start}.
 *
 * @example
 * ```ts
 * const server = await NervesHubTestServer.start({ fwupPublicKeys: [pub], autoRegister: true, enableTls13: true });
 * ```
 */
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

/**
 * One Phoenix frame a device sent, as recorded by the server.
 *
 * @example
 * ```ts
 * const frame: DeviceFrame = await server.waitForFrame((f) => f.identifier === id && f.event === 'status_update');
 * expect(frame.payload).toEqual({ status: 'received' });
 * ```
 */
export interface DeviceFrame {
  /** The authenticated device identifier. */
  readonly identifier: string;
  /** Sequence number of the connection it came over (see {@link UpgradeRecord.connectionId}). */
  readonly connectionId: number;
  /** Phoenix join reference (`null` outside a channel). */
  readonly joinRef: string | null;
  /** Phoenix message reference (`null` for pushes without a reply). */
  readonly ref: string | null;
  /** Channel topic, e.g. `device`. */
  readonly topic: string;
  /** Event name, e.g. `status_update`. */
  readonly event: string;
  /** Decoded payload, as sent. */
  readonly payload: unknown;
  /** Server clock (ms) at receipt. */
  readonly at: number;
}

/**
 * One frame the server sent to a device.
 *
 * @example
 * ```ts
 * const pushed = server.sentFrames.filter((f) => f.identifier === id && f.event === 'fwup_public_keys');
 * ```
 */
export interface ServerFrame {
  /** The device it was sent to. */
  readonly identifier: string;
  /** Sequence number of the connection it went over. */
  readonly connectionId: number;
  /** Phoenix join reference. */
  readonly joinRef: string | null;
  /** Phoenix message reference. */
  readonly ref: string | null;
  /** Channel topic. */
  readonly topic: string;
  /** Event name, e.g. `update`. */
  readonly event: string;
  /** The payload, as sent. */
  readonly payload: unknown;
  /** Server clock (ms) when sent. */
  readonly at: number;
}

/**
 * A text/binary frame the server could not decode (the connection is closed with 1011, like Phoenix).
 *
 * @example
 * ```ts
 * expect(server.malformedFrames).toEqual([]); // the device never sent an undecodable frame
 * ```
 */
export interface MalformedFrameRecord {
  /** The device that sent it. */
  readonly identifier: string;
  /** Sequence number of the connection. */
  readonly connectionId: number;
  /** The undecodable data: the text, or base64 of a binary frame. */
  readonly data: string;
  /** Server clock (ms) at receipt. */
  readonly at: number;
}

/** How a device authenticated. */
export type AuthMethod = 'certificate' | 'shared-secret';

/**
 * A snapshot of one open device connection.
 *
 * @example
 * ```ts
 * const [info] = server.connections().filter((c) => c.identifier === 'NH-0001');
 * expect(info?.authMethod).toBe('certificate');
 * ```
 */
export interface ConnectionInfo {
  /** The authenticated device identifier. */
  readonly identifier: string;
  /** Sequence number of the connection. */
  readonly connectionId: number;
  /** How the device authenticated. */
  readonly authMethod: AuthMethod;
  /** Topics joined on this connection. */
  readonly joinedTopics: readonly string[];
  /** True while {@link NervesHubTestServer.stall} holds the connection's frames. */
  readonly stalled: boolean;
}

/**
 * One WebSocket upgrade attempt, for wire-level assertions.
 *
 * @example
 * ```ts
 * const upgrade = await server.waitForUpgrade((u) => u.status === 401);
 * expect(upgrade.headers['x-nh-key']).toBe('nhp_test');
 * ```
 */
export interface UpgradeRecord {
  /** Sequence number given to this attempt (also on its frames). */
  readonly connectionId: number;
  /** Request path, e.g. `/socket/websocket`. */
  readonly path: string;
  /** Query parameters, e.g. `{ vsn: '2.0.0' }`. */
  readonly query: Readonly<Record<string, string>>;
  /** Request headers (NH1 `x-nh-*` included, for assertions). */
  readonly headers: IncomingHttpHeaders;
  /** Server clock (ms) of the request. */
  readonly at: number;
  /** HTTP status answered (101 when accepted). */
  readonly status: number;
  /** The device identifier, when authentication got that far. */
  readonly identifier?: string;
  /** How the device tried to authenticate, when known. */
  readonly authMethod?: AuthMethod;
  /** Internal reason of a refusal (e.g. `expired`, `device_not_registered`, `no_auth`, `bad_vsn`). */
  readonly refusal?: string;
}

/**
 * A TLS connection dropped because its client certificate did not verify.
 *
 * @example
 * ```ts
 * // after a device with an expired certificate tried to connect:
 * expect(server.tlsRejections.map((r) => r.reason)).toContain('CERT_HAS_EXPIRED');
 * ```
 */
export interface TlsRejectionRecord {
  /** Server clock (ms) of the rejection. */
  readonly at: number;
  /** OpenSSL's verification error, e.g. `CERT_HAS_EXPIRED`, `UNABLE_TO_VERIFY_LEAF_SIGNATURE`. */
  readonly reason: string;
  /** CN of the refused certificate, when readable. */
  readonly commonName?: string;
}

/**
 * Fields of an `update` push (see nerves_hub_web `update_payload.ex`).
 *
 * @example
 * ```ts
 * server.pushUpdate('NH-0001', { firmwareUrl: server.hostFirmware('app.fw', bytes), firmwareMeta: { uuid, version: '1.0.1' }, size: bytes.length });
 * ```
 */
export interface UpdateOffer {
  /** Absolute firmware URL (use {@link NervesHubTestServer.hostFirmware}). */
  firmwareUrl: string;
  /** Metadata of the target firmware; missing optional fields are sent as `null`. */
  firmwareMeta: WireFirmwareMeta;
  /** File size in bytes (`null`/absent: not sent). */
  size?: number | null;
  /** Upper-case hex SHA-256 of the whole file. */
  checksum?: string | null;
  /** One SHA-256 per MiB part. */
  partialsChecksums?: string[] | null;
  /** `null` for a manual push. */
  deploymentId?: number | null;
}

/**
 * The JSON `update` payload exactly as the server sends it.
 *
 * @example
 * ```ts
 * const payload: UpdatePayload = server.pushUpdate(id, offer);
 * expect(payload.firmware_meta.uuid).toBe(uuid);
 * ```
 */
export interface UpdatePayload {
  /** Always `true` for a real offer. */
  update_available: true;
  /** The firmware URL. */
  firmware_url: string;
  /** The firmware's metadata, every key of {@link WireFirmwareMeta} present. */
  firmware_meta: Record<string, string | null>;
  /** File size in bytes. */
  size: number | null;
  /** Upper-case hex SHA-256 of the whole file. */
  checksum: string | null;
  /** SHA-256 per MiB part. */
  partials_checksums: string[] | null;
  /** Deployment group id, `null` for a manual push. */
  deployment_id: number | null;
}

/**
 * Refusal rule armed by {@link NervesHubTestServer.refuseUpgrades}.
 *
 * @example
 * ```ts
 * server.refuseUpgrades({ status: 503, count: 2 }); // the next two connection attempts get 503
 * ```
 */
export interface RefuseUpgradesOptions {
  /** 401 (invalid auth) or 503 (platform unavailable). */
  status: 401 | 503;
  /** How many upgrades to refuse (default: all until {@link NervesHubTestServer.acceptUpgrades}). */
  count?: number;
  /** Sets the `nh-connection-error-reason` header and body (503 default: the real server's text). */
  reason?: string;
}

/**
 * Options of the `waitFor…` helpers.
 *
 * @example
 * ```ts
 * await server.waitForJoin('NH-0001', { timeoutMs: 2_000, signal: AbortSignal.timeout(2_000) });
 * ```
 */
export interface WaitOptions {
  /** Give up after this long (default 5000 ms). */
  timeoutMs?: number;
  /** Abort the wait early. */
  signal?: AbortSignal;
}
