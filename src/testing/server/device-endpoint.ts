/**
 * The HTTPS listener of the test server: TLS with client-certificate checks, the plain HTTP routes
 * (alive check, firmware, redirect) and the WebSocket upgrade decision of nerves_hub_web's device
 * endpoint. Accepted sockets are handed to the owner through {@link EndpointHooks.onAccepted}.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { WebSocket } from 'ws';
import { WebSocketServer } from 'ws';
import type { Logger } from '../../logging/logger.js';
import { safeLog } from '../../logging/logger.js';
import { CONNECTION_ERROR_REASON_HEADER } from '../../protocol/constants.js';
import type { FirmwareHost } from '../firmware-host.js';
import type { IssuedCertificate } from '../test-ca.js';
import type { DeviceRegistry } from './device-registry.js';
import { httpDate, writeRawResponse } from './http-answers.js';
import { authenticateUpgrade, commonNameOf, NO_AUTH_REASON, peerCertificateOf, PLATFORM_UNAVAILABLE_REASON } from './upgrade-auth.js';
import type { AuthMethod, NervesHubTestServerOptions, RefuseUpgradesOptions, TlsRejectionRecord, UpgradeRecord } from './types.js';

/** Fixed facts of nerves_hub_web's device endpoint. */
export const ENDPOINT_DEFAULTS = Object.freeze({
  sharedSecretMaxAgeSeconds: 90,
  redirectLocation: 'https://docs.nerves-hub.org/',
  socketPaths: Object.freeze(['/socket/websocket', '/device-socket/websocket']),
  statusPaths: Object.freeze(['/status/alive', '/status/_health', '/status/health', '/status/healthy']),
  aliveBody: 'Hello, Friend!',
});

/** `vsn` values the JSON serializer accepts (`~> 2.0.0`). */
const JSON_VSN = /^2\.0\.\d+$/;

/** What the endpoint needs from its owner. */
export interface EndpointHooks {
  readonly options: NervesHubTestServerOptions;
  readonly registry: DeviceRegistry;
  readonly firmware: FirmwareHost;
  readonly logger: Logger;
  now(): number;
  /** Wakes the owner's waits after a record was added. */
  notify(): void;
  /** A device passed authentication and its WebSocket is open. */
  onAccepted(ws: WebSocket, identifier: string, method: AuthMethod, connectionId: number): void;
}

/** The TLS + HTTP + upgrade side of {@link NervesHubTestServer}. */
export class DeviceEndpoint {
  /** Every upgrade attempt on a socket path. */
  readonly upgrades: UpgradeRecord[] = [];
  /** Connections dropped in TLS for their client certificate. */
  readonly tlsRejections: TlsRejectionRecord[] = [];
  readonly #hooks: EndpointHooks;
  readonly #serverCert: IssuedCertificate;
  readonly #wss: WebSocketServer;
  readonly #sockets = new Set<Socket>();
  #server: https.Server | undefined;
  #port = 0;
  #nextConnectionId = 1;
  #refuse: { status: 401 | 503; remaining: number; reason?: string } | undefined;
  #stopped = false;

  constructor(hooks: EndpointHooks, serverCert: IssuedCertificate) {
    this.#hooks = hooks;
    this.#serverCert = serverCert;
    this.#wss = new WebSocketServer({ noServer: true, perMessageDeflate: hooks.options.compress ?? true });
    this.#wss.on('headers', (headers) => headers.push(`date: ${httpDate(hooks.now())}`));
  }

  /** The listening port (kept across restarts). */
  get port(): number {
    return this.#port;
  }

  /** Arms injected upgrade refusals. */
  refuseUpgrades(options: RefuseUpgradesOptions): void {
    this.#refuse = { status: options.status, remaining: options.count ?? Infinity, reason: options.reason };
  }
  /** Clears injected refusals. */
  acceptUpgrades(): void {
    this.#refuse = undefined;
  }
  /** Re-reads the trusted signer CAs into the live TLS context. */
  refreshTlsContext(): void {
    this.#server?.setSecureContext(this.#tlsContextOptions());
  }

  /** Starts listening on 127.0.0.1 (`port` 0 = random). */
  async listen(port: number): Promise<void> {
    const server = https.createServer({
      ...this.#tlsContextOptions(),
      // Verification is ours (like nerves_hub_web's verify_fun): clients without a cert may still use NH1.
      requestCert: true,
      rejectUnauthorized: false,
    });
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    server.prependListener('secureConnection', (socket: TLSSocket) => this.#checkClientCertificate(socket));
    server.on('tlsClientError', () => undefined);
    server.on('request', (req, res) => this.#onRequest(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => undefined);
      this.#onUpgrade(req, socket, head).catch((err: unknown) => {
        safeLog(this.#hooks.logger, 'error', 'test server: upgrade handling failed', { error: String(err) });
        writeRawResponse(socket, 500, this.#hooks.now());
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
    this.#port = (server.address() as AddressInfo).port;
  }

  /** Stops listening and destroys every socket (TLS handshakes in progress included). */
  async stopListening(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.#hooks.firmware.destroyOpenResponses();
    for (const socket of this.#sockets) socket.destroy();
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** Stops for good. */
  async close(): Promise<void> {
    this.#stopped = true;
    await this.stopListening();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }

  #tlsContextOptions(): https.ServerOptions {
    return {
      key: this.#serverCert.keyPem,
      cert: this.#serverCert.certPem,
      ca: [...this.#hooks.registry.signerCas],
      minVersion: 'TLSv1.2',
      // nerves_hub_web speaks TLS 1.2 only unless DEVICE_ENABLE_TLS_13=true.
      maxVersion: this.#hooks.options.enableTls13 ? 'TLSv1.3' : 'TLSv1.2',
    };
  }

  #redirectLocation(): string {
    return this.#hooks.options.redirectLocation ?? ENDPOINT_DEFAULTS.redirectLocation;
  }

  /** Drops a TLS connection whose client certificate did not verify, before any HTTP. */
  #checkClientCertificate(socket: TLSSocket): void {
    const cert = peerCertificateOf(socket);
    if (!cert) return;
    const { options, registry } = this.#hooks;
    const commonName = commonNameOf(cert);
    let reason: string | undefined;
    if (!socket.authorized) reason = String(socket.authorizationError ?? 'UNKNOWN_CA');
    else if ((options.unregisteredDeviceRefusal ?? 'tls') === 'tls' && !options.autoRegister && !registry.isRegistered(commonName)) reason = 'DEVICE_NOT_REGISTERED';
    if (reason === undefined) return;
    this.tlsRejections.push({ at: this.#hooks.now(), reason, commonName });
    safeLog(this.#hooks.logger, 'info', 'test server: client certificate refused', { reason, commonName });
    socket.destroy();
    this.#hooks.notify();
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'https://device.invalid').pathname;
    res.setHeader('date', httpDate(this.#hooks.now()));
    if (ENDPOINT_DEFAULTS.statusPaths.includes(path)) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(ENDPOINT_DEFAULTS.aliveBody);
    } else if (this.#hooks.firmware.handle(req, res)) {
      return;
    } else if (ENDPOINT_DEFAULTS.socketPaths.includes(path)) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('Bad Request');
    } else {
      res.writeHead(301, { location: this.#redirectLocation() }).end();
    }
  }

  async #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const { now, options, registry } = this.#hooks;
    const url = new URL(req.url ?? '/', 'https://device.invalid');
    const at = now();
    if (!ENDPOINT_DEFAULTS.socketPaths.includes(url.pathname)) {
      // Not a socket route: the plug pipeline answers (alive check or redirect).
      if (ENDPOINT_DEFAULTS.statusPaths.includes(url.pathname)) writeRawResponse(socket, 200, at, { 'content-type': 'text/plain' }, ENDPOINT_DEFAULTS.aliveBody);
      else writeRawResponse(socket, 301, at, { location: this.#redirectLocation() });
      return;
    }
    const connectionId = this.#nextConnectionId++;
    const base = { connectionId, path: url.pathname, query: Object.fromEntries(url.searchParams), headers: { ...req.headers }, at };
    const refuse = (status: number, refusal: string, reason?: string, extra: Partial<UpgradeRecord> = {}): void => {
      this.upgrades.push({ ...base, status, refusal, ...extra });
      safeLog(this.#hooks.logger, 'info', 'test server: upgrade refused', { status, refusal, path: url.pathname });
      writeRawResponse(socket, status, now(), reason === undefined ? {} : { [CONNECTION_ERROR_REASON_HEADER]: reason }, reason ?? '');
      this.#hooks.notify();
    };
    // Phoenix negotiates the serializer before calling connect/3.
    if (!JSON_VSN.test(url.searchParams.get('vsn') ?? '')) return refuse(403, 'bad_vsn');
    const rule = this.#refuse;
    if (rule && rule.remaining > 0) {
      rule.remaining -= 1;
      if (rule.remaining <= 0) this.#refuse = undefined;
      const reason = rule.reason ?? (rule.status === 503 ? PLATFORM_UNAVAILABLE_REASON : undefined);
      return refuse(rule.status, rule.status === 503 ? 'platform_unavailable' : 'injected', reason);
    }
    const decision = await authenticateUpgrade(req, {
      nowMs: at,
      autoRegister: options.autoRegister ?? false,
      sharedSecretsEnabled: options.sharedSecretsEnabled ?? true,
      maxAgeSeconds: options.sharedSecretMaxAgeSeconds ?? ENDPOINT_DEFAULTS.sharedSecretMaxAgeSeconds,
      isRegistered: (id) => registry.isRegistered(id),
      credential: (key) => registry.credential(key),
    });
    if (socket.destroyed || this.#stopped) return;
    if (!decision.ok) {
      if (decision.refusal === 'no_auth') return refuse(401, 'no_auth', NO_AUTH_REASON);
      return refuse(401, decision.refusal, undefined, { authMethod: decision.method });
    }
    if (decision.newDevice) registry.registerDevice(decision.identifier);
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      this.upgrades.push({ ...base, status: 101, identifier: decision.identifier, authMethod: decision.method });
      this.#hooks.onAccepted(ws, decision.identifier, decision.method, connectionId);
    });
  }
}
