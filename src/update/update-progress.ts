import type { Logger } from '../logging/logger.js';
import { safeLog } from '../logging/logger.js';
import type { ProgressStage, UpdateReporter } from '../protocol/status.js';
import type { Clock } from './progress-throttle.js';
import { ProgressThrottle } from './progress-throttle.js';

/** What an {@link UpdateProgress} reports to. @internal */
interface UpdateProgressOptions {
  /** The strategy downloads before applying: download progress is its own `downloading` stage. */
  downloadStage: boolean;
  reporter: UpdateReporter;
  intervalMs: number;
  clock: Clock;
  logger: Logger;
  /** Called with every value sent (the app's hook, already guarded). */
  notify(stage: ProgressStage, percent: number): void;
}

/**
 * Turns the download's and the applier's raw progress into throttled `fwup_progress` reports
 * (and `UpdateClient.onProgress` calls with the same values).
 *
 * - a strategy that downloads before applying (cached): download → stage `downloading`, apply → stage `updating`.
 * - a strategy that applies while downloading (streaming): one stage, `updating` (as nerves_hub_link's StreamingUpdater), fed by the
 *   applier's own progress; until the applier reports any, by the download percent capped at
 *   99 (an applier without progress, such as a plain file writer, would otherwise show nothing).
 *   A single stage matters: the server writes to its database at every stage change.
 *
 * `updating 100` is never sent from here; the manager sends it right before `completed`.
 */
export class UpdateProgress {
  readonly #throttles = new Map<ProgressStage, ProgressThrottle>();
  #applierReported = false;
  readonly #options: UpdateProgressOptions;

  constructor(options: UpdateProgressOptions) {
    this.#options = options;
  }

  /** Download progress, 0..100. */
  download(percent: number): void {
    if (this.#options.downloadStage) this.#emit('downloading', percent);
    else if (!this.#applierReported) this.#emit('updating', Math.min(99, percent));
  }

  /** Applier progress, 0..100. */
  apply(percent: number): void {
    this.#applierReported = true;
    this.#emit('updating', Math.min(99, percent));
  }

  #emit(stage: ProgressStage, percent: number): void {
    let throttle = this.#throttles.get(stage);
    if (!throttle) {
      throttle = new ProgressThrottle(this.#options.intervalMs, this.#options.clock);
      this.#throttles.set(stage, throttle);
    }
    const value = throttle.accept(percent);
    if (value === null) return;
    try {
      this.#options.reporter.sendProgress(stage, value);
    } catch (error) {
      safeLog(this.#options.logger, 'warn', 'reporter.sendProgress threw', { error: String(error) });
    }
    this.#options.notify(stage, value);
  }
}
