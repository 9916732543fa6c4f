import { DownloadError, DownloadErrorCodes } from './download-error.js';
import { MAX_TIMER_MS } from './download-attempt.js';

/**
 * The life of one download across its attempts: aborted by the caller's signal or by
 * `maxTimeoutMs`, and then stops the attempt in flight at once (a consumer may abort and drop the
 * generator without finishing it, so everything is released right away).
 * @internal
 */
export class DownloadLifetime {
  /** The attempt in flight. */
  current: { abort(reason: Error): void } | undefined;
  readonly #controller = new AbortController();
  readonly #userSignal: AbortSignal | undefined;
  readonly #maxTimer: NodeJS.Timeout;
  readonly #onUserAbort: () => void;
  readonly #onAbort: () => void;

  constructor(maxTimeoutMs: number, userSignal: AbortSignal | undefined) {
    this.#userSignal = userSignal;
    this.#onUserAbort = () => this.#controller.abort(new DownloadError(DownloadErrorCodes.aborted, 'download aborted', { cause: userSignal?.reason }));
    this.#onAbort = () => {
      clearTimeout(this.#maxTimer);
      this.current?.abort(this.#controller.signal.reason as Error);
    };
    userSignal?.addEventListener('abort', this.#onUserAbort, { once: true });
    this.#controller.signal.addEventListener('abort', this.#onAbort, { once: true });
    this.#maxTimer = setTimeout(
      () => this.#controller.abort(new DownloadError(DownloadErrorCodes.maxTimeout, `the download did not finish within maxTimeoutMs (${maxTimeoutMs} ms)`)),
      Math.min(maxTimeoutMs, MAX_TIMER_MS),
    );
    this.#maxTimer.unref(); // the open socket, not this guard, keeps the process alive while downloading
  }

  /** Aborted when the caller aborts or time runs out; its reason is a `DownloadError`. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Removes the listeners and the timer. */
  dispose(): void {
    clearTimeout(this.#maxTimer);
    this.#userSignal?.removeEventListener('abort', this.#onUserAbort);
    this.#controller.signal.removeEventListener('abort', this.#onAbort);
  }
}
