import { NervesHubError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { safeLog, silentLogger } from '../logging/logger.js';
import { NervesHubSocket } from '../socket/nerves-hub-socket.js';
import { ServerTrustingDownloader } from './server-trusting-downloader.js';
import type { NervesHubSocketOptions } from '../socket/options.js';
import type { FirmwareApplier } from '../update/firmware-applier.js';
import type { GuardedUpdateClient } from '../update/guarded-client.js';
import { guardUpdateClient } from '../update/guarded-client.js';
import type { UpdateClient } from '../update/update-client.js';
import { UpdateManager } from '../update/update-manager.js';
import type { UpdateManagerOptions, UpdateOutcome } from '../update/update-manager-options.js';
import { resolveUpdateManagerSettings } from '../update/update-manager-options.js';
import type { BuiltInStrategyName, UpdateStrategy } from '../update/update-strategy.js';
import type { LinkStatus, LinkStatusListener } from './link-status.js';
import { sameLinkStatus } from './link-status.js';
import type { ExtensionsManager } from '../extensions/extensions-manager.js';
import type { ArchiveManager, ArchiveOutcome } from '../archives/archive-manager.js';
import type { LinkArchivesOptions, LinkExtensionsOptions, ScriptHandler } from './device-services.js';
import { wireArchives, wireConsole, wireExtensions, wireScripts } from './device-services.js';
import type { RemoteConsole, RemoteConsoleOptions } from '../console/remote-console.js';

/** Socket options {@link NervesHubLink} sets itself (from the client and the update manager): not accepted in {@link NervesHubLinkOptions.socket}. */
export type WiredSocketOptions = 'currentlyDownloadingUuid' | 'firmwareValidated' | 'firmwareAutoRevertDetected' | 'reconnectBackoff' | 'logger';
/** Update manager options {@link NervesHubLink} sets itself: not accepted in {@link NervesHubLinkOptions.update}. */
export type WiredUpdateOptions = 'client' | 'reporter' | 'applier' | 'publicKeys' | 'logger';

/**
 * Options of {@link NervesHubLink}.
 *
 * @example
 * ```ts
 * const options: NervesHubLinkOptions = {
 *   socket: { url: 'devices.nerves-hub.org', auth: { type: 'certificate', provider }, firmware },
 *   client: createDefaultUpdateClient({ currentFirmwareUuid: firmware.uuid }),
 *   applier: new FwupApplier({ devicePath: '/dev/mmcblk0' }),
 *   update: { strategy: 'cached', stateDir: '/data/nerves-hub-link' },
 * };
 * ```
 * @category Start here
 */
export interface NervesHubLinkOptions {
  /** Connection settings (URL, auth, running firmware, keys, TLS…). */
  socket: Omit<NervesHubSocketOptions, WiredSocketOptions>;
  /** The app's behaviour: update decisions and hooks. */
  client: UpdateClient;
  /** Where verified firmware goes (`FwupApplier` on a device, `FileApplier` for files). */
  applier: FirmwareApplier;
  /**
   * Update settings: strategy, state and cache directories, timeouts, downloader. Without a
   * `downloader`, firmware is downloaded trusting Node's roots plus the socket's server CA
   * (`socket.tls.ca`, else the certificate provider's `serverCaCertificates`) through the socket's proxy.
   */
  update?: Omit<UpdateManagerOptions, WiredUpdateOptions>;
  /** Log sink for the socket, the update manager and the hooks (default: silent). */
  logger?: Logger;
  /** Extensions offered on `extensions:get` (default: health and geo, as nerves_hub_link); `false` offers none. */
  extensions?: LinkExtensionsOptions | false;
  /** Answers `scripts/run`; without it every script is refused with reason `unsupported`. */
  scripts?: ScriptHandler;
  /**
   * Archives: downloaded (with the update downloader) only when the app says `download`, verified
   * with the archive keys, then handed to `client.archiveReady`. Without it offers are ignored.
   */
  archives?: LinkArchivesOptions;
  /**
   * The remote console (off unless set). SECURITY: anyone with console rights on the NervesHub
   * organisation then runs code on the device with the app's rights.
   */
  console?: RemoteConsoleOptions;
}

/**
 * Listener result of {@link NervesHubLinkOptions} updates, for observers.
 *
 * @category Start here
 */
export type UpdateOutcomeListener = (outcome: UpdateOutcome) => void;

/**
 * The convenience composition: one {@link NervesHubSocket} and one {@link UpdateManager}, wired the
 * way nerves_hub_link wires them. It is optional — apps that supervise their own processes can
 * build the same from the parts ({@link NervesHubSocket}, {@link UpdateManager}) and restart them
 * under their own supervisor.
 *
 * What it wires:
 * - `update` → `UpdateManager.handleUpdate` (keys: those configured, or sent by the server when a join asked for them);
 * - the default firmware downloader trusts the socket's server CA (see {@link NervesHubLinkOptions.update});
 * - `reboot` / `identify` / `connected` / `error` → the client's hooks (guarded: a throwing or hanging
 *   hook is logged and never wedges anything);
 * - after every join, `report_network_interface` with the connection's interface, which `started`
 *   also carries (`downloader_network_interface`), as nerves_hub_link ≥ 2.11 does;
 * - join param `fwup_version` (which makes NervesHub send delta firmware) only while
 *   `updates.deltaCapability.canApplyDeltas`: the applier proves delta output (fwup) or a delta
 *   source is configured; otherwise it is left out (also from `extraJoinParams`) and logged once;
 * - join params `currently_downloading_uuid` ← the manager; `meta.firmware_validated` and
 *   `firmware_auto_revert_detected` ← the client (async answers are cached and refreshed at every join);
 * - `reconnectBackoff` ← the client (the answer of the previous cycle is used; refreshed at every disconnect);
 * - once joined with fwup keys (configured, or sent by the server after the join), a cached download
 *   interrupted by a restart is resumed from the journal.
 *
 * @example
 * ```ts
 * const link = new NervesHubLink({
 *   socket: { url: 'wss://devices.nerves-hub.org', auth: { type: 'certificate', provider }, firmware, fwupPublicKeys },
 *   client: createDefaultUpdateClient({ currentFirmwareUuid: firmware.uuid, reboot: () => rebootTheDevice() }),
 *   applier: new FwupApplier({ devicePath: '/dev/mmcblk0', task: 'upgrade' }),
 *   update: { strategy: 'cached', stateDir: '/data/nerves-hub-link' },
 * });
 * link.start();
 * process.on('SIGTERM', () => void link.stop());
 * ```
 * @category Start here
 */
export class NervesHubLink {
  /** The connection. Listen to its events for status displays. */
  readonly socket: NervesHubSocket;
  /** The update manager. */
  readonly updates: UpdateManager;
  /** The extensions (health, geo, …) offered to NervesHub. */
  readonly extensions: ExtensionsManager;
  /** The archive manager, when {@link NervesHubLinkOptions.archives} is set. */
  readonly archives: ArchiveManager | undefined;
  /** The remote console, when {@link NervesHubLinkOptions.console} is set. */
  readonly remoteConsole: RemoteConsole | undefined;
  readonly #archiveListeners = new Set<(outcome: ArchiveOutcome) => void>();
  readonly #hooks: GuardedUpdateClient;
  readonly #logger: Logger;
  readonly #outcomeListeners = new Set<UpdateOutcomeListener>();
  readonly #statusListeners = new Set<LinkStatusListener>();
  #lastStatus: LinkStatus;
  #lastError: Error | undefined;
  #validated = true;
  #autoRevert = false;
  #backoff: number[] | undefined;
  #resumed = false;
  #warnedNoDeltas = false;
  #started = false;
  #stopped = false;
  readonly #stopController = new AbortController();

  /** @throws NervesHubError `NH_INVALID_OPTIONS` for a bad option (as {@link NervesHubSocket} and `UpdateManager` do). */
  constructor(options: NervesHubLinkOptions) {
    this.#logger = options.logger ?? silentLogger;
    // the hooks the link calls itself get the same time limit as those the update manager calls
    const { callbackTimeoutMs } = resolveUpdateManagerSettings(options.update ?? {});
    this.#hooks = guardUpdateClient(options.client, { timeoutMs: callbackTimeoutMs, logger: this.#logger, signal: this.#stopController.signal });
    // The socket needs the manager's in-flight UUID and the manager needs the socket: late-bound.
    const late: { updates?: UpdateManager } = {};
    const { fwupVersion, extraJoinParams } = options.socket;
    this.socket = new NervesHubSocket({
      reportNetworkInterface: true,
      ...options.socket,
      // fwup_version makes NervesHub send deltas: report it only while the device can take them.
      ...(fwupVersion !== undefined ? { fwupVersion: () => this.#advertisedFwupVersion(fwupVersion) } : {}),
      ...(extraJoinParams !== undefined
        ? {
            extraJoinParams: () => {
              const extra = extraJoinParams();
              if (this.updates.deltaCapability.canApplyDeltas || typeof extra !== 'object' || extra === null || !('fwup_version' in extra)) return extra;
              const { fwup_version: _dropped, ...rest } = extra;
              return rest;
            },
          }
        : {}),
      logger: this.#logger,
      currentlyDownloadingUuid: () => late.updates?.currentlyDownloadingUuid ?? null,
      firmwareValidated: () => {
        void this.#refreshFlags();
        return this.#validated;
      },
      firmwareAutoRevertDetected: () => this.#autoRevert,
      reconnectBackoff: () => {
        const current = this.#backoff;
        void this.#hooks.reconnectBackoff().then((next) => (this.#backoff = next));
        return current;
      },
    });
    const socket = this.socket;
    const proxy = options.socket.proxy;
    // the default downloader trusts what the socket trusts (its server CA, plus Node's roots)
    const downloader =
      options.update?.downloader ??
      new ServerTrustingDownloader({
        serverCa: () => socket.serverCaCertificates,
        ...(proxy !== undefined ? { proxy: String(proxy) } : {}),
        logger: this.#logger,
        allowInsecureHttpDownloadsForTesting: options.update?.allowInsecureHttpDownloadsForTesting === true,
      });
    this.updates = new UpdateManager({
      networkInterface: () => this.socket.networkInterface,
      ...options.update,
      downloader,
      client: options.client,
      reporter: this.socket,
      applier: options.applier,
      publicKeys: () => this.socket.fwupPublicKeys,
      logger: this.#logger,
    });
    late.updates = this.updates;
    this.socket.on('update', (info) => {
      void this.updates.handleUpdate(info).then((outcome) => this.#emitOutcome(outcome));
    });
    this.socket.on('reboot', () => {
      void this.#hooks.reboot().then((called) => {
        if (!called) safeLog(this.#logger, 'warn', 'NervesHub asked for a reboot but the client has no reboot() hook: nothing rebooted');
      });
    });
    this.extensions = wireExtensions(this.socket, options.extensions, this.#logger);
    wireScripts(this.socket, options.scripts, this.#logger);
    this.remoteConsole = wireConsole(this.socket, options.console, this.#logger);
    this.archives = wireArchives(this.socket, options.archives, downloader, this.#logger, (outcome) => {
      for (const l of this.#archiveListeners) {
        try {
          l(outcome);
        } catch (error) {
          safeLog(this.#logger, 'error', 'an archive outcome listener threw', { error });
        }
      }
    });
    this.socket.on('identify', () => void this.#hooks.identify());
    this.socket.on('error', (error) => {
      this.#lastError = error;
      this.#statusMaybeChanged();
      void this.#hooks.onError(error);
    });
    this.socket.on('connected', () => {
      this.#statusMaybeChanged();
      void this.#hooks.connected();
      this.#resumeOnce();
    });
    this.socket.on('disconnected', () => this.#statusMaybeChanged());
    this.socket.on('reconnecting', () => this.#statusMaybeChanged());
    this.updates.onStatusChange(() => this.#statusMaybeChanged());
    this.#lastStatus = this.status;
    // Keys asked for at join ("on_connect") arrive after the join: the resume waits for them.
    this.socket.on('fwupPublicKeys', () => this.#resumeOnce());
  }

  /**
   * Reads the client's validation flags, then connects. Call once.
   * @throws Error when called a second time.
   */
  start(): void {
    if (this.#started) throw new NervesHubError('NH_LINK_ALREADY_STARTED', 'NervesHubLink.start() was already called: build a new NervesHubLink to start again');
    this.#started = true;
    void this.#refreshFlags().finally(() => {
      if (!this.#stopped) this.socket.connect();
    });
  }

  /** Stops the update (a cached download resumes at the next start), closes the socket, clears every timer. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#stopController.abort(new Error('NervesHubLink stopped'));
    await this.updates.close();
    this.archives?.close();
    this.remoteConsole?.close();
    await this.extensions.close();
    await this.socket.close();
  }

  /**
   * Where the link stands right now: connection, join, update in progress, latest error.
   *
   * @example
   * ```ts
   * if (!link.status.updating) link.setApplier(nextApplier);
   * ```
   */
  get status(): LinkStatus {
    const current = this.updates.currentUpdate;
    const status: LinkStatus = { connected: this.socket.connectionOpen, joined: this.socket.joined, updating: this.updates.status === 'updating' };
    if (status.updating && current !== null) status.currentUpdate = current;
    if (this.#lastError !== undefined) status.lastError = this.#lastError;
    return status;
  }

  /**
   * Calls `listener` with the new {@link status} whenever it changes: at every join and disconnect,
   * connection error, update start and end. Listener errors are logged. Returns an unsubscribe function.
   *
   * @example
   * ```ts
   * const off = link.onStatusChange(({ joined, updating }) => led.set(updating ? 'blink' : joined ? 'on' : 'off'));
   * ```
   */
  onStatusChange(listener: LinkStatusListener): () => void {
    this.#statusListeners.add(listener);
    return () => this.#statusListeners.delete(listener);
  }

  /**
   * Drops the connection to NervesHub and connects again at once (nerves_hub_link's
   * `reconnect/0`), e.g. after the network changed. A running update continues (its download has
   * its own connection). Does nothing before {@link start} or after {@link stop}.
   */
  reconnect(): void {
    if (!this.#started || this.#stopped) return;
    this.socket.reconnect();
  }

  /**
   * Changes how the next update runs (nerves_hub_link's `UpdateManager.change_updater/1`):
   * `streamingStrategy()`, `cachedStrategy({ cacheDir })`, your own {@link UpdateStrategy}, or
   * `'streaming'` / `'cached'` (with the `update.cacheDir`/`stateDir` given at construction).
   * @throws NervesHubError `NH_UPDATE_BUSY` while an offer is being decided or an update runs (nothing
   *   changes; try again once {@link status} says `updating: false`), `NH_INVALID_OPTIONS` for
   *   something that is not a strategy.
   */
  setStrategy(strategy: UpdateStrategy | BuiltInStrategyName): void {
    this.updates.setStrategy(strategy);
  }

  /**
   * Changes where the next update is written (e.g. another fwup task or device path).
   * @throws NervesHubError `NH_UPDATE_BUSY` while an offer is being decided or an update runs (nothing
   *   changes), `NH_INVALID_OPTIONS` for something without an `apply` function.
   */
  setApplier(applier: FirmwareApplier): void {
    this.updates.setApplier(applier);
  }

  /** Calls `listener` with the outcome of every update offer (completed, failed, ignored…). Returns an unsubscribe function. */
  onUpdateOutcome(listener: UpdateOutcomeListener): () => void {
    this.#outcomeListeners.add(listener);
    return () => this.#outcomeListeners.delete(listener);
  }

  /** Calls `listener` with the outcome of every archive offer (ready, ignored, refused, failed). Returns an unsubscribe function. */
  onArchiveOutcome(listener: (outcome: ArchiveOutcome) => void): () => void {
    this.#archiveListeners.add(listener);
    return () => this.#archiveListeners.delete(listener);
  }

  /**
   * Sends a file to NervesHub's web console (1024-byte `file-data` chunks).
   * @throws NervesHubError `NH_CONSOLE_NOT_JOINED` (also when the console is off), `NH_CONSOLE_FILE_TOO_LARGE`, `NH_CONSOLE_FILE_NOT_READABLE`.
   */
  async sendFile(path: string): Promise<void> {
    if (!this.remoteConsole) throw new NervesHubError('NH_CONSOLE_NOT_JOINED', 'sendFile: the remote console is off (set the console option)');
    await this.remoteConsole.sendFile(path);
  }

  /** The configured fwup version, or '' (not reported) while the device cannot take deltas. */
  async #advertisedFwupVersion(configured: string | (() => string | Promise<string>)): Promise<string> {
    const capability = this.updates.deltaCapability;
    if (!capability.canApplyDeltas) {
      if (!this.#warnedNoDeltas) safeLog(this.#logger, 'info', 'fwup_version not reported, so NervesHub sends full firmware', { reason: capability.reason });
      this.#warnedNoDeltas = true;
      return '';
    }
    this.#warnedNoDeltas = false;
    return typeof configured === 'function' ? configured() : configured;
  }

  /** Resumes an interrupted cached download once, as soon as the device is joined and has keys. */
  #resumeOnce(): void {
    if (this.#resumed || !this.socket.joined || this.socket.fwupPublicKeys.length === 0) return;
    this.#resumed = true;
    void this.updates.resumeFromJournal().then((outcome) => outcome && this.#emitOutcome(outcome));
  }

  #emitOutcome(outcome: UpdateOutcome): void {
    if (outcome.error !== undefined) {
      this.#lastError = outcome.error;
      this.#statusMaybeChanged();
    }
    safeLog(this.#logger, 'info', `update ${outcome.status}`, outcome.reason ? { uuid: outcome.uuid, reason: outcome.reason } : { uuid: outcome.uuid });
    for (const listener of this.#outcomeListeners) {
      try {
        listener(outcome);
      } catch (err) {
        safeLog(this.#logger, 'error', 'an update outcome listener threw', { error: err });
      }
    }
  }

  /** Tells the status listeners when {@link status} differs from what they were last told. */
  #statusMaybeChanged(): void {
    const status = this.status;
    if (sameLinkStatus(status, this.#lastStatus)) return;
    this.#lastStatus = status;
    for (const listener of this.#statusListeners) {
      try {
        listener({ ...status });
      } catch (err) {
        safeLog(this.#logger, 'error', 'a link status listener threw', { error: err });
      }
    }
  }

  async #refreshFlags(): Promise<void> {
    const [validated, autoRevert] = await Promise.all([this.#hooks.firmwareValidated(), this.#hooks.firmwareAutoRevertDetected()]);
    this.#validated = validated;
    this.#autoRevert = autoRevert;
  }
}
