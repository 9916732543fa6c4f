import { NervesHubError, invalidOptions } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { safeLog, silentLogger } from '../logging/logger.js';
import { redactUrl } from '../logging/redact.js';
import type { UpdateReporter, UpdateStatus } from '../protocol/status.js';
import { FailureReasons } from '../protocol/status.js';
import type { UpdateInfo } from '../protocol/update-info.js';
import type { WireFirmwareMeta } from '../protocol/wire-firmware-meta.js';
import { Downloader } from '../download/downloader.js';
import { checkDownloadUrl } from '../download/url-policy.js';
import { FirmwareVerifier } from '../firmware/firmware-verifier.js';
import type { DeltaSource } from '../delta/delta-source.js';
import { deltaSourceOf } from '../delta/delta-source.js';
import type { FirmwareApplier } from './firmware-applier.js';
import { withDeltaRebuild } from './delta-rebuild-verifier.js';
import type { DeltaCapability } from './delta-capability.js';
import { deltaCapability, verifierDeltaOptions } from './delta-capability.js';
import type { FwupMessage, UpdateClient, UpdateDecision } from './update-client.js';
import { guardedCall } from './guarded-call.js';
import type { GuardedUpdateClient } from './guarded-client.js';
import { guardUpdateClient } from './guarded-client.js';
import { normalizeUpdateDecision } from './update-decision.js';
import { classifyUpdateFailure } from './failure-reason.js';
import type { Clock } from './progress-throttle.js';
import { monotonicClock } from './progress-throttle.js';
import { UpdateProgress } from './update-progress.js';
import type { JournalState, UpdateFailureKind } from './update-journal.js';
import { UpdateJournal } from './update-journal.js';
import type { BuiltInStrategyName, UpdateStrategy } from './update-strategy.js';
import type { FirmwareDownloadSource, FirmwareStreamVerifier, VerifierDeltaOptions } from './update-ports.js';
import type { UpdateManagerOptions, UpdateManagerSettings, UpdateOutcome } from './update-manager-options.js';
import { resolveStrategy, resolveUpdateManagerSettings } from './update-manager-options.js';
import { infoFromPending, localRefusal, pendingFromInfo, recordFailure } from './update-memory.js';

/**
 * Runs firmware updates offered by NervesHub, with nerves_hub_link ≥ 2.9's wire behaviour:
 * `received` → the app's decision → `started` (at every downloader (re)connect) → throttled
 * `fwup_progress` → `fwup_progress updating 100` + `completed` → reboot hook; or `failed`,
 * `ignored`, `rescheduled` (minutes, ≥ 5). Without public keys it refuses (`failed "Refusing
 * unverified firmware : no public keys available"`), never asking the app. A second offer while
 * one is being decided or applied is dropped (logged). Every app callback is guarded by a
 * timeout and try/catch; a bad decision means `ignore` plus a logged error.
 *
 * The manager does not know the socket: it keeps running across reconnects, and a status sent
 * while disconnected may be lost. It deliberately does not queue the terminal status: after
 * `completed` the device reboots and rejoins with the new UUID (which is what the server records
 * as success); after `failed` the server's in-flight record expires (30 min, or at the next join
 * without `currently_downloading_uuid`) and a re-offer of a firmware that failed verification is
 * answered from the local failure memory (journal) without downloading it again.
 *
 * @example
 * ```ts
 * const manager = new UpdateManager({
 *   client: createDefaultUpdateClient({ currentFirmwareUuid: runningUuid }),
 *   reporter: socket,
 *   applier: new FwupApplier({ devicePath: '/dev/mmcblk0', task: 'upgrade' }),
 *   publicKeys: () => keys,
 *   strategy: 'cached',
 *   stateDir: '/data/nerves-hub',
 * });
 * socket.on('update', (info) => void manager.handleUpdate(info));
 * await manager.resumeFromJournal();
 * ```
 */
export class UpdateManager {
  readonly #client: UpdateClient;
  readonly #reporter: UpdateReporter;
  #currentApplier: FirmwareApplier;
  readonly #publicKeys: () => readonly string[];
  readonly #downloader: FirmwareDownloadSource;
  readonly #createVerifier: (publicKeys: readonly string[], delta: VerifierDeltaOptions) => FirmwareStreamVerifier;
  #currentStrategy: UpdateStrategy;
  readonly #strategyDirs: { cacheDir?: string | undefined; stateDir?: string | undefined };
  readonly #journal: UpdateJournal | null;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #settings: UpdateManagerSettings;
  readonly #networkInterface: () => string | null;
  readonly #allowInsecureHttp: boolean;
  readonly #deltaSource: DeltaSource | undefined;
  #phase: 'idle' | 'deciding' | 'updating' = 'idle';
  #updatingMeta: WireFirmwareMeta | null = null;
  readonly #statusListeners = new Set<(status: 'idle' | 'updating') => void>();
  #downloadingUuid: string | null = null;
  #abortController: AbortController | null = null;
  /** Fires at close(): stops waiting for app callbacks. */
  readonly #lifetime = new AbortController();
  readonly #hooks: GuardedUpdateClient;
  #running: Promise<unknown> | null = null;
  #closed = false;

  /**
   * @throws NervesHubError `NH_INVALID_OPTIONS` for a bad timeout/limit, an unknown strategy, or
   *   the `cached` strategy without `cacheDir`/`stateDir`.
   */
  constructor(options: UpdateManagerOptions) {
    this.#client = options.client;
    this.#reporter = options.reporter;
    this.#currentApplier = options.applier;
    this.#publicKeys = options.publicKeys;
    this.#logger = options.logger ?? silentLogger;
    this.#clock = options.clock ?? monotonicClock;
    this.#allowInsecureHttp = options.allowInsecureHttpDownloadsForTesting === true;
    this.#downloader = options.downloader ?? new Downloader({ logger: this.#logger, allowInsecureHttpDownloadsForTesting: this.#allowInsecureHttp });
    this.#createVerifier = options.createVerifier ?? ((publicKeys, delta) => new FirmwareVerifier({ publicKeys, ...delta }));
    this.#networkInterface = options.networkInterface ?? (() => null);
    this.#deltaSource = options.deltaSource;
    this.#settings = resolveUpdateManagerSettings(options);
    this.#hooks = guardUpdateClient(this.#client, { timeoutMs: this.#settings.callbackTimeoutMs, logger: this.#logger, signal: this.#lifetime.signal });
    this.#journal = options.stateDir === undefined ? null : new UpdateJournal({ stateDir: options.stateDir, logger: this.#logger });
    this.#strategyDirs = { cacheDir: options.cacheDir, stateDir: options.stateDir };
    this.#currentStrategy = resolveStrategy(options.strategy, this.#strategyDirs);
  }

  /** The strategy the next update runs with. */
  get strategy(): UpdateStrategy {
    return this.#currentStrategy;
  }

  /** The applier the next update writes with. */
  get applier(): FirmwareApplier {
    return this.#currentApplier;
  }

  /**
   * Changes the strategy for the next update (nerves_hub_link's `UpdateManager.change_updater/1`).
   * Accepts what {@link UpdateManagerOptions.strategy} accepts (`'cached'` uses the manager's
   * `cacheDir`/`stateDir`). Switching away from a resumable strategy means an update it left
   * interrupted is not resumed: the next offer starts it over.
   * @throws NervesHubError `NH_UPDATE_BUSY` while an offer is being decided or an update runs;
   *   `NH_INVALID_OPTIONS` for a strategy that is not one.
   */
  setStrategy(strategy: UpdateStrategy | BuiltInStrategyName): void {
    const next = resolveStrategy(strategy, this.#strategyDirs);
    this.#refuseWhileBusy('setStrategy');
    this.#currentStrategy = next;
  }

  /**
   * Changes the applier for the next update.
   * @throws NervesHubError `NH_UPDATE_BUSY` while an offer is being decided or an update runs;
   *   `NH_INVALID_OPTIONS` for something without an `apply` function.
   */
  setApplier(applier: FirmwareApplier): void {
    if (typeof (applier as Partial<FirmwareApplier> | null)?.apply !== 'function') {
      throw invalidOptions('setApplier needs a FirmwareApplier (an object with an apply function)');
    }
    this.#refuseWhileBusy('setApplier');
    this.#currentApplier = applier;
  }

  /**
   * Whether this device can take NervesHub delta firmware right now (its current applier, or a
   * configured delta source), and why. `NervesHubLink` reports `fwup_version` in the join
   * (which makes NervesHub send deltas) only while this says `canApplyDeltas: true`.
   */
  get deltaCapability(): DeltaCapability {
    return deltaCapability(this.#currentApplier, { deltaSource: this.#deltaSource });
  }

  /** `updating` while an accepted update downloads/applies, else `idle` (nerves_hub_link's `status/0`). */
  get status(): 'idle' | 'updating' {
    return this.#phase === 'updating' ? 'updating' : 'idle';
  }

  /**
   * Metadata of the firmware being downloaded/applied (from the moment the app said `apply`, or a
   * resume started, until the update ended), else `null`.
   */
  get currentUpdate(): WireFirmwareMeta | null {
    return this.#updatingMeta === null ? null : { ...this.#updatingMeta };
  }

  /**
   * Calls `listener` each time {@link status} changes (`updating` when an accepted update starts,
   * `idle` once it has ended). Listener errors are logged. Returns an unsubscribe function.
   */
  onStatusChange(listener: (status: 'idle' | 'updating') => void): () => void {
    this.#statusListeners.add(listener);
    return () => this.#statusListeners.delete(listener);
  }

  /** True while an offer is being decided or an update runs (a new offer would be dropped). */
  get busy(): boolean {
    return this.#phase !== 'idle';
  }

  /**
   * UUID of the firmware being downloaded/applied, or `null`. The socket sends it as
   * `currently_downloading_uuid` when it rejoins, so the server keeps its in-flight record.
   */
  get currentlyDownloadingUuid(): string | null {
    return this.#downloadingUuid;
  }

  /**
   * Handles one `update` offer from start to end. Never rejects; resolves when the update is
   * over (after the reboot hook returned, for a completed one).
   */
  handleUpdate(info: UpdateInfo): Promise<UpdateOutcome> {
    const uuid = info.firmwareMeta.uuid;
    if (this.#closed) return Promise.resolve({ status: 'dropped', uuid, reason: 'the update manager is closed' });
    if (this.#phase !== 'idle') {
      safeLog(this.#logger, 'info', 'update offer dropped: another update is in progress', {
        uuid,
        running: this.#downloadingUuid,
        phase: this.#phase,
      });
      return Promise.resolve({ status: 'dropped', uuid, reason: 'another update is in progress' });
    }
    this.#phase = 'deciding';
    return this.#track(this.#offer(info));
  }

  /**
   * After a restart: resumes a `cached` update the journal says was interrupted (the process died
   * or was closed mid-download), with the stored URL and without asking the app again (it already
   * said `apply`). Returns `null` when there is nothing to resume (no journal, no pending entry,
   * the streaming strategy — its next offer starts over — or the manager is busy). If the stored
   * URL has expired, the update ends `failed` (403) and the server's next offer brings a fresh
   * URL; the partial file is kept for it. Without public keys it returns `refused` and keeps the
   * entry (nothing is reported). Call it once the socket has joined (`connected`), so the keys
   * the server sends on join are known and the statuses reach the server.
   */
  async resumeFromJournal(): Promise<UpdateOutcome | null> {
    const strategy = this.#currentStrategy;
    if (this.#journal === null || this.#closed || this.#phase !== 'idle' || !strategy.resumable) return null;
    const pending = (await this.#readJournal())?.pending ?? null;
    if (pending === null || pending.strategy !== strategy.name || this.#phase !== 'idle' || this.#currentStrategy !== strategy) return null;
    let info: UpdateInfo;
    try {
      info = infoFromPending(pending);
    } catch {
      await this.#writeJournal((s) => void (s.pending = null));
      return null;
    }
    safeLog(this.#logger, 'info', 'resuming interrupted update from the journal', { uuid: pending.uuid, attempts: pending.attempts });
    this.#enterPhase('updating', info);
    return this.#track(this.#resume(info, strategy));
  }

  /** Aborts a running update (nothing is reported for it) and refuses new offers. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#lifetime.abort(new NervesHubError('NH_UPDATE_CLOSED', 'the update manager was closed'));
    this.#abortController?.abort(new NervesHubError('NH_UPDATE_CLOSED', 'the update manager was closed'));
    await this.#running?.catch(() => undefined);
  }

  #track(work: Promise<UpdateOutcome>): Promise<UpdateOutcome> {
    const guarded = work
      .catch((error: unknown): UpdateOutcome => {
        // Defensive: every path above handles its errors; this keeps the promise from ever rejecting.
        safeLog(this.#logger, 'error', 'update manager internal error', { error: String(error) });
        return { status: 'failed', uuid: '', reason: `${FailureReasons.unexpected}${String(error)}` };
      })
      .finally(() => {
        this.#enterPhase('idle');
        this.#downloadingUuid = null;
        this.#abortController = null;
        this.#running = null;
      });
    this.#running = guarded;
    return guarded;
  }

  async #offer(info: UpdateInfo): Promise<UpdateOutcome> {
    const uuid = info.firmwareMeta.uuid;
    safeLog(this.#logger, 'info', 'firmware update offered', { uuid, version: info.firmwareMeta.version, url: redactUrl(info.firmwareUrl) });
    const keys = this.#readPublicKeys();
    if (keys.length === 0) {
      this.#report({ status: 'failed', reason: FailureReasons.noKeys });
      safeLog(this.#logger, 'error', 'update refused: no fwup public keys configured or received', { uuid });
      return { status: 'refused', uuid, reason: FailureReasons.noKeys };
    }
    const journal = await this.#readJournal();
    const refusal = journal === null ? null : localRefusal(journal, uuid, this.#settings);
    if (refusal !== null) return this.#fail(uuid, refusal, 'unexpected', false);

    this.#report({ status: 'received' });
    const decision = await this.#decide(info);
    if (this.#closed) return { status: 'dropped', uuid, reason: 'the update manager is closed' };
    switch (decision.action) {
      case 'ignore': {
        const reason = decision.reason ?? '';
        this.#report({ status: 'ignored', reason });
        return { status: 'ignored', uuid, reason };
      }
      case 'reschedule': {
        const status: UpdateStatus = { status: 'rescheduled', delayMinutes: decision.delayMinutes };
        if (decision.reason !== undefined) status.reason = decision.reason;
        this.#report(status);
        return decision.reason === undefined ? { status: 'rescheduled', uuid } : { status: 'rescheduled', uuid, reason: decision.reason };
      }
      case 'apply':
        return this.#run(info, keys, this.#currentStrategy);
    }
  }

  async #resume(info: UpdateInfo, strategy: UpdateStrategy): Promise<UpdateOutcome> {
    const uuid = info.firmwareMeta.uuid;
    const keys = this.#readPublicKeys();
    if (keys.length === 0) {
      // Keys often arrive with the first join (`fwup_public_keys`): keep the entry for a later call.
      safeLog(this.#logger, 'warn', 'cannot resume yet: no fwup public keys; call resumeFromJournal() again once they are known', { uuid });
      return { status: 'refused', uuid, reason: FailureReasons.noKeys };
    }
    const journal = await this.#readJournal();
    const refusal = journal === null ? null : localRefusal(journal, uuid, this.#settings);
    if (refusal !== null) return this.#fail(uuid, refusal, 'unexpected', false);
    return this.#run(info, keys, strategy);
  }

  async #decide(info: UpdateInfo): Promise<UpdateDecision> {
    const result = await guardedCall(() => this.#client.updateAvailable(info), {
      name: 'updateAvailable',
      timeoutMs: this.#settings.decisionTimeoutMs,
      logger: this.#logger,
      signal: this.#lifetime.signal,
    });
    if (!result.ok) {
      this.#notifyError(result.error);
      return { action: 'ignore', reason: `update client error (${result.error.code})` };
    }
    const decision = normalizeUpdateDecision(result.value);
    if (decision instanceof Error) {
      const error = new NervesHubError('NH_UPDATE_BAD_DECISION', `updateAvailable gave an answer that is not understood: ${decision.message}`);
      safeLog(this.#logger, 'error', error.message, { uuid: info.firmwareMeta.uuid, code: error.code });
      this.#notifyError(error);
      return { action: 'ignore', reason: `update client error (${error.code})` };
    }
    return decision;
  }

  async #run(info: UpdateInfo, publicKeys: readonly string[], strategy: UpdateStrategy): Promise<UpdateOutcome> {
    const uuid = info.firmwareMeta.uuid;
    this.#enterPhase('updating', info);
    this.#downloadingUuid = uuid;
    const controller = new AbortController();
    this.#abortController = controller;
    if (this.#closed) controller.abort(new NervesHubError('NH_UPDATE_CLOSED', 'the update manager was closed'));
    await this.#writeJournal((s) => {
      const previous = s.pending?.uuid === uuid ? s.pending : null;
      s.pending = pendingFromInfo(info, strategy.name, previous);
    });

    const progress = new UpdateProgress({
      downloadStage: strategy.downloadsBeforeApply === true,
      reporter: this.#reporter,
      intervalMs: this.#settings.progressIntervalMs,
      clock: this.#clock,
      logger: this.#logger,
      notify: (stage, percent) => void this.#hooks.onProgress(stage, percent),
    });
    try {
      // Whatever the downloader: an http URL never reaches a cache file or the applier.
      checkDownloadUrl(info.firmwareUrl, { allowInsecureHttp: this.#allowInsecureHttp });
      // A delta source rebuilds the full archive before the verifier, which then sees a full firmware;
      // without one, delta resources pass only to an applier that proves the patched output (fwup).
      const deltaSource = this.#resolveDeltaSource();
      const plainVerifier = this.#createVerifier(publicKeys, deltaSource === undefined ? verifierDeltaOptions(this.#currentApplier) : { allowDeltaResources: false }); // throws on an undecodable key
      const verifier = deltaSource === undefined ? plainVerifier : withDeltaRebuild(plainVerifier, deltaSource);
      await strategy.run({
        info,
        publicKeys,
        signal: controller.signal,
        downloader: this.#downloader,
        verifier,
        applier: this.#currentApplier,
        logger: this.#logger,
        onConnect: (attempt, offset) => {
          safeLog(this.#logger, 'info', 'firmware download connecting', { uuid, attempt, offset });
          this.#report({ status: 'started', downloaderNetworkInterface: this.#readNetworkInterface() });
        },
        onDownloadProgress: (percent) => progress.download(percent),
        onApplyProgress: (percent) => progress.apply(percent),
        onApplyMessage: (message: FwupMessage) => void this.#hooks.onFwupMessage(message),
        onStage: (stage) =>
          this.#writeJournal((s) => {
            if (s.pending?.uuid === uuid) s.pending.stage = stage;
          }),
      });
    } catch (error) {
      if (controller.signal.aborted && this.#closed) {
        safeLog(this.#logger, 'info', 'update aborted by close()', { uuid });
        return { status: 'aborted', uuid, reason: 'the update manager was closed' };
      }
      const failure = classifyUpdateFailure(error);
      safeLog(this.#logger, 'error', 'firmware update failed', { uuid, reason: failure.reason, code: failure.code });
      this.#notifyError(error instanceof Error ? error : new Error(String(error)));
      return this.#fail(uuid, failure.reason, failure.kind, true, error);
    }

    this.#safeSendProgress(100);
    this.#report({ status: 'completed' });
    safeLog(this.#logger, 'info', 'firmware update completed', { uuid });
    await this.#writeJournal((s) => {
      s.pending = null;
      s.failures = s.failures.filter((f) => f.uuid !== uuid);
    });
    this.#downloadingUuid = null;
    if (!(await this.#hooks.reboot())) {
      safeLog(this.#logger, 'warn', 'update applied but the client has no reboot hook; the new firmware runs after the next reboot', { uuid });
    }
    return { status: 'completed', uuid };
  }

  /** The delta source of the next update: the configured one, else the applier's own. */
  #resolveDeltaSource(): DeltaSource | undefined {
    return deltaSourceOf(this.#currentApplier, this.#deltaSource);
  }

  /** Sets the phase; tells the status listeners when `status` changed. */
  #enterPhase(phase: 'idle' | 'deciding' | 'updating', info?: UpdateInfo): void {
    const before = this.status;
    this.#phase = phase;
    this.#updatingMeta = phase === 'updating' && info !== undefined ? { ...info.firmwareMeta } : phase === 'updating' ? this.#updatingMeta : null;
    const after = this.status;
    if (after === before) return;
    for (const listener of this.#statusListeners) {
      try {
        listener(after);
      } catch (error) {
        safeLog(this.#logger, 'error', 'an update status listener threw; ignored', { error: String(error) });
      }
    }
  }

  #refuseWhileBusy(what: string): void {
    if (this.#phase === 'idle') return;
    throw new NervesHubError('NH_UPDATE_BUSY', `${what}: an update is being ${this.#phase === 'deciding' ? 'decided' : 'installed'}; call it again once it has ended`);
  }

  /** Reports `failed`, records it in the journal, clears the pending entry. */
  async #fail(uuid: string, reason: string, kind: UpdateFailureKind, count: boolean, error?: unknown): Promise<UpdateOutcome> {
    this.#report({ status: 'failed', reason });
    await this.#writeJournal((s) => {
      s.pending = null;
      if (count) recordFailure(s, uuid, kind, reason);
    });
    return error === undefined ? { status: 'failed', uuid, reason } : { status: 'failed', uuid, reason, error: error instanceof Error ? error : new Error(String(error)) };
  }

  #readPublicKeys(): readonly string[] {
    try {
      const keys = this.#publicKeys();
      return Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string' && k.length > 0) : [];
    } catch (error) {
      safeLog(this.#logger, 'error', 'publicKeys() threw; treating as no keys', { error: String(error) });
      return [];
    }
  }

  #readNetworkInterface(): string | null {
    try {
      const iface = this.#networkInterface();
      return typeof iface === 'string' && iface.length > 0 ? iface : null;
    } catch {
      return null;
    }
  }

  #report(status: UpdateStatus): void {
    try {
      this.#reporter.sendStatus(status);
    } catch (error) {
      safeLog(this.#logger, 'warn', 'reporter.sendStatus threw', { status: status.status, error: String(error) });
    }
  }

  #safeSendProgress(value: number): void {
    try {
      this.#reporter.sendProgress('updating', value);
    } catch (error) {
      safeLog(this.#logger, 'warn', 'reporter.sendProgress threw', { error: String(error) });
    }
    void this.#hooks.onProgress('updating', value);
  }

  #notifyError(error: Error): void {
    void this.#hooks.onError(error);
  }

  async #readJournal(): Promise<JournalState | null> {
    if (this.#journal === null) return null;
    try {
      return await this.#journal.load();
    } catch (error) {
      safeLog(this.#logger, 'warn', 'update journal unreadable', { error: String(error) });
      return null;
    }
  }

  async #writeJournal(change: (state: JournalState) => void): Promise<void> {
    if (this.#journal === null) return;
    try {
      await this.#journal.update(change);
    } catch (error) {
      safeLog(this.#logger, 'warn', 'update journal not written', { error: String(error) });
    }
  }
}

