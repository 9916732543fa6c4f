import type { WebSocket } from 'ws';
import type { PhoenixMessage } from './phoenix-frame.js';
import { encodePhoenixFrame } from './phoenix-frame.js';
import type { AuthMethod, ServerFrame } from './types.js';

/** Callbacks a {@link DeviceConnection} reports to. */
export interface DeviceConnectionHooks {
  now(): number;
  onSent(frame: ServerFrame): void;
}

/**
 * One authenticated device WebSocket on the test server: the joined topics (topic → join_ref)
 * and the fault flags. Sending never throws; it is a no-op once the socket is closing.
 */
export class DeviceConnection {
  /** Topics this socket has joined, with the join_ref of the join. */
  readonly joins = new Map<string, string | null>();
  /** While true the server neither answers nor pushes (a hung server). */
  stalled = false;
  /** Set once the server closed this socket or its close was seen. */
  closed = false;
  /** The deployment `update` already sent on this connection (sent once per connection). */
  deploymentOffered: string | undefined;
  /** Device-topic join params of this connection, once joined. */
  deviceJoinParams: Record<string, unknown> | undefined;

  readonly #hooks: DeviceConnectionHooks;

  constructor(
    readonly identifier: string,
    readonly connectionId: number,
    readonly authMethod: AuthMethod,
    readonly ws: WebSocket,
    hooks: DeviceConnectionHooks,
  ) {
    this.#hooks = hooks;
  }

  /** Sends one Phoenix message (dropped while stalled). Returns whether it was written. */
  send(message: PhoenixMessage): boolean {
    if (this.stalled || this.closed || this.ws.readyState !== this.ws.OPEN) return false;
    this.ws.send(encodePhoenixFrame(message));
    this.#hooks.onSent({ identifier: this.identifier, connectionId: this.connectionId, ...message, at: this.#hooks.now() });
    return true;
  }

  /** Answers `message` with a `phx_reply` carrying `{status, response}`. */
  reply(message: PhoenixMessage, status: 'ok' | 'error', response: unknown): boolean {
    return this.send({ joinRef: message.joinRef, ref: message.ref, topic: message.topic, event: 'phx_reply', payload: { status, response } });
  }

  /** Pushes `event` on a joined topic the way `Phoenix.Channel.push/3` does (join_ref set, ref null). */
  push(topic: string, event: string, payload: unknown): boolean {
    if (!this.joins.has(topic)) return false;
    return this.send({ joinRef: this.joins.get(topic) ?? null, ref: null, topic, event, payload });
  }

  /** Sends `text` as-is, even while stalled (for malformed-frame tests). */
  sendRaw(text: string | Uint8Array): boolean {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return false;
    this.ws.send(text);
    return true;
  }

  /** Closes with a close frame; the connection counts as gone from now on. */
  close(code: number, reason = ''): void {
    this.closed = true;
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, reason);
  }

  /** Destroys the TCP/TLS socket without a close frame. */
  terminate(): void {
    this.closed = true;
    this.ws.terminate();
  }
}
