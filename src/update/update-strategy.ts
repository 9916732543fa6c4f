import type { Logger } from '../logging/logger.js';
import type { UpdateInfo } from '../protocol/update-info.js';
import type { FirmwareApplier } from './firmware-applier.js';
import type { FwupMessage } from './update-client.js';
import type { FirmwareDownloadSource, FirmwareStreamVerifier } from './update-ports.js';
import type { UpdateStage } from './update-journal.js';

/**
 * How an accepted update gets from the URL into the applier.
 *
 * @category Updates
 */
export type UpdateStrategyName = 'streaming' | 'cached';

/** Everything a strategy needs for one update; built by the `UpdateManager`. */
export interface StrategyContext {
  info: UpdateInfo;
  publicKeys: readonly string[];
  /** Aborted by `UpdateManager.close()`. */
  signal: AbortSignal;
  downloader: FirmwareDownloadSource;
  verifier: FirmwareStreamVerifier;
  applier: FirmwareApplier;
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

/** One way to run an update; resolves when applied, rejects with the error that ended it. */
export type UpdateStrategyRun = (context: StrategyContext) => Promise<void>;
