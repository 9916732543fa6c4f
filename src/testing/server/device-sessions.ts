/**
 * The device WebSockets of the test server once accepted: each becomes a {@link DeviceConnection}
 * (a newer one of the same device closes the older), its frames are decoded, recorded and routed to
 * the channels, and a `device` join is followed by nerves_hub_web's after-join pushes (keys,
 * `extensions:get`, queued updates, the fleet deployment).
 */
import type { RawData, WebSocket } from 'ws';
import type { Logger } from '../../logging/logger.js';
import { safeLog } from '../../logging/logger.js';
import { routeDeviceMessage } from './device-channels.js';
import type { ChannelContext } from './device-channels.js';
import { DeviceConnection } from './device-connection.js';
import type { DeviceRegistry } from './device-registry.js';
import { decodePhoenixFrame } from './phoenix-frame.js';
import { buildUpdatePayload } from './update-payload.js';
import type { AuthMethod, ConnectionInfo, DeviceFrame, MalformedFrameRecord, NervesHubTestServerOptions, ServerFrame, UpdateOffer, UpdatePayload } from './types.js';

/** Defaults of the device sockets, mirroring nerves_hub_web's configuration. */
const SESSION_DEFAULTS = Object.freeze({
  idleTimeoutMs: 180_000,
  /** Phoenix `{:shutdown, :disconnected}` after the `disconnect` broadcast ends with a normal close. */
  duplicateCloseCode: 1000,
  /** Phoenix closes a socket whose frame it cannot decode (the handler crashes). */
  malformedCloseCode: 1011,
});

/** Parses `x.y.z` (missing/unparseable → 1.0.0, like the server). */
function apiVersionAtLeast(value: unknown, major: number, minor: number): boolean {
  const match = typeof value === 'string' ? /^(\d+)\.(\d+)\.(\d+)/.exec(value) : null;
  const [maj, min] = match ? [Number(match[1]), Number(match[2])] : [1, 0];
  return maj > major || (maj === major && min >= minor);
}

/** What the sessions need from their owner. */
export interface SessionHooks {
  readonly options: NervesHubTestServerOptions;
  readonly registry: DeviceRegistry;
  readonly logger: Logger;
  now(): number;
  /** Wakes the owner's waits after a record was added or a connection came or went. */
  notify(): void;
}

/** The device-socket side of {@link NervesHubTestServer}: open connections and what they sent. */
export class DeviceSessions {
  /** Every frame devices sent, in arrival order (heartbeats and joins included). */
  readonly frames: DeviceFrame[] = [];
  /** Every frame the server sent to devices. */
  readonly sent: ServerFrame[] = [];
  /** Frames that could not be decoded. */
  readonly malformed: MalformedFrameRecord[] = [];
  readonly #hooks: SessionHooks;
  /** Joins whose after-join pushes have been sent, per device. */
  readonly #settledJoins = new Map<string, number>();
  readonly #connections = new Set<DeviceConnection>();
  #extensions: string[];
  #refusedExtensions = new Set<string>();
  #deployment: UpdatePayload | undefined;

  constructor(hooks: SessionHooks) {
    this.#hooks = hooks;
    this.#extensions = [...(hooks.options.extensions ?? [])];
  }

  /** Every connection whose close has not been seen yet (ones being closed included). */
  get all(): ReadonlySet<DeviceConnection> {
    return this.#connections;
  }
  /** Open connections of `identifier` (superseded or closing ones excluded). */
  of(identifier: string): DeviceConnection[] {
    return [...this.#connections].filter((c) => c.identifier === identifier && !c.closed);
  }
  /** The open connection of `identifier` with a joined `device` topic. */
  joined(identifier: string): DeviceConnection | undefined {
    return this.of(identifier).find((c) => c.joins.has('device'));
  }
  /** Identifiers with an open connection. */
  connectedDevices(): string[] {
    return [...new Set([...this.#connections].filter((c) => !c.closed).map((c) => c.identifier))];
  }
  /** A snapshot of the open connections. */
  connectionInfo(): ConnectionInfo[] {
    return [...this.#connections]
      .filter((c) => !c.closed)
      .map((c) => ({ identifier: c.identifier, connectionId: c.connectionId, authMethod: c.authMethod, joinedTopics: [...c.joins.keys()], stalled: c.stalled }));
  }
  /** How many `device` joins of `identifier` have had their after-join pushes sent. */
  settledJoinCount(identifier: string): number {
    return this.#settledJoins.get(identifier) ?? 0;
  }
  /** Sets the names the `extensions` join answers with. */
  setExtensions(names: readonly string[]): void {
    this.#extensions = [...names];
  }
  /** Answers the device's pushes of these extensions with `detach`. */
  refuseExtensionPushes(names: readonly string[]): void {
    this.#refusedExtensions = new Set(names);
  }
  /** Sets (or with `undefined` removes) the fleet deployment and offers it to the joined devices. */
  setDeployment(offer: UpdateOffer | undefined): void {
    this.#deployment = offer ? buildUpdatePayload({ deploymentId: 1, ...offer }) : undefined;
    for (const connection of this.#connections) this.#offerDeployment(connection);
  }

  /** Takes over a WebSocket the endpoint accepted for an authenticated device. */
  accept(ws: WebSocket, identifier: string, method: AuthMethod, connectionId: number): void {
    const connection = new DeviceConnection(identifier, connectionId, method, ws, {
      now: () => this.#hooks.now(),
      onSent: (frame) => this.sent.push(frame),
    });
    // A newer connection of the same device closes the older ones (the `disconnect` broadcast).
    for (const older of this.of(identifier)) older.close(SESSION_DEFAULTS.duplicateCloseCode);
    this.#connections.add(connection);
    safeLog(this.#hooks.logger, 'info', 'test server: device connected', { identifier, method, connectionId });
    const idleMs = this.#hooks.options.idleTimeoutMs ?? SESSION_DEFAULTS.idleTimeoutMs;
    const idle = setTimeout(() => connection.terminate(), idleMs);
    idle.unref();
    ws.on('error', () => undefined);
    ws.on('message', (data: RawData, isBinary: boolean) => {
      idle.refresh();
      this.#onMessage(connection, data, isBinary);
    });
    ws.on('close', () => {
      clearTimeout(idle);
      connection.closed = true;
      this.#connections.delete(connection);
      safeLog(this.#hooks.logger, 'info', 'test server: device disconnected', { identifier, connectionId });
      this.#hooks.notify();
    });
    this.#hooks.notify();
  }

  #onMessage(connection: DeviceConnection, data: RawData, isBinary: boolean): void {
    if (connection.closed) return; // superseded or being closed: Phoenix has stopped this socket
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data instanceof ArrayBuffer ? new Uint8Array(data) : data);
    const text = bytes.toString('utf8');
    const message = isBinary ? undefined : decodePhoenixFrame(text);
    const at = this.#hooks.now();
    if (!message) {
      this.malformed.push({ identifier: connection.identifier, connectionId: connection.connectionId, data: isBinary ? bytes.toString('base64') : text, at });
      connection.close(SESSION_DEFAULTS.malformedCloseCode);
      this.#hooks.notify();
      return;
    }
    this.frames.push({ identifier: connection.identifier, connectionId: connection.connectionId, ...message, at });
    if (!connection.stalled) routeDeviceMessage(connection, message, this.#channelContext);
    this.#hooks.notify();
  }

  readonly #channelContext: ChannelContext = {
    extensionNames: () => this.#extensions,
    refusedExtensions: () => this.#refusedExtensions,
    onDeviceJoined: (connection, params) => {
      this.#hooks.registry.recordJoin(connection.identifier, params);
      // Like DeviceLink.after_join: the pushes follow the join reply asynchronously.
      setImmediate(() => this.#afterJoin(connection, params));
    },
  };

  #afterJoin(connection: DeviceConnection, params: Record<string, unknown>): void {
    this.#settledJoins.set(connection.identifier, (this.#settledJoins.get(connection.identifier) ?? 0) + 1);
    if (connection.closed) {
      this.#hooks.notify();
      return;
    }
    if (params['fwup_public_keys'] === 'on_connect') connection.push('device', 'fwup_public_keys', { keys: [...this.#hooks.registry.fwupPublicKeys] });
    if (params['archive_public_keys'] === 'on_connect') connection.push('device', 'archive_public_keys', { keys: [...this.#hooks.registry.archivePublicKeys] });
    if (apiVersionAtLeast(params['device_api_version'], 2, 2)) connection.push('device', 'extensions:get', {});
    for (const payload of this.#hooks.registry.takeQueuedUpdates(connection.identifier)) connection.push('device', 'update', payload);
    this.#offerDeployment(connection);
    this.#hooks.notify();
  }

  #offerDeployment(connection: DeviceConnection): void {
    const target = this.#deployment;
    const params = connection.deviceJoinParams;
    // The in-flight update of the real server: the same offer is not repeated on one connection.
    const key = target ? JSON.stringify(target) : undefined;
    if (!target || !params || connection.closed || connection.deploymentOffered === key) return;
    const downloading = params['currently_downloading_uuid'];
    if (params['nerves_fw_uuid'] === target.firmware_meta['uuid']) return;
    if (typeof downloading === 'string' && downloading !== '') return;
    if (connection.push('device', 'update', target)) connection.deploymentOffered = key;
  }
}
