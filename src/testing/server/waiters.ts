import { NervesHubError } from '../../errors.js';
import type { WaitOptions } from './types.js';

/** Default wait of the `waitFor…` helpers. */
const WAIT_DEFAULTS = Object.freeze({ timeoutMs: 5000 });

/**
 * Condition waits re-checked whenever the server's state changes ({@link Waiters.notify}).
 * Timers are cleared on every outcome so a finished wait leaves no handle behind.
 */
export class Waiters {
  readonly #pending = new Set<{ check(): void; fail(error: Error): void }>();

  /** Resolves with the first non-undefined result of `check`, now or after a later notify. */
  waitFor<T>(what: string, check: () => T | undefined, options: WaitOptions = {}): Promise<T> {
    const first = check();
    if (first !== undefined) return Promise.resolve(first);
    const timeoutMs = options.timeoutMs ?? WAIT_DEFAULTS.timeoutMs;
    return new Promise<T>((resolve, reject) => {
      const entry = {
        check: () => {
          let value: T | undefined;
          try {
            value = check();
          } catch (err) {
            finish();
            reject(err instanceof Error ? err : new Error(String(err)));
            return;
          }
          if (value !== undefined) {
            finish();
            resolve(value);
          }
        },
        fail: (error: Error) => {
          finish();
          reject(error);
        },
      };
      const onAbort = (): void => entry.fail(new NervesHubError('NH_TEST_SERVER_ABORTED', `stopped waiting for ${what}`, { cause: options.signal?.reason }));
      const timer = setTimeout(() => entry.fail(new NervesHubError('NH_TEST_SERVER_TIMEOUT', `timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.#pending.delete(entry);
        options.signal?.removeEventListener('abort', onAbort);
      };
      if (options.signal?.aborted) {
        onAbort();
        return;
      }
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.#pending.add(entry);
    });
  }

  /** Re-evaluates every pending wait. */
  notify(): void {
    for (const entry of [...this.#pending]) entry.check();
  }

  /** Rejects every pending wait (server closed). */
  failAll(error: Error): void {
    for (const entry of [...this.#pending]) entry.fail(error);
  }
}
