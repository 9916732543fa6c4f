import type { Logger } from '../logging/logger.js';
import type { UpdateInfo } from '../protocol/update-info.js';
import type { FirmwareApplier } from './firmware-applier.js';
import type { FwupMessage } from './update-client.js';
import type { FirmwareDownloadSource, FirmwareStreamVerifier } from './update-ports.js';
import type { UpdateStage } from './update-journal.js';

/**
 * Names of the SDK's own strategies, accepted in `UpdateManagerOptions.strategy` as a
 * shorthand for `streamingStrategy()` and `cachedStrategy()`.
 *
 * @category Updates
 */
export type BuiltInStrategyName = 'streaming' | 'cached';

/** Everything a strategy needs for one update; built by the `UpdateManager`. */
export interface StrategyContext {
  /** The offer being installed. */
  info: UpdateInfo;
  /** The fwup public keys in force for this update (base64 Ed25519). */
  publicKeys: readonly string[];
  /** Aborted by `UpdateManager.close()`. */
  signal: AbortSignal;
  /** Streams the firmware URL (with resume and retries). */
  downloader: FirmwareDownloadSource;
  /** Verifies the archive (signature and digests). */
  verifier: FirmwareStreamVerifier;
  /** Writes the verified firmware. */
  applier: FirmwareApplier;
  /** Log sink. */
  logger: Logger;
  /** The downloader opened an HTTP connection (reported as `started`). */
  onConnect(attempt: number, offset: number): void;
  /** Download progress in percent (only when the size is known). */
  onDownloadProgress(percent: number): void;
  /** Applier progress in percent. */
  onApplyProgress(percent: number): void;
  /** Applier message (fwup framing). */
  onApplyMessage(message: FwupMessage): void;
  /**
   * The update enters `stage` (the cached strategy: `verify`, then `apply`); resolves once that is
   * recorded in the journal, so a restart knows which stage it interrupted.
   */
  onStage(stage: UpdateStage): Promise<void>;
}

/**
 * How an accepted update gets from its URL into the applier. The SDK has two
 * (`streamingStrategy()`, `cachedStrategy()`); an app may bring its own, like it brings
 * its own {@link FirmwareApplier}. The `UpdateManager` records `name` in its journal and, after a
 * restart, resumes an interrupted update only with a `resumable` strategy of the same name.
 *
 * @example
 * ```ts
 * const loud: UpdateStrategy = {
 *   name: 'streaming-logged',
 *   resumable: false,
 *   async run(ctx) {
 *     ctx.logger.log('info', `installing ${ctx.info.firmwareMeta.uuid}`);
 *     await streamingStrategy().run(ctx);
 *   },
 * };
 * ```
 */
export interface UpdateStrategy {
  /** Stable name, recorded in the update journal (e.g. `streaming`, `cached`). */
  readonly name: string;
  /**
   * Whether an update interrupted by a restart can be resumed from the journal
   * (`UpdateManager.resumeFromJournal`), with the stored URL and without asking the app again.
   */
  readonly resumable: boolean;
  /**
   * Whether the whole firmware is downloaded before the applier starts. Download progress is
   * then reported as its own `downloading` stage; otherwise download and apply overlap and are
   * reported as one `updating` stage. Default `false`.
   */
  readonly downloadsBeforeApply?: boolean;
  /** Runs one update; resolves once it is applied, rejects with the error that ended it. */
  run(context: StrategyContext): Promise<void>;
}
