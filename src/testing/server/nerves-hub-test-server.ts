import { NervesHubError } from '../../errors.js';
import type { Logger } from '../../logging/logger.js';
import { silentLogger } from '../../logging/logger.js';
import { FirmwareHost } from '../firmware-host.js';
import type { IssuedCertificate } from '../test-ca.js';
import { TestCertificateAuthority } from '../test-ca.js';
import { DeviceEndpoint } from './device-endpoint.js';
import { DeviceRegistry } from './device-registry.js';
import { DeviceSessions } from './device-sessions.js';
import { buildUpdatePayload } from './update-payload.js';
import { Waiters } from './waiters.js';
import type {
  ConnectionInfo,
  DeviceFrame,
  MalformedFrameRecord,
  NervesHubTestServerOptions,
  RefuseUpgradesOptions,
  ServerFrame,
  TlsRejectionRecord,
  UpdateOffer,
  UpdatePayload,
  UpgradeRecord,
  WaitOptions,
} from './types.js';

/** Defaults of {@link NervesHubTestServer}, mirroring nerves_hub_web's configuration. */
const SERVER_DEFAULTS = Object.freeze({
  /** Close code used by {@link NervesHubTestServer.restart} (newer Phoenix drainer: Service Restart). */
  restartCloseCode: 1012,
  restartGraceMs: 200,
});

/**
 * A local NervesHub device endpoint for tests: HTTPS + WebSocket on 127.0.0.1 with real mTLS and
 * NH1 shared-secret authentication, the Phoenix V2 JSON channel protocol of nerves_hub_web, records
 * of everything devices send, and fault injection. Firmware is served from the same listener.
 *
 * @example
 * ```ts
 * const server = await NervesHubTestServer.start();
 * const device = await server.issueDeviceCertificate('NH-0001');
 * // connect the device to server.url with device.certPem/keyPem, trusting server.serverCaPem
 * const params = await server.waitForJoin('NH-0001');
 * server.pushUpdate('NH-0001', { firmwareUrl: server.hostFirmware('app.fw', bytes), firmwareMeta: { uuid } });
 * await server.waitForFrame((f) => f.event === 'status_update');
 * await server.close();
 * ```
 */
export class NervesHubTestServer {
  /** The CA that issued the server certificate (and, by default, device certificates). */
  readonly ca: TestCertificateAuthority;
  /** The firmware host mounted under `/firmware/` on the same listener. */
  readonly firmware: FirmwareHost;
  readonly #options: NervesHubTestServerOptions;
  readonly #logger: Logger;
  readonly #registry = new DeviceRegistry();
  readonly #waiters = new Waiters();
  readonly #sessions: DeviceSessions;
  readonly #endpoint: DeviceEndpoint;
  #closed = false;

  private constructor(options: NervesHubTestServerOptions, ca: TestCertificateAuthority, serverCert: IssuedCertificate) {
    this.#options = options;
    this.ca = ca;
    this.#logger = options.logger ?? silentLogger;
    this.firmware = options.firmwareHost ?? new FirmwareHost();
    this.#registry.setFwupPublicKeys(options.fwupPublicKeys ?? []);
    this.#registry.setArchivePublicKeys(options.archivePublicKeys ?? []);
    this.#registry.registerSignerCa(ca.certPem);
    this.#sessions = new DeviceSessions({ options, registry: this.#registry, logger: this.#logger, now: () => this.#now(), notify: () => this.#waiters.notify() });
    this.#endpoint = new DeviceEndpoint(
      {
        options,
        registry: this.#registry,
        firmware: this.firmware,
        logger: this.#logger,
        now: () => this.#now(),
        notify: () => this.#waiters.notify(),
        onAccepted: (ws, identifier, method, connectionId) => this.#sessions.accept(ws, identifier, method, connectionId),
      },
      serverCert,
    );
  }

  /** Creates the CA and certificates and starts listening on 127.0.0.1. */
  static async start(options: NervesHubTestServerOptions = {}): Promise<NervesHubTestServer> {
    const ca = options.ca ?? (await TestCertificateAuthority.create({ commonName: 'NervesHubTestServer CA' }));
    const serverCert = await ca.issueServerCertificate();
    const server = new NervesHubTestServer(options, ca, serverCert);
    await server.#endpoint.listen(options.port ?? 0);
    return server;
  }

  /** PEM of the CA devices must trust for the server certificate. */
  get serverCaPem(): string {
    return this.ca.certPem;
  }
  /** The listening port. */
  get port(): number {
    return this.#endpoint.port;
  }
  /** `wss://127.0.0.1:PORT` (append `/socket/websocket` or `/device-socket/websocket`). */
  get url(): string {
    return `wss://127.0.0.1:${this.port}`;
  }
  /** `https://127.0.0.1:PORT`. */
  get httpsUrl(): string {
    return `https://127.0.0.1:${this.port}`;
  }
  /** Every frame devices sent, in arrival order (heartbeats and joins included). */
  get frames(): readonly DeviceFrame[] {
    return this.#sessions.frames;
  }
  /** Every frame the server sent to devices. */
  get sentFrames(): readonly ServerFrame[] {
    return this.#sessions.sent;
  }
  /** Frames that could not be decoded (each closed its connection with 1011). */
  get malformedFrames(): readonly MalformedFrameRecord[] {
    return this.#sessions.malformed;
  }
  /** Every WebSocket upgrade attempt on a socket path, accepted or refused. */
  get upgrades(): readonly UpgradeRecord[] {
    return this.#endpoint.upgrades;
  }
  /** TLS connections dropped because the client certificate failed verification. */
  get tlsRejections(): readonly TlsRejectionRecord[] {
    return this.#endpoint.tlsRejections;
  }

  // ------------------------------------------------------------------ identities

  /** Trusts `pem` as a device signer CA (like registering a CA certificate in an org). */
  registerSignerCa(pem: string): void {
    this.#registry.registerSignerCa(pem);
    this.#endpoint.refreshTlsContext();
  }
  /** Registers a device identifier (certificate CN / shared-secret identifier). */
  registerDevice(identifier: string): void {
    this.#registry.registerDevice(identifier);
  }
  /** True when the identifier is a registered device. */
  isRegistered(identifier: string): boolean {
    return this.#registry.isRegistered(identifier);
  }
  /**
   * Issues a device certificate (CN = identifier) from the server's CA and registers the device
   * unless `register: false`.
   */
  async issueDeviceCertificate(identifier: string, options: { notBefore?: Date; notAfter?: Date; publicKeyPem?: string; register?: boolean } = {}): Promise<IssuedCertificate> {
    const issued = await this.ca.issueDeviceCertificate({ commonName: identifier, notBefore: options.notBefore, notAfter: options.notAfter, publicKeyPem: options.publicKeyPem });
    if (options.register !== false) this.registerDevice(identifier);
    return issued;
  }
  /** Adds a product key (`nhp_…`): any identifier may connect; unknown devices are created. */
  addProductKey(key: string, secret: string): void {
    this.#registry.addCredential({ key, secret, kind: 'product' });
  }
  /** Adds a device key (`nhd_…`) bound to `identifier` and registers that device. */
  addDeviceKey(key: string, secret: string, identifier: string): void {
    this.#registry.addCredential({ key, secret, kind: 'device', identifier });
    this.registerDevice(identifier);
  }
  /** Deactivates a shared-secret key (later attempts with it are refused). */
  removeSharedSecretKey(key: string): void {
    this.#registry.removeCredential(key);
  }
  /** Sets the org's fwup public keys pushed on `fwup_public_keys: "on_connect"`. */
  setOrgFwupPublicKeys(keys: readonly string[]): void {
    this.#registry.setFwupPublicKeys(keys);
  }
  /** Sets the org's archive public keys pushed on `archive_public_keys: "on_connect"`. */
  setOrgArchivePublicKeys(keys: readonly string[]): void {
    this.#registry.setArchivePublicKeys(keys);
  }
  /** Sets the names the `extensions` join answers with. */
  setExtensions(names: readonly string[]): void {
    this.#sessions.setExtensions(names);
  }

  // ------------------------------------------------------------------ observing

  /** Identifiers with an open, authenticated WebSocket. */
  connectedDevices(): string[] {
    return this.#sessions.connectedDevices();
  }
  /** A snapshot of the open connections. */
  connections(): ConnectionInfo[] {
    return this.#sessions.connectionInfo();
  }
  /** How many times `identifier` joined the `device` topic. */
  joinCount(identifier: string): number {
    return this.#registry.device(identifier)?.joinCount ?? 0;
  }
  /** The params of the latest `device` join of `identifier`. */
  lastJoinParams(identifier: string): Record<string, unknown> | undefined {
    return this.#registry.device(identifier)?.lastJoinParams;
  }
  /**
   * Resolves with the first recorded frame (past or future, from index `fromIndex`) matching `predicate`.
   * @throws NervesHubError `NH_TEST_SERVER_TIMEOUT` after `timeoutMs`, `NH_TEST_SERVER_ABORTED` when
   *   `signal` fires, `NH_TEST_SERVER_CLOSED` when the server closes (as a rejection).
   */
  waitForFrame(predicate: (frame: DeviceFrame) => boolean, options: WaitOptions & { fromIndex?: number } = {}): Promise<DeviceFrame> {
    let index = options.fromIndex ?? 0;
    return this.#waiters.waitFor(
      'a matching device frame',
      () => {
        for (; index < this.#sessions.frames.length; index++) {
          const frame = this.#sessions.frames[index];
          if (frame && predicate(frame)) return frame;
        }
        return undefined;
      },
      options,
    );
  }
  /**
   * Resolves with the join params once `identifier` has joined `device` at least `count` (default 1) times.
   * @throws NervesHubError `NH_TEST_SERVER_TIMEOUT` / `NH_TEST_SERVER_ABORTED` / `NH_TEST_SERVER_CLOSED` (as a rejection), like {@link NervesHubTestServer.waitForFrame}.
   */
  waitForJoin(identifier: string, options: WaitOptions & { count?: number } = {}): Promise<Record<string, unknown>> {
    const count = options.count ?? 1;
    // Resolves once the after-join pushes (keys, extensions:get, queued updates) went out, so an
    // update pushed next can't overtake the keys the device asked for.
    return this.#waiters.waitFor(
      `join #${count} of ${identifier}`,
      () => (this.#sessions.settledJoinCount(identifier) >= count ? this.lastJoinParams(identifier) : undefined),
      options,
    );
  }
  /**
   * Resolves with the first upgrade record (past or future) matching `predicate`.
   * @throws NervesHubError `NH_TEST_SERVER_TIMEOUT` / `NH_TEST_SERVER_ABORTED` / `NH_TEST_SERVER_CLOSED` (as a rejection), like {@link NervesHubTestServer.waitForFrame}.
   */
  waitForUpgrade(predicate: (record: UpgradeRecord) => boolean, options: WaitOptions & { fromIndex?: number } = {}): Promise<UpgradeRecord> {
    let index = options.fromIndex ?? 0;
    return this.#waiters.waitFor(
      'a matching upgrade',
      () => {
        for (; index < this.upgrades.length; index++) {
          const record = this.upgrades[index];
          if (record && predicate(record)) return record;
        }
        return undefined;
      },
      options,
    );
  }
  /**
   * Resolves once `identifier` has an open WebSocket.
   * @throws NervesHubError `NH_TEST_SERVER_TIMEOUT` / `NH_TEST_SERVER_ABORTED` / `NH_TEST_SERVER_CLOSED` (as a rejection), like {@link NervesHubTestServer.waitForFrame}.
   */
  waitForConnection(identifier: string, options: WaitOptions = {}): Promise<void> {
    return this.#waiters.waitFor(`connection of ${identifier}`, () => (this.connectedDevices().includes(identifier) ? (true as const) : undefined), options).then(() => undefined);
  }
  /**
   * Resolves once `identifier` has no open WebSocket.
   * @throws NervesHubError `NH_TEST_SERVER_TIMEOUT` / `NH_TEST_SERVER_ABORTED` / `NH_TEST_SERVER_CLOSED` (as a rejection), like {@link NervesHubTestServer.waitForFrame}.
   */
  waitForDisconnect(identifier: string, options: WaitOptions = {}): Promise<void> {
    return this.#waiters.waitFor(`disconnect of ${identifier}`, () => (this.connectedDevices().includes(identifier) ? undefined : (true as const)), options).then(() => undefined);
  }

  // ------------------------------------------------------------------ talking to devices

  /**
   * Pushes `event` on the device topic of `identifier` (`[join_ref, null, "device", event, payload]`).
   * @throws NervesHubError `NH_TEST_DEVICE_NOT_JOINED` when the device has no joined `device` channel.
   */
  push(identifier: string, event: string, payload: unknown): void {
    const connection = this.#sessions.joined(identifier);
    if (!connection) throw new NervesHubError('NH_TEST_DEVICE_NOT_JOINED', `device ${identifier} has not joined the device topic`);
    connection.push('device', event, payload);
  }
  /**
   * Offers a firmware update: pushes `update` now when the device is joined, otherwise queues it for
   * its next join. Returns the exact payload.
   */
  pushUpdate(identifier: string, offer: UpdateOffer): UpdatePayload {
    const payload = buildUpdatePayload(offer);
    const connection = this.#sessions.joined(identifier);
    if (connection) connection.push('device', 'update', payload);
    else this.#registry.queueUpdate(identifier, payload);
    return payload;
  }
  /**
   * Pushes `event` on another joined topic (`extensions`, `console`) the way a channel does
   * (`[join_ref, null, topic, event, payload]`); see also `service-requests.ts` for the
   * server side of health, geo, console and archives.
   * @throws NervesHubError `NH_TEST_DEVICE_NOT_JOINED` when the device has not joined `topic`.
   */
  pushTopic(identifier: string, topic: string, event: string, payload: unknown): void {
    const connection = this.#sessions.of(identifier).find((c) => c.joins.has(topic));
    if (!connection) throw new NervesHubError('NH_TEST_DEVICE_NOT_JOINED', `device ${identifier} has not joined the ${topic} topic`);
    connection.push(topic, event, payload);
  }
  /** Answers the device's pushes of these extensions with `{status: "error", response: "detach"}` (a product setting turned off). */
  refuseExtensionPushes(names: readonly string[]): void {
    this.#sessions.refuseExtensionPushes(names);
  }
  /** Pushes `event` to every device with a joined `device` topic. Returns how many got it. */
  broadcast(event: string, payload: unknown): number {
    let count = 0;
    for (const connection of this.#sessions.all) if (!connection.closed && connection.push('device', event, payload)) count += 1;
    return count;
  }
  /**
   * Fleet mode: a deployment every device is in (like a deployment group). Each joined device whose
   * `nerves_fw_uuid` differs from the target and that is not already downloading
   * (`currently_downloading_uuid`) gets `update` once per connection — now and after every later
   * join. `undefined` removes the deployment. The penalty box and concurrency limits are not modelled.
   */
  setDeployment(offer: UpdateOffer | undefined): void {
    this.#sessions.setDeployment(offer);
  }
  /** Sends arbitrary text (e.g. a malformed frame) on the device's socket. Returns false when not connected. */
  sendRaw(identifier: string, text: string | Uint8Array): boolean {
    let sent = false;
    for (const connection of this.#sessions.of(identifier)) sent = connection.sendRaw(text) || sent;
    return sent;
  }
  /** Publishes firmware bytes (or a file) on this server and returns the full presigned-style https URL. */
  hostFirmware(name: string, body: Uint8Array | { path: string }, options: { etag?: string } = {}): string {
    return `${this.httpsUrl}${this.firmware.add(name, body, options)}`;
  }

  // ------------------------------------------------------------------ faults

  /** Destroys the sockets of `identifier` (or of every device) without a close frame. Returns how many. */
  dropConnections(identifier?: string): number {
    const victims = [...this.#sessions.all].filter((c) => !c.closed && (identifier === undefined || c.identifier === identifier));
    for (const connection of victims) connection.terminate();
    return victims.length;
  }
  /** Refuses the next `count` upgrades (default: all, until {@link acceptUpgrades}) with 401 or 503. */
  refuseUpgrades(options: RefuseUpgradesOptions): void {
    this.#endpoint.refuseUpgrades(options);
  }
  /** Stops refusing upgrades. */
  acceptUpgrades(): void {
    this.#endpoint.acceptUpgrades();
  }
  /** Makes the server hang for `identifier`: frames are still recorded but never answered; no pushes. */
  stall(identifier: string): void {
    for (const connection of this.#sessions.of(identifier)) connection.stalled = true;
  }
  /** Ends {@link stall}. */
  unstall(identifier: string): void {
    for (const connection of this.#sessions.of(identifier)) connection.stalled = false;
  }

  // ------------------------------------------------------------------ lifecycle

  /**
   * Closes every device socket (close code 1012, then destroyed), stops listening, waits
   * `downtimeMs`, and listens again on the same port with the same state.
   * @throws NervesHubError `NH_TEST_SERVER_CLOSED` after {@link NervesHubTestServer.close}.
   */
  async restart(options: { downtimeMs?: number } = {}): Promise<void> {
    if (this.#closed) throw new NervesHubError('NH_TEST_SERVER_CLOSED', 'the test server is closed');
    for (const connection of this.#sessions.all) connection.close(SERVER_DEFAULTS.restartCloseCode, 'server restart');
    await this.#waiters
      .waitFor('sockets to close', () => (this.#sessions.all.size === 0 ? (true as const) : undefined), { timeoutMs: SERVER_DEFAULTS.restartGraceMs })
      .catch(() => undefined);
    for (const connection of this.#sessions.all) connection.terminate();
    await this.#endpoint.stopListening();
    if (options.downtimeMs) await new Promise((resolve) => setTimeout(resolve, options.downtimeMs));
    await this.#endpoint.listen(this.port);
  }

  /** Stops everything; no socket, timer or listener is left behind. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#waiters.failAll(new NervesHubError('NH_TEST_SERVER_CLOSED', 'the test server was closed'));
    for (const connection of this.#sessions.all) connection.terminate();
    await this.#endpoint.close();
  }

  // ------------------------------------------------------------------ internals

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }
}
