import { Socket as PhoenixSocket } from 'phoenix';
import type { Channel } from 'phoenix';
import { NervesHubError, invalidOptions } from '../errors.js';
import { sanitizeForLog } from '../logging/log-sanitizer.js';
import { safeLog } from '../logging/logger.js';
import { redactUrl } from '../logging/redact.js';
import { TypedEmitter } from '../events/typed-emitter.js';
import { DeviceEvents, ServerEvents, Topics } from '../protocol/constants.js';
import { scriptRunReplyPayload } from '../protocol/server-messages.js';
import type { ScriptRunResult } from '../protocol/server-messages.js';
import { statusUpdatePayload } from '../protocol/status.js';
import { isNoUpdateMessage } from '../protocol/update-info.js';
import type { ProgressStage, UpdateReporter, UpdateStatus } from '../protocol/status.js';
import { ReconnectSchedule } from './backoff.js';
import { SocketErrorCodes, describeAttemptFailure } from './connect-errors.js';
import type { AttemptFailure } from './connect-errors.js';
import { decodeFrame } from './frame-decoder.js';
import type { PhoenixFrame } from './frame-decoder.js';
import { readFlag, readJoinParams } from './join-params.js';
import { AttemptPreparer, errorText } from './attempt-preparer.js';
import { SOCKET_DEFAULTS, resolveSocketOptions } from './options.js';
import type { NervesHubSocketOptions, ResolvedSocketOptions } from './options.js';
import type { InvalidMessageInfo, NervesHubSocketEvents } from './socket-events.js';
import { createTopicChannel } from './topic-channel.js';
import type { TopicChannelImpl } from './topic-channel.js';
import type { TopicChannel } from './topic-channel.js';
import { KNOWN_SERVER_EVENTS, interpretServerEvent } from './server-events.js';
import { RepeatingCheck, discardChannel, pushAndForget } from './phoenix-internals.js';
import type { PushInternals } from './phoenix-internals.js';
import { interfaceForAddress } from './network-interface.js';
import { createTransportClass } from './transport.js';
import type { PhoenixTransport } from './transport.js';

/**
 * The device's connection to NervesHub: a Phoenix channel client over `wss://` that joins the
 * `device` topic, validates every server message into typed events, reports update progress
 * and status, and reconnects with jittered exponential backoff. Implements {@link UpdateReporter}.
 *
 * Listener errors are logged and never reach the socket; events are emitted on a later tick.
 *
 * @example
 * ```ts
 * const socket = new NervesHubSocket({
 *   url: 'devices.nerves-hub.org',
 *   auth: { type: 'certificate', provider: new FileCertificateProvider({ certFile, keyFile }) },
 *   firmware: { uuid: '…', product: 'hello', version: '1.0.0', platform: 'rpi4', architecture: 'arm' },
 *   fwupVersion: '1.16.0',
 * });
 * socket.on('update', (info) => void updateManager.handleUpdate(info));
 * socket.on('error', (err) => log(err.code, err.message));
 * socket.connect();
 * // …
 * await socket.close();
 * ```
 * @category Connection
 */
export class NervesHubSocket extends TypedEmitter<NervesHubSocketEvents> implements UpdateReporter {
  readonly #o: ResolvedSocketOptions;
  readonly #schedule: ReconnectSchedule;
  #phx: PhoenixSocket | null = null;
  #channel: Channel | null = null;
  #joined = false;
  #networkInterface: string | null = null;
  #joinCount = 0;
  #attempts = 0;
  #fwupKeys: string[];
  #archiveKeys: string[];
  /** Which keys the current join asked for (`"on_connect"`); each request is answered by one push. */
  #keysRequested = { fwup: false, archive: false };
  #warnedUnsolicitedKeys = false;
  readonly #attempt: AttemptPreparer;
  #disconnectReason: string | undefined;
  #outbox: Array<{ event: string; payload: Record<string, unknown> }> = [];
  #transports = new Set<PhoenixTransport>();
  #topics = new Set<TopicChannelImpl>();
  #closing: Promise<void> | undefined;
  readonly #validationPoll = new RepeatingCheck();
  #rechannelTimer: NodeJS.Timeout | undefined;
  #reportedValidated = true;
  #markedValidated = false;

  /** @throws NervesHubError `NH_INVALID_OPTIONS` when an option is invalid. */
  constructor(options: NervesHubSocketOptions) {
    super((event, error) => this.#log('error', `a listener of "${String(event)}" threw; ignored`, { error: errorText(error) }));
    this.#o = resolveSocketOptions(options);
    this.#attempt = new AttemptPreparer(this.#o, (message, data) => this.#log('warn', message, data));
    this.#fwupKeys = [...this.#o.fwupPublicKeys];
    this.#archiveKeys = this.#o.archivePublicKeys.length > 0 ? [...this.#o.archivePublicKeys] : [...this.#o.fwupPublicKeys];
    this.#schedule = new ReconnectSchedule({
      baseMs: this.#o.reconnectBaseMs,
      maxMs: this.#o.reconnectMaxMs,
      jitterRatio: this.#o.reconnectJitterRatio,
      minDelayMs: this.#o.minReconnectDelayMs,
      stableConnectionMs: this.#o.stableConnectionMs,
      override: this.#o.reconnectBackoff,
      random: this.#o.random,
      now: this.#o.now,
      onOverrideError: (error) => this.#log('warn', 'reconnectBackoff() failed; using the default schedule', { error: errorText(error) }),
    });
  }

  /** True while the `device` topic is joined. */
  get joined(): boolean {
    return this.#joined;
  }

  /** True while the WebSocket to NervesHub is open (the `device` topic may not be joined yet: see {@link joined}). */
  get connectionOpen(): boolean {
    return this.#phx?.isConnected() ?? false;
  }

  /**
   * The fwup public keys used for the next update: the configured ones, or those the server sent in
   * answer to a join that asked for them (`"on_connect"`). Unsolicited pushes never change them.
   */
  get fwupPublicKeys(): readonly string[] {
    return [...this.#fwupKeys];
  }

  /** The archive public keys: configured, else the fwup keys, or those the server sent when a join asked for them. */
  get archivePublicKeys(): readonly string[] {
    return [...this.#archiveKeys];
  }

  /**
   * The CA certificates this socket trusts for NervesHub's server certificate: `tls.ca`, else the
   * certificate provider's `serverCaCertificates` as of the latest connection attempt; `undefined`
   * means Node's default roots. Give them to the firmware downloader when NervesHub serves the
   * firmware (NervesHubLink's default downloader does).
   */
  get serverCaCertificates(): ReadonlyArray<string | Uint8Array> | undefined {
    const ca = this.#o.tls.ca ?? this.#attempt.providerServerCa;
    return ca && ca.length > 0 ? [...ca] : undefined;
  }

  /** Starts connecting (and keeps reconnecting until {@link close}). Calling it again does nothing. */
  connect(): void {
    if (this.#phx) return;
    this.#attempts = 0;
    this.#disconnectReason = undefined;
    const phx = new PhoenixSocket(this.#o.endpoint, {
      transport: this.#createTransport(),
      params: this.#o.endpointParams,
      heartbeatIntervalMs: this.#o.heartbeatIntervalMs,
      timeout: this.#o.joinTimeoutMs,
      reconnectAfterMs: () => this.#reconnectDelay(),
      rejoinAfterMs: () => this.#o.rejoinAfterMs,
      decode: (raw: string, callback: (decoded: PhoenixFrame) => void) => this.#decode(raw, callback),
      // only kind and message (never payloads: update URLs are presigned), URLs without their query
      logger: (kind: string, message: string) => this.#log('debug', `phoenix ${kind}: ${String(message).slice(0, 200).replace(/\b(?:wss?|https?):\/\/\S+/g, (u) => redactUrl(u))}`),
    });
    this.#phx = phx;
    phx.onMessage((msg: object) => this.#onAnyMessage(msg as PhoenixFrame));
    // Join only once a connection is open: phoenix evaluates the join params when the join is
    // pushed, and they must be read after this attempt refreshed the firmware metadata.
    phx.onOpen(() => {
      if (this.#phx === phx && !this.#channel && this.#rechannelTimer === undefined) this.#openChannel();
    });
    phx.connect();
  }

  /**
   * Drops the current connection (or skips the wait before the next attempt) and connects again
   * at once, like nerves_hub_link's `reconnect/0`: the `device` topic and the topics of
   * {@link joinTopic} are rejoined, statuses sent meanwhile are queued. Emits `disconnected`
   * (reason `reconnect requested by the app`, `willRetryInMs: 0`). Does nothing before
   * {@link connect} or after {@link close}.
   */
  reconnect(): void {
    const phx = this.#phx;
    if (!phx) return;
    this.#joined = false;
    this.#validationPoll.stop();
    this.#disconnectReason = undefined;
    // phoenix connects anew right away and errors the channels of the old connection, so they rejoin
    phx.disconnect(undefined, 1000, 'device reconnecting');
    phx.connect();
    this.#log('info', 'reconnect requested by the app');
    this.#emitLater('disconnected', { reason: 'reconnect requested by the app', willRetryInMs: 0 });
  }

  /**
   * Stops everything: leaves no socket, timer or retry behind. Resolves once the connection is
   * closed. The socket can be connected again afterwards.
   */
  close(): Promise<void> {
    const phx = this.#phx;
    if (!phx) return this.#closing ?? Promise.resolve();
    this.#phx = null;
    const closing = this.#shutdown(phx).finally(() => {
      if (this.#closing === closing) this.#closing = undefined;
    });
    this.#closing = closing;
    return closing;
  }

  async #shutdown(phx: PhoenixSocket): Promise<void> {
    this.#joined = false;
    this.#validationPoll.stop();
    clearTimeout(this.#rechannelTimer);
    this.#rechannelTimer = undefined;
    discardChannel(phx, this.#channel);
    this.#channel = null;
    for (const t of this.#topics) {
      t.abandon();
      discardChannel(phx, t.channel);
    }
    this.#topics.clear();
    await new Promise<void>((resolve) => phx.disconnect(() => resolve(), 1000, 'device closing'));
    for (const t of this.#transports) t.terminate();
    await Promise.all([...this.#transports].map((t) => t.closed));
    this.#schedule.reset();
    this.#outbox = [];
    this.#disconnectReason = undefined;
    this.#emitLater('disconnected', { reason: 'closed by the app', willRetryInMs: null });
  }

  /**
   * Pushes `status_update` (see {@link UpdateStatus}). Queued (up to 64 messages) while
   * connecting; dropped when the socket is closed. Never throws: an invalid status is logged.
   */
  sendStatus(status: UpdateStatus): void {
    let payload: Record<string, unknown> | undefined;
    try {
      payload = statusUpdatePayload(status);
    } catch {
      payload = undefined;
    }
    if (typeof payload !== 'object' || payload === null) {
      this.#log('error', 'sendStatus: not an UpdateStatus; dropped');
      return;
    }
    this.#push(DeviceEvents.statusUpdate, payload);
  }

  /** Pushes `fwup_progress {stage, value}` with `value` clamped to an integer 0…100. Never throws. */
  sendProgress(stage: ProgressStage, value: number): void {
    if (stage !== 'downloading' && stage !== 'updating') {
      this.#log('error', `sendProgress: unknown stage ${JSON.stringify(String(stage)).slice(0, 40)}; dropped`);
      return;
    }
    const v = Number.isFinite(value) ? Math.min(100, Math.max(0, Math.round(value))) : 0;
    this.#push(DeviceEvents.fwupProgress, { stage, value: v });
  }

  /** Pushes `rebooting {}` (the socket already does so on a server `reboot`). */
  sendRebooting(): void {
    this.#push(DeviceEvents.rebooting, {});
  }

  /** Pushes `firmware_validated {}`, marks the firmware validated for later joins and stops the poll. */
  sendFirmwareValidated(): void {
    this.#markedValidated = true;
    this.#reportedValidated = true;
    this.#validationPoll.stop();
    this.#push(DeviceEvents.firmwareValidated, {});
  }

  /** Same as {@link sendFirmwareValidated}: call it once the new firmware proved itself. */
  markFirmwareValidated(): void {
    this.sendFirmwareValidated();
  }

  /**
   * The network interface of the current connection (e.g. `eth0`), found from its local address, or
   * `null` when unknown. The update manager reports it in `status_update started`.
   */
  get networkInterface(): string | null {
    return this.#networkInterface;
  }

  /** Pushes `report_network_interface {interface}` (e.g. `eth0`, `wlan0`). */
  reportNetworkInterface(interfaceName: string): void {
    if (typeof interfaceName !== 'string' || interfaceName === '') throw invalidOptions('interface name must be a non-empty string');
    this.#push(DeviceEvents.reportNetworkInterface, { interface: interfaceName });
  }

  /** Answers a `scripts/run` request. */
  replyScript(ref: string, result: ScriptRunResult): void {
    if (typeof ref !== 'string' || ref === '') throw invalidOptions('ref must be the request ref');
    this.#push(DeviceEvents.scriptsRun, scriptRunReplyPayload(ref, result));
  }

  /**
   * Joins another topic (`console`, `extensions`) over the same connection; phoenix rejoins it
   * after every reconnect. `params` is read at every (re)join. Call after {@link connect};
   * {@link close} leaves every topic.
   * @throws NervesHubError `NH_INVALID_OPTIONS` for the `device` topic or an empty name, `NH_SOCKET_NOT_CONNECTED` before `connect()`.
   */
  joinTopic(topic: string, params: () => Record<string, unknown> = () => ({})): TopicChannel {
    if (typeof topic !== 'string' || topic === '' || topic === Topics.device) throw invalidOptions('joinTopic: topic must be a name other than "device"');
    if (typeof params !== 'function') throw invalidOptions('joinTopic: params must be a function');
    const phx = this.#phx;
    if (!phx) throw new NervesHubError(SocketErrorCodes.notConnected, 'joinTopic: call connect() first');
    const impl = createTopicChannel(phx, topic, params, {
      isConnected: () => this.#phx?.isConnected() ?? false,
      deliver: (fn) => queueMicrotask(() => this.#safely(`${topic} listener`, fn)),
      forget: (t) => {
        this.#topics.delete(t);
        const current = this.#phx;
        if (!current) return;
        if (t.channel.state === 'joined' && current.isConnected()) (t.channel.leave() as unknown as PushInternals).cancelTimeout();
        discardChannel(current, t.channel);
      },
      onParamsError: (error) => this.#callbackFailed(`${topic} join params`, error),
      defaultTimeoutMs: this.#o.joinTimeoutMs,
    });
    this.#topics.add(impl);
    impl.start(this.#o.joinTimeoutMs);
    return impl;
  }

  // ---- connection attempts -------------------------------------------------------------------

  #createTransport(): new (url: string, protocols?: string[]) => PhoenixTransport {
    return createTransportClass({
      prepare: (signal) => {
        // synchronous part: fresh NH1 headers for this very attempt
        const headers = this.#attempt.authHeaders();
        if (this.#attempts++ > 0) this.#emitLater('reconnecting', { failures: this.#schedule.failures });
        return this.#attempt.options(signal, headers);
      },
      onCreated: (transport) => this.#trackTransport(transport),
      onUpgrade: (response) => {
        this.#networkInterface = interfaceForAddress(response.socket?.localAddress) ?? null;
      },
      onFailure: (failure) => this.#onAttemptFailure(failure),
      onPeerClosed: (code, reason) => {
        this.#disconnectReason ??= `closed by the server (code ${code}${reason ? `: ${sanitizeForLog(reason, 100)}` : ''})`;
      },
      onHandlerError: (error) => this.#log('error', 'phoenix handler threw; message dropped', { error: errorText(error) }),
      closeGraceMs: this.#o.closeTimeoutMs,
    });
  }

  #onAttemptFailure(failure: AttemptFailure): void {
    if (!this.#phx) return;
    if (failure.kind === 'http') this.#attempt.learnServerClock(failure.status, failure.headers);
    const error = describeAttemptFailure(failure, { nowMs: this.#o.now(), deviceCertificatePem: this.#attempt.deviceCertificatePem, authType: this.#o.auth.type });
    this.#disconnectReason = error.code;
    this.#log('warn', error.message, { code: error.code });
    this.#emitLater('error', error);
  }

  #reconnectDelay(): number {
    const delay = this.#schedule.nextDelayMs();
    const reason = this.#disconnectReason ?? 'connection closed';
    this.#disconnectReason = undefined;
    this.#log('info', `disconnected (${reason}); reconnecting in ${delay} ms`);
    this.#emitLater('disconnected', { reason, willRetryInMs: delay });
    return delay;
  }

  // ---- the device channel -----------------------------------------------------------------------

  #openChannel(): void {
    const phx = this.#phx;
    if (!phx) return;
    const channel = phx.channel(Topics.device, (() => this.#joinParams()) as unknown as object);
    this.#channel = channel;
    for (const event of KNOWN_SERVER_EVENTS) channel.on(event, (payload: unknown) => this.#onServerEvent(event, payload));
    channel.onError((reason: unknown) => this.#onChannelError(channel, reason));
    channel.onClose(() => this.#onChannelClosed(channel));
    channel
      .join(this.#o.joinTimeoutMs)
      .receive('ok', () => this.#onJoined(channel))
      .receive('error', (response: unknown) => {
        const raw = typeof response === 'object' && response !== null && 'reason' in response ? String((response as { reason: unknown }).reason) : JSON.stringify(response ?? null);
        const why = raw.slice(0, 200);
        this.#emitLater('error', new NervesHubError(SocketErrorCodes.joinRefused, `NervesHub refused the device join (${why}); retrying in ${this.#o.rejoinAfterMs} ms`));
      })
      .receive('timeout', () => this.#log('warn', `device join timed out; retrying in ${this.#o.rejoinAfterMs} ms`));
  }

  #joinParams(): Record<string, unknown> {
    const state = { firmware: this.#attempt.firmware, fwupVersion: this.#attempt.fwupVersion, markedValidated: this.#markedValidated };
    const { params, firmwareValidated, keysRequested } = readJoinParams(this.#o, state, (name, error) => this.#callbackFailed(name, error));
    this.#reportedValidated = firmwareValidated;
    this.#keysRequested = keysRequested;
    this.#warnedUnsolicitedKeys = false;
    return params;
  }

  #onJoined(channel: Channel): void {
    if (channel !== this.#channel || !this.#phx) return;
    this.#joined = true;
    this.#joinCount++;
    this.#schedule.joined();
    const queued = this.#outbox;
    this.#outbox = [];
    for (const m of queued) this.#push(m.event, m.payload);
    if (this.#o.reportNetworkInterface && this.#networkInterface !== null) {
      this.#push(DeviceEvents.reportNetworkInterface, { interface: this.#networkInterface });
    }
    this.#startValidationPoll();
    this.#log('info', 'joined the device topic', { joinCount: this.#joinCount });
    this.#emitLater('connected', { joinCount: this.#joinCount });
  }

  #onChannelError(channel: Channel, reason: unknown): void {
    if (channel !== this.#channel) return;
    this.#joined = false;
    this.#validationPoll.stop();
    const r = typeof reason === 'object' && reason !== null ? (reason as { reason?: unknown }).reason : undefined;
    if (r === 'heartbeat_timeout') {
      this.#disconnectReason = SocketErrorCodes.heartbeatTimeout;
      this.#emitLater('error', new NervesHubError(SocketErrorCodes.heartbeatTimeout, `no heartbeat reply from NervesHub within ${this.#o.heartbeatIntervalMs} ms; reconnecting`));
    } else if (this.#disconnectReason === undefined && typeof r === 'string') {
      this.#disconnectReason = r;
    }
  }

  #onChannelClosed(channel: Channel): void {
    if (channel !== this.#channel || !this.#phx) return;
    // The server closed the topic (phx_close): phoenix forgets the channel, so open a new one later.
    this.#joined = false;
    this.#channel = null;
    this.#log('warn', `NervesHub closed the device topic; rejoining in ${this.#o.rejoinAfterMs} ms`);
    clearTimeout(this.#rechannelTimer);
    this.#rechannelTimer = setTimeout(() => {
      this.#rechannelTimer = undefined;
      if (this.#phx?.isConnected() && !this.#channel) this.#openChannel();
    }, this.#o.rejoinAfterMs);
  }

  #startValidationPoll(): void {
    this.#validationPoll.stop();
    const check = this.#o.firmwareValidated;
    if (this.#reportedValidated || !check || this.#o.firmwareValidationPollMs === 0) return;
    const isValid = (): boolean => readFlag(check, false, (e) => this.#callbackFailed('firmwareValidated', e));
    this.#validationPoll.start(this.#o.firmwareValidationPollMs, isValid, () => this.sendFirmwareValidated());
  }

  // ---- messages -----------------------------------------------------------------------------------

  #decode(raw: unknown, callback: (frame: PhoenixFrame) => void): void {
    const result = decodeFrame(raw);
    if (!result.ok) {
      this.#invalid({ reason: result.error });
      return;
    }
    const f = result.value;
    // a close/error without join_ref would hit whatever join is current: never from a real server
    if ((f.event === 'phx_close' || f.event === 'phx_error') && f.join_ref === null) {
      this.#invalid({ topic: f.topic, event: f.event, reason: `${f.event} without join_ref` });
      return;
    }
    callback(f);
  }

  #onAnyMessage(msg: PhoenixFrame): void {
    if (msg.topic !== Topics.device || KNOWN_SERVER_EVENTS.has(msg.event) || msg.event.startsWith('phx_')) return;
    this.#invalid({ topic: msg.topic, event: msg.event, reason: 'unknown event' });
  }

  #onServerEvent(event: string, payload: unknown): void {
    if (event === ServerEvents.update && isNoUpdateMessage(payload)) {
      this.#log('info', 'NervesHub has no update for this device (update_available: false)');
      return;
    }
    const outcome = interpretServerEvent(event, payload);
    if (!outcome.ok) return this.#invalid({ topic: Topics.device, event, reason: outcome.reason });
    switch (outcome.event) {
      case 'fwupPublicKeys':
        if (!this.#takeKeyAnswer('fwup')) return;
        this.#fwupKeys = [...outcome.args[0]];
        break;
      case 'archivePublicKeys':
        if (!this.#takeKeyAnswer('archive')) return;
        this.#archiveKeys = [...outcome.args[0]];
        break;
      case 'reboot':
        this.sendRebooting();
        break;
      case 'scriptsRun': {
        const [request] = outcome.args;
        // Refused unless the app registered a handler: Node has no safe way to evaluate server-sent code.
        queueMicrotask(() => {
          if (this.listenerCount('scriptsRun') > 0) this.emitNow('scriptsRun', request);
          else this.replyScript(request.ref, { result: 'error', reason: 'unsupported', output: '' });
        });
        return;
      }
    }
    // TypeScript cannot pair a union's event with its args; interpretServerEvent guarantees it
    const emit = this.emitNow.bind(this) as (event: string, ...args: unknown[]) => boolean;
    const { event: name, args } = outcome;
    queueMicrotask(() => emit(name, ...args));
  }

  /**
   * Configured keys are the trust anchors: a key push is accepted only as the one answer
   * to a join that asked for it; any other is dropped, with one warning per join.
   */
  #takeKeyAnswer(kind: 'fwup' | 'archive'): boolean {
    if (this.#keysRequested[kind]) {
      this.#keysRequested[kind] = false;
      return true;
    }
    if (!this.#warnedUnsolicitedKeys) {
      this.#warnedUnsolicitedKeys = true;
      this.#log('warn', `dropped ${kind}_public_keys the device did not ask for: keeping the configured keys (set request${kind === 'fwup' ? 'Fwup' : 'Archive'}PublicKeys to take the server's keys at each join)`);
    }
    return false;
  }

  #invalid(raw: { topic?: string; event?: string; reason: string }): void {
    // topic, event and reason quote the server: listeners log them too
    const info = boundInvalidInfo(raw);
    this.#log('warn', `dropped an invalid message${info.event ? ` (${info.event})` : ''}: ${info.reason}`);
    this.#emitLater('invalidMessage', info);
  }

  #push(event: string, payload: Record<string, unknown>): void {
    const channel = this.#channel;
    if (channel && this.#joined && this.#phx?.isConnected()) {
      try {
        pushAndForget(channel, event, payload);
      } catch (error) {
        this.#log('error', `could not push ${event}`, { error: errorText(error) });
      }
      return;
    }
    if (!this.#phx) {
      this.#log('warn', `not connected; dropped ${event}`);
      return;
    }
    this.#outbox.push({ event, payload });
    if (this.#outbox.length > SOCKET_DEFAULTS.outboxLimit) {
      const dropped = this.#outbox.shift();
      this.#log('warn', `outbox full; dropped ${dropped?.event ?? 'a message'}`);
    }
  }

  // ---- helpers --------------------------------------------------------------------------------------

  #emitLater<E extends keyof NervesHubSocketEvents>(event: E, ...args: NervesHubSocketEvents[E]): void {
    queueMicrotask(() => this.emitNow(event, ...args));
  }

  #safely(what: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#log('error', `a ${what} threw; ignored`, { error: errorText(error) });
    }
  }

  #callbackFailed(name: string, error: unknown): void {
    this.#log('error', `${name}() threw; using its default`, { error: errorText(error) });
  }

  #log(level: 'error' | 'warn' | 'info' | 'debug', message: string, data?: Record<string, unknown>): void {
    safeLog(this.#o.logger, level, message, data);
  }

  #trackTransport(t: PhoenixTransport): void {
    this.#transports.add(t);
    void t.closed.then(() => this.#transports.delete(t));
  }
}

/** An {@link InvalidMessageInfo} whose server-chosen strings are escaped and bounded. */
function boundInvalidInfo(raw: { topic?: string; event?: string; reason: string }): InvalidMessageInfo {
  const info: InvalidMessageInfo = { reason: sanitizeForLog(raw.reason, 300) };
  if (raw.topic !== undefined) info.topic = sanitizeForLog(raw.topic, 100);
  if (raw.event !== undefined) info.event = sanitizeForLog(raw.event, 100);
  return info;
}
