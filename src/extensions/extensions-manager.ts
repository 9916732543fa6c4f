import type { Logger } from '../logging/logger.js';
import { safeLog, silentLogger } from '../logging/logger.js';
import { sanitizeForLog } from '../logging/log-sanitizer.js';
import { Topics } from '../protocol/constants.js';
import type { TopicChannel } from '../socket/topic-channel.js';
import type { DeviceExtension, ExtensionContext } from './extension.js';
import { invalidOptions } from '../errors.js';

/** Where {@link ExtensionsManager} joins the `extensions` topic (a `NervesHubSocket`). */
export interface ExtensionsHost {
  /** Joins a topic over the device's connection; `params` is read at every (re)join. */
  joinTopic(topic: string, params: () => Record<string, unknown>): TopicChannel;
}

/**
 * Options of {@link ExtensionsManager}.
 *
 * @example
 * ```ts
 * const options: ExtensionsManagerOptions = { extensions: [new HealthExtension(), new GeoExtension()], logger };
 * ```
 */
export interface ExtensionsManagerOptions {
  /** The enabled extensions (names must be unique). */
  extensions: readonly DeviceExtension[];
  /** Log sink (default: silent). */
  logger?: Logger;
  /** How long an extension push waits for a possible `detach` error reply (default 10 000 ms). */
  replyTimeoutMs?: number;
}

/** Reasons of `<name>:error` (nerves_hub_link's). */
export const ExtensionErrorReasons = {
  /** `attach` named an extension this device does not have. */
  unknownExtension: 'unknown_extension',
  /** The extension's `attach` failed. */
  startFailure: 'start_failure',
} as const;

/** Names in an `attach`/`detach` payload `{extensions: [names] | "name" | "all"}`; undefined when unusable. @internal */
export function extensionNames(payload: Record<string, unknown>, all: readonly string[]): string[] | undefined {
  const v = payload.extensions;
  if (v === 'all') return [...all];
  if (typeof v === 'string' && v !== '') return [v];
  if (Array.isArray(v) && v.every((n): n is string => typeof n === 'string')) return v;
  return undefined;
}

/**
 * The device side of NervesHub extensions (reference §3.3, §4.4): on `extensions:get` it joins
 * `extensions` with `{name: version}` of every enabled extension, attaches what the join reply
 * lists (pushing `<name>:attached`, or `<name>:error {reason}`), follows `attach`/`detach`
 * (a name, a list or `"all"`, answered with `<name>:attached` / `<name>:detached`), routes
 * `<name>:<event>` to attached extensions, and detaches an extension whose push NervesHub answers
 * with the error `"detach"`. Extension failures are logged; they never reach the socket.
 *
 * @example
 * ```ts
 * const extensions = new ExtensionsManager({ extensions: [new HealthExtension()] });
 * socket.on('extensionsGet', () => extensions.join(socket));
 * ```
 */
export class ExtensionsManager {
  readonly #byName = new Map<string, DeviceExtension>();
  readonly #attached = new Set<string>();
  readonly #logger: Logger;
  readonly #replyTimeoutMs: number;
  #channel: TopicChannel | undefined;
  /** Serialises attach/detach so a detach never overtakes the attach it follows. */
  #queue: Promise<void> = Promise.resolve();

  /** @throws TypeError on duplicate or unnamed extensions. */
  constructor(options: ExtensionsManagerOptions) {
    for (const e of options.extensions) {
      if (typeof e?.name !== 'string' || e.name === '' || e.name.includes(':')) throw invalidOptions('ExtensionsManager: every extension needs a name without ":"');
      if (this.#byName.has(e.name)) throw invalidOptions(`ExtensionsManager: extension "${e.name}" is listed twice`);
      this.#byName.set(e.name, e);
    }
    this.#logger = options.logger ?? silentLogger;
    this.#replyTimeoutMs = options.replyTimeoutMs ?? 10_000;
  }

  /** `{name: version}` of every enabled extension: the `extensions` join payload. */
  get versions(): Record<string, string> {
    return Object.fromEntries([...this.#byName.values()].map((e) => [e.name, e.version]));
  }

  /** Names of the attached extensions. */
  get attached(): string[] {
    return [...this.#attached];
  }

  /** True while the `extensions` topic is joined. */
  get joined(): boolean {
    return this.#channel?.joined ?? false;
  }

  /**
   * Answers `extensions:get`: joins `extensions` (once; the socket rejoins it after reconnects).
   * Nothing happens without enabled extensions.
   */
  join(host: ExtensionsHost): void {
    if (this.#channel || this.#byName.size === 0) return;
    const channel = host.joinTopic(Topics.extensions, () => this.versions);
    this.#channel = channel;
    channel.onJoin((response) => this.#onJoinReply(response));
    channel.on('attach', (p) => this.#onRequest('attach', p));
    channel.on('detach', (p) => this.#onRequest('detach', p));
    for (const ext of this.#byName.values()) {
      for (const event of ext.events) channel.on(`${ext.name}:${event}`, (p) => this.#route(ext, event, p));
    }
  }

  /** Attaches `names` (as NervesHub's `attach` would). Resolves once done. */
  attach(names: readonly string[]): Promise<void> {
    return this.#enqueue(async () => {
      for (const name of names) await this.#attachOne(name);
    });
  }

  /** Detaches `names` (as NervesHub's `detach` would). Resolves once done. */
  detach(names: readonly string[]): Promise<void> {
    return this.#enqueue(async () => {
      for (const name of names) await this.#detachOne(name, true);
    });
  }

  /** Stops every attached extension (no message is sent) and leaves the topic. */
  async close(): Promise<void> {
    await this.#enqueue(async () => {
      for (const name of [...this.#attached]) await this.#detachOne(name, false);
    });
    this.#channel?.leave();
    this.#channel = undefined;
  }

  #onJoinReply(response: unknown): void {
    if (!Array.isArray(response) || !response.every((n) => typeof n === 'string')) {
      this.#log('warn', 'the extensions join reply is not a list of names; nothing attached');
      return;
    }
    const listed = response as string[];
    void this.#enqueue(async () => {
      // a rejoin may list fewer: stop the others quietly (the server forgot them with the old join)
      for (const name of [...this.#attached]) if (!listed.includes(name)) await this.#detachOne(name, false);
      for (const name of listed) await this.#attachOne(name);
    });
  }

  #onRequest(kind: 'attach' | 'detach', payload: Record<string, unknown>): void {
    const names = extensionNames(payload, kind === 'attach' ? [...this.#byName.keys()] : [...this.#attached]);
    if (!names) {
      this.#log('warn', `ignored an extensions ${kind} that names no extensions`);
      return;
    }
    void (kind === 'attach' ? this.attach(names) : this.detach(names));
  }

  async #attachOne(name: string): Promise<void> {
    const ext = this.#byName.get(name);
    if (!ext) {
      this.#log('warn', `NervesHub asked for extension ${sanitizeForLog(name, 60)}, which this device does not have`);
      this.#channel?.push(`${name}:error`, { reason: ExtensionErrorReasons.unknownExtension });
      return;
    }
    if (!this.#attached.has(name)) {
      try {
        await ext.attach?.(this.#context(ext));
      } catch (error) {
        this.#log('error', `extension ${name} failed to start`, { error: String(error) });
        this.#channel?.push(`${name}:error`, { reason: ExtensionErrorReasons.startFailure });
        return;
      }
      this.#attached.add(name);
    }
    // also re-sent after a rejoin: the server's state of the extension is per join
    this.#channel?.push(`${name}:attached`, {});
  }

  async #detachOne(name: string, notify: boolean): Promise<void> {
    const ext = this.#byName.get(name);
    if (!ext || !this.#attached.delete(name)) return;
    try {
      await ext.detach?.();
    } catch (error) {
      this.#log('error', `extension ${name} failed to stop cleanly`, { error: String(error) });
    }
    if (notify) this.#channel?.push(`${name}:detached`, {});
  }

  #route(ext: DeviceExtension, event: string, payload: Record<string, unknown>): void {
    if (!this.#attached.has(ext.name)) {
      this.#log('debug', `ignored ${ext.name}:${event}: the extension is not attached`);
      return;
    }
    void (async () => {
      try {
        await ext.handle(event, payload, this.#context(ext));
      } catch (error) {
        this.#log('error', `extension ${ext.name} failed to handle ${event}`, { error: String(error) });
      }
    })();
  }

  #context(ext: DeviceExtension): ExtensionContext {
    return {
      logger: this.#logger,
      push: (event, payload) => {
        const channel = this.#channel;
        if (!channel || !this.#attached.has(ext.name) || !channel.joined) return false;
        void channel.request(`${ext.name}:${event}`, payload, this.#replyTimeoutMs).then((reply) => {
          // NervesHub answers a push of an extension the device may not use with {status: error, response: "detach"}
          if (reply.status === 'error' && reply.response === 'detach') {
            this.#log('warn', `NervesHub refused ${ext.name}:${event}; detaching ${ext.name}`);
            void this.detach([ext.name]);
          }
        });
        return true;
      },
    };
  }

  #enqueue(task: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(task, task);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  #log(level: 'error' | 'warn' | 'info' | 'debug', message: string, data?: Record<string, unknown>): void {
    safeLog(this.#logger, level, message, data);
  }
}
