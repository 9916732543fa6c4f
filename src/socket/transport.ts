import type { IncomingMessage } from 'node:http';
import type { ConnectionOptions } from 'node:tls';
import { createRequire } from 'node:module';
// isomorphic-ws is `ws` on Node and the platform WebSocket elsewhere; TLS options need `ws` on Node.
import type WebSocket from 'isomorphic-ws';
import type { ClientOptions, RawData } from 'ws';
import type { AttemptFailure } from './connect-errors.js';

/** ws client options plus the TLS options @types/ws leaves out. @internal */
export type TransportOptions = ClientOptions & Omit<ConnectionOptions, 'checkServerIdentity'>;

/** What a transport needs from its socket. @internal */
export interface TransportContext {
  /** Builds the options of this attempt (TLS material, fresh NH1 headers, proxy agent). May reject. */
  prepare(signal: AbortSignal): Promise<TransportOptions>;
  /** Told what made this attempt fail (before the transport reports error/close to phoenix). */
  onFailure(failure: AttemptFailure, transport: PhoenixTransport): void;
  /** Told about the server's answer to a successful upgrade. */
  onUpgrade?(response: IncomingMessage): void;
  /** A transport was created (so the socket can terminate every one of them on close). */
  onCreated(transport: PhoenixTransport): void;
  /** A phoenix handler threw (phoenix must never throw into ws's event loop). */
  onHandlerError(error: unknown): void;
  /** An open connection was closed by the peer or the network (not by us). */
  onPeerClosed(code: number, reason: string): void;
  /** Time allowed for our close frame to be answered before the connection is destroyed. */
  closeGraceMs: number;
}

/** The WebSocket-like surface phoenix drives. @internal */
export interface PhoenixTransport {
  readonly readyState: number;
  readonly bufferedAmount: number;
  binaryType: string;
  timeout?: number;
  onopen: ((event?: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onmessage: ((event: { data: string | ArrayBuffer }) => void) | null;
  onclose: ((event: { code: number; reason: string; wasClean: boolean }) => void) | null;
  send(data: string | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
  /** Why phoenix closed it (e.g. `heartbeat timeout`), if it did. */
  readonly closeReason: string | undefined;
  /** Destroys the connection at once (no close handshake). */
  terminate(): void;
  /** Settles once the transport is closed and phoenix was told. */
  readonly closed: Promise<void>;
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

let loadedWebSocket: typeof WebSocket | undefined;

/**
 * `isomorphic-ws` (`ws` on Node), loaded on the first connection attempt rather than imported:
 * nothing is loaded by importing the SDK, and `require` spares the ≈ 6 MB of RSS that importing a
 * CommonJS package from ES modules costs (Node's CommonJS export lexer).
 */
function webSocketClass(): typeof WebSocket {
  loadedWebSocket ??= createRequire(import.meta.url)('isomorphic-ws') as typeof WebSocket;
  return loadedWebSocket;
}

/**
 * One connection attempt, as the WebSocket-like object phoenix drives. It is a thin wrapper
 * around a `ws` client rather than a subclass because the TLS material comes from an async
 * {@link CertificateProvider}: it reports `connecting` while that is fetched, then opens the real
 * websocket. It also captures what phoenix hides — the HTTP status and headers of a refused
 * upgrade and the TLS/network error codes.
 * @internal
 */
export class DeviceTransport implements PhoenixTransport {
  binaryType = 'arraybuffer';
  timeout?: number;
  onopen: PhoenixTransport['onopen'] = null;
  onerror: PhoenixTransport['onerror'] = null;
  onmessage: PhoenixTransport['onmessage'] = null;
  onclose: PhoenixTransport['onclose'] = null;
  #state = CONNECTING;
  #ws: WebSocket | null = null;
  #failed = false;
  #closeReason: string | undefined;
  #closeTimer: NodeJS.Timeout | undefined;
  readonly #abort = new AbortController();
  #resolveClosed!: () => void;
  readonly closed = new Promise<void>((resolve) => {
    this.#resolveClosed = resolve;
  });

  readonly #context: TransportContext;

  /** Starts one connection attempt to `url`; `context` is the socket's side of it. */
  constructor(context: TransportContext, url: string, protocols?: string[]) {
    this.#context = context;
    this.#call(() => context.onCreated(this));
    // prepare() starts synchronously (fresh NH1 headers are computed now, per attempt);
    // events are only fired on later ticks, after phoenix has attached its handlers.
    let prepared: Promise<TransportOptions>;
    try {
      prepared = context.prepare(this.#abort.signal);
    } catch (error) {
      prepared = Promise.reject(error);
    }
    prepared.then(
      (options) => this.#open(url, protocols, options),
      (error: unknown) => {
        if (this.#state === CLOSED) return;
        this.#fail({ kind: 'provider', error });
        this.#finish(1006, 'connection attempt failed', false, true);
      },
    );
  }

  get readyState(): number {
    return this.#state;
  }

  get bufferedAmount(): number {
    return this.#ws?.bufferedAmount ?? 0;
  }

  get closeReason(): string | undefined {
    return this.#closeReason;
  }

  send(data: string | ArrayBuffer): void {
    if (this.#state !== OPEN || !this.#ws) return;
    this.#ws.send(data);
  }

  close(code?: number, reason?: string): void {
    if (this.#state === CLOSED || this.#state === CLOSING) return;
    this.#closeReason = reason;
    const ws = this.#ws;
    if (!ws) {
      this.#abort.abort();
      this.#finish(code ?? 1000, reason ?? '', true, false);
      return;
    }
    this.#state = CLOSING;
    if (ws.readyState === CONNECTING) {
      ws.terminate();
      return;
    }
    try {
      ws.close(code ?? 1000, reason ?? '');
    } catch {
      ws.terminate();
      return;
    }
    // Do not wait 30 s (ws's default) for a peer that never answers our close frame.
    this.#closeTimer = setTimeout(() => ws.terminate(), this.#context.closeGraceMs);
  }

  terminate(): void {
    this.#abort.abort();
    if (this.#ws) this.#ws.terminate();
    else if (this.#state !== CLOSED) this.#finish(1006, 'terminated', false, false);
  }

  #open(url: string, protocols: string[] | undefined, options: TransportOptions): void {
    if (this.#state !== CONNECTING) return;
    const handshake = new HandshakeProbe();
    let ws: WebSocket;
    try {
      ws = new (webSocketClass())(url, protocols, handshake.instrument(options));
    } catch (error) {
      this.#fail({ kind: 'network', error: error instanceof Error ? error : new Error(String(error)), pastKeyExchange: false });
      this.#finish(1006, 'connection attempt failed', false, true);
      return;
    }
    this.#ws = ws;
    ws.binaryType = 'arraybuffer';
    this.#watchHandshake(ws, url.startsWith('wss:'));
    this.#watchConnection(ws, handshake);
  }

  /** Listens to what happens before the upgrade: redirects, the server's answer. */
  #watchHandshake(ws: WebSocket, secure: boolean): void {
    ws.on('redirect', (location: string) => {
      if (secure && !location.startsWith('wss:')) {
        this.#fail({ kind: 'insecure-redirect', location });
        ws.terminate();
      }
    });
    ws.on('upgrade', (res: IncomingMessage) => {
      try {
        this.#context.onUpgrade?.(res);
      } catch {
        // reporting must not break the connection
      }
    });
    ws.on('unexpected-response', (req, res: IncomingMessage) => {
      this.#fail({ kind: 'http', status: res.statusCode ?? 0, headers: res.headers });
      res.resume();
      ws.terminate();
    });
  }

  /** Forwards the websocket's life (open, messages, errors, close) to phoenix's handlers. */
  #watchConnection(ws: WebSocket, handshake: HandshakeProbe): void {
    ws.on('open', () => {
      if (this.#state !== CONNECTING) return;
      this.#state = OPEN;
      this.#call(() => this.onopen?.());
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (this.#state !== OPEN) return;
      this.#call(() => this.onmessage?.({ data: isBinary ? toArrayBuffer(data) : rawToString(data) }));
    });
    ws.on('error', (error: Error) => {
      // an error while we close it ourselves (e.g. terminate() during the handshake) is no failure
      if (this.#state === CONNECTING) this.#fail({ kind: 'network', error, pastKeyExchange: handshake.pastKeyExchange });
      this.#call(() => this.onerror?.(error));
    });
    ws.on('close', (code: number, reason: Buffer) => {
      clearTimeout(this.#closeTimer);
      this.#finish(code, reason.toString('utf8'), code === 1000, false);
    });
  }

  #fail(failure: AttemptFailure): void {
    if (this.#failed) return;
    this.#failed = true;
    try {
      this.#context.onFailure(failure, this);
    } catch {
      // reporting must not break the transport
    }
  }

  #finish(code: number, reason: string, wasClean: boolean, emitError: boolean): void {
    if (this.#state === CLOSED) return;
    const closedByPeer = this.#state === OPEN;
    this.#state = CLOSED;
    setImmediate(() => {
      if (closedByPeer) this.#call(() => this.#context.onPeerClosed(code, reason));
      // like a browser WebSocket: an attempt that fails before a websocket exists errors, then closes
      if (emitError) this.#call(() => this.onerror?.(new Error(reason)));
      this.#call(() => this.onclose?.({ code, reason, wasClean }));
      this.#resolveClosed();
    });
  }

  #call(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      try {
        this.#context.onHandlerError(error);
      } catch {
        // nothing left to tell
      }
    }
  }
}

/**
 * The transport class phoenix instantiates (`new Transport(url, protocols)`) for every connection
 * attempt: {@link DeviceTransport} bound to the socket's `context`.
 * @internal
 */
export function createTransportClass(context: TransportContext): new (url: string, protocols?: string[]) => PhoenixTransport {
  return class BoundDeviceTransport extends DeviceTransport {
    constructor(url: string, protocols?: string[]) {
      super(context, url, protocols);
    }
  };
}

/**
 * Learns how far the TLS handshake of one attempt got: a server that drops us right after the
 * handshake refused our certificate, which is not a network failure.
 */
class HandshakeProbe {
  #tlsEstablished = false;
  // Key exchange done means the server accepted its part of the handshake and we have sent our
  // certificate: a drop from then on is the server refusing our certificate, not the network.
  #keysExchanged = false;

  /** True once TLS completed or keys were exchanged. */
  get pastKeyExchange(): boolean {
    return this.#tlsEstablished || this.#keysExchanged;
  }

  /** `options` with a `finishRequest` that watches the request's socket. */
  instrument(options: TransportOptions): TransportOptions {
    return {
      ...options,
      finishRequest: (req) => {
        req.once('socket', (socket) => {
          socket.once('secureConnect', () => (this.#tlsEstablished = true));
          // the keylog line itself is key material: only note that it happened, never keep it
          socket.once('keylog', () => (this.#keysExchanged = true));
        });
        req.end();
      },
    };
  }
}

function rawToString(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

function toArrayBuffer(data: RawData): ArrayBuffer {
  if (data instanceof ArrayBuffer) return data;
  const buf = Array.isArray(data) ? Buffer.concat(data) : data;
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}
