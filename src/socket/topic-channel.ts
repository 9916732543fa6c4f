import type { Channel, Socket } from 'phoenix';
import { pushAndForget } from './phoenix-internals.js';
import type { PushInternals } from './phoenix-internals.js';

/**
 * Outcome of {@link TopicChannel.request}.
 *
 * @example
 * ```ts
 * const reply: TopicReply = await channel.request('health:report', { cpu: 12 });
 * if (reply.status !== 'ok') logger.log('warn', 'health report refused');
 * ```
 */
export interface TopicReply {
  /** The server's reply status, or `timeout` when none came. */
  status: 'ok' | 'error' | 'timeout';
  /** The reply payload (unvalidated). */
  response: unknown;
}

/**
 * Another topic (`console`, `extensions`) joined over the same connection as `device`. Joins are
 * repeated by the socket after every reconnect; {@link nerves-hub-link!NervesHubSocket.close | NervesHubSocket.close} leaves it.
 *
 * @example
 * ```ts
 * const ext = socket.joinTopic('extensions', () => ({ health: '0.0.1' }));
 * ext.onJoin((names) => console.log('attach', names));
 * ext.on('health:check', () => ext.push('health:report', { value: { uptime_s: process.uptime() } }));
 * ```
 */
export interface TopicChannel {
  /** The topic name. */
  readonly topic: string;
  /** True while joined. */
  readonly joined: boolean;
  /** Calls `listener` with each `event` payload (always an object). Returns an unsubscribe function. */
  on(event: string, listener: (payload: Record<string, unknown>) => void): () => void;
  /** Calls `listener` with the join reply's `response` after every successful (re)join. */
  onJoin(listener: (response: unknown) => void): () => void;
  /** Fire-and-forget push; dropped (returns false) while not joined. */
  push(event: string, payload: Record<string, unknown>): boolean;
  /** Push and wait for the server's `phx_reply` (or a timeout). */
  request(event: string, payload: Record<string, unknown>, timeoutMs?: number): Promise<TopicReply>;
  /** Leaves the topic (no rejoin). */
  leave(): void;
}


/** Hooks the socket gives a topic channel. @internal */
export interface TopicChannelHost {
  isConnected(): boolean;
  /** Runs `fn` on a later tick with listener errors isolated and logged. */
  deliver(fn: () => void): void;
  /** Called when the app leaves the topic. */
  forget(channel: TopicChannelImpl): void;
  /** The params callback threw (the join goes out with `{}`). */
  onParamsError(error: unknown): void;
  defaultTimeoutMs: number;
}

/** @internal */
export class TopicChannelImpl implements TopicChannel {
  readonly topic: string;
  readonly channel: Channel;
  readonly #host: TopicChannelHost;
  readonly #joinListeners = new Set<(response: unknown) => void>();
  #joined = false;
  #left = false;
  readonly #pending = new Set<{ push: PushInternals; settle: () => void }>();

  constructor(topic: string, channel: Channel, host: TopicChannelHost) {
    this.topic = topic;
    this.channel = channel;
    this.#host = host;
    channel.onError(() => {
      this.#joined = false;
    });
    channel.onClose(() => {
      this.#joined = false;
    });
  }

  /** Starts joining (phoenix rejoins by itself after reconnects). */
  start(timeoutMs: number): void {
    this.channel.join(timeoutMs).receive('ok', (response: unknown) => {
      this.#joined = true;
      for (const l of this.#joinListeners) this.#host.deliver(() => l(response));
    });
  }

  get joined(): boolean {
    return this.#joined && !this.#left;
  }

  on(event: string, listener: (payload: Record<string, unknown>) => void): () => void {
    const ref = this.channel.on(event, (payload: unknown) => {
      const p = typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? (payload as Record<string, unknown>) : {};
      this.#host.deliver(() => listener(p));
    });
    return () => this.channel.off(event, ref);
  }

  onJoin(listener: (response: unknown) => void): () => void {
    this.#joinListeners.add(listener);
    return () => this.#joinListeners.delete(listener);
  }

  push(event: string, payload: Record<string, unknown>): boolean {
    if (!this.joined || !this.#host.isConnected()) return false;
    pushAndForget(this.channel, event, payload);
    return true;
  }

  request(event: string, payload: Record<string, unknown>, timeoutMs = this.#host.defaultTimeoutMs): Promise<TopicReply> {
    if (!this.joined || !this.#host.isConnected()) return Promise.resolve({ status: 'timeout', response: null });
    return new Promise((resolve) => {
      const push = this.channel.push(event, payload, timeoutMs);
      const entry = { push: push as unknown as PushInternals, settle: () => resolve({ status: 'timeout', response: null }) };
      this.#pending.add(entry);
      const done = (reply: TopicReply): void => {
        this.#pending.delete(entry);
        resolve(reply);
      };
      push.receive('ok', (response: unknown) => done({ status: 'ok', response: response ?? null }));
      push.receive('error', (response: unknown) => done({ status: 'error', response: response ?? null }));
      push.receive('timeout', () => done({ status: 'timeout', response: null }));
    });
  }

  /** Stops waiting for replies (the socket is closing): pending requests resolve as `timeout`. */
  abandon(): void {
    this.#left = true;
    this.#joined = false;
    for (const p of this.#pending) {
      p.push.cancelTimeout();
      p.push.cancelRefEvent();
      p.settle();
    }
    this.#pending.clear();
  }

  leave(): void {
    if (this.#left) return;
    this.abandon();
    this.#host.forget(this);
  }
}

/** Creates the phoenix channel for `topic` (params read at every join) and its wrapper. @internal */
export function createTopicChannel(phx: Socket, topic: string, params: () => Record<string, unknown>, host: TopicChannelHost): TopicChannelImpl {
  const readParams = (): Record<string, unknown> => {
    try {
      const p = params();
      return typeof p === 'object' && p !== null ? p : {};
    } catch (error) {
      host.onParamsError(error);
      return {};
    }
  };
  return new TopicChannelImpl(topic, phx.channel(topic, readParams as unknown as object), host);
}
