import { NervesHubError } from '../errors.js';
import type { Logger } from '../internal/logger.js';
import { safeLog, silentLogger } from '../internal/logger.js';
import { NervesHubSocket } from '../socket/nerves-hub-socket.js';
import { ServerTrustingDownloader } from './server-trusting-downloader.js';
import type { NervesHubSocketOptions } from '../socket/options.js';
import type { FirmwareApplier } from '../update/firmware-applier.js';
import type { GuardedUpdateClient } from '../update/guarded-client.js';
import { guardUpdateClient } from '../update/guarded-client.js';
import type { UpdateClient } from '../update/update-client.js';
import { UpdateManager } from '../update/update-manager.js';
import type { UpdateManagerOptions, UpdateOutcome } from '../update/update-manager-options.js';

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
}

/** Listener result of {@link NervesHubLinkOptions} updates, for observers. */
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
 */
export class NervesHubLink {
  /** The connection. Listen to its events for status displays. */
  readonly socket: NervesHubSocket;
  /** The update manager. */
  readonly updates: UpdateManager;
  readonly #hooks: GuardedUpdateClient;
  readonly #logger: Logger;
  readonly #outcomeListeners = new Set<UpdateOutcomeListener>();
  #validated = true;
  #autoRevert = false;
  #backoff: number[] | undefined;
  #resumed = false;
  #started = false;
  #stopped = false;
  readonly #stopController = new AbortController();

  /** @throws TypeError / NervesHubError as {@link NervesHubSocket} and {@link UpdateManager} do for bad options. */
  constructor(options: NervesHubLinkOptions) {
    this.#logger = options.logger ?? silentLogger;
    this.#hooks = guardUpdateClient(options.client, { logger: this.#logger, signal: this.#stopController.signal });
    // The socket needs the manager's in-flight UUID and the manager needs the socket: late-bound.
    const late: { updates?: UpdateManager } = {};
    this.socket = new NervesHubSocket({
      reportNetworkInterface: true,
      ...options.socket,
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
    this.updates = new UpdateManager({
      networkInterface: () => this.socket.networkInterface,
      ...options.update,
      // the default downloader trusts what the socket trusts (its server CA, plus Node's roots)
      downloader:
        options.update?.downloader ??
        new ServerTrustingDownloader({
          serverCa: () => socket.serverCaCertificates,
          ...(proxy !== undefined ? { proxy: String(proxy) } : {}),
          logger: this.#logger,
          allowInsecureHttpDownloadsForTesting: options.update?.allowInsecureHttpDownloadsForTesting === true,
        }),
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
    this.socket.on('reboot', () => void this.#hooks.reboot());
    this.socket.on('identify', () => void this.#hooks.identify());
    this.socket.on('error', (error) => void this.#hooks.onError(error));
    this.socket.on('connected', () => {
      void this.#hooks.connected();
      this.#resumeOnce();
    });
    // Keys asked for at join ("on_connect") arrive after the join: the resume waits for them.
    this.socket.on('fwup_public_keys', () => this.#resumeOnce());
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
    await this.socket.close();
  }

  /** Calls `listener` with the outcome of every update offer (completed, failed, ignored…). Returns an unsubscribe function. */
  onUpdateOutcome(listener: UpdateOutcomeListener): () => void {
    this.#outcomeListeners.add(listener);
    return () => this.#outcomeListeners.delete(listener);
  }

  /** Resumes an interrupted cached download once, as soon as the device is joined and has keys. */
  #resumeOnce(): void {
    if (this.#resumed || !this.socket.joined || this.socket.fwupPublicKeys.length === 0) return;
    this.#resumed = true;
    void this.updates.resumeFromJournal().then((outcome) => outcome && this.#emitOutcome(outcome));
  }

  #emitOutcome(outcome: UpdateOutcome): void {
    safeLog(this.#logger, 'info', `update ${outcome.status}`, outcome.reason ? { uuid: outcome.uuid, reason: outcome.reason } : { uuid: outcome.uuid });
    for (const listener of this.#outcomeListeners) {
      try {
        listener(outcome);
      } catch (err) {
        safeLog(this.#logger, 'error', 'an update outcome listener threw', { error: err });
      }
    }
  }

  async #refreshFlags(): Promise<void> {
    const [validated, autoRevert] = await Promise.all([this.#hooks.firmwareValidated(), this.#hooks.firmwareAutoRevertDetected()]);
    this.#validated = validated;
    this.#autoRevert = autoRevert;
  }
}
