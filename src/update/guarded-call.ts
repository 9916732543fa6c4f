import type { Logger } from '../logging/logger.js';
import { safeLog } from '../logging/logger.js';
import { NervesHubError } from '../errors.js';

/** Outcome of {@link guardedCall}: the callback's value, or why there is none. */
export type GuardedResult<T> =
  | {
      /** The callback returned in time. */
      ok: true;
      /** What it returned (awaited). */
      value: T;
    }
  | {
      /** The callback threw, timed out or was abandoned. */
      ok: false;
      /** `NH_CALLBACK_THREW`, `NH_CALLBACK_TIMEOUT` or `NH_CALLBACK_ABORTED`. */
      error: NervesHubError;
      /** True for `NH_CALLBACK_TIMEOUT`. */
      timedOut: boolean;
    };

/**
 * Options of {@link guardedCall}.
 *
 * @example
 * ```ts
 * const result = await guardedCall(() => client.updateAvailable(info), { name: 'updateAvailable', timeoutMs: 60_000, logger });
 * ```
 */
export interface GuardedCallOptions {
  /** Name of the callback, for logs and errors (e.g. `updateAvailable`). */
  name: string;
  /** Give up waiting after this many milliseconds (the callback keeps running, its result is ignored). */
  timeoutMs: number;
  /** Where failures are logged (level `error`). */
  logger: Logger;
  /** Stop waiting when this fires (`NH_CALLBACK_ABORTED`, logged at `debug` only: the SDK is shutting down). */
  signal?: AbortSignal;
}

/**
 * Calls an app callback so that it can never wedge the SDK: a synchronous throw, a rejected
 * promise and a promise that does not settle within `timeoutMs` all become `{ ok: false }` with a
 * `NervesHubError` (`NH_CALLBACK_THREW` or `NH_CALLBACK_TIMEOUT`) that is also logged. Never rejects.
 * An aborted `signal` stops the wait early (`NH_CALLBACK_ABORTED`).
 *
 * @example
 * ```ts
 * const r = await guardedCall(() => client.updateAvailable(info), { name: 'updateAvailable', timeoutMs: 60_000, logger });
 * const decision = r.ok ? r.value : { action: 'ignore' };
 * ```
 */
export async function guardedCall<T>(
  fn: () => T | Promise<T>,
  options: GuardedCallOptions,
): Promise<GuardedResult<Awaited<T>>> {
  const { name, timeoutMs, logger, signal } = options;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const timeout = new Promise<{ stopped: 'timeout' }>((resolve) => {
      timer = setTimeout(() => resolve({ stopped: 'timeout' }), timeoutMs);
    });
    const stop = signal ? Promise.race([timeout, abortedPromise(signal)]) : timeout;
    // Promise.resolve().then(fn) turns a synchronous throw into a rejection.
    const call = Promise.resolve()
      .then(fn)
      .then((value) => ({ stopped: null as null, value }));
    const raced = await Promise.race([call, stop]);
    if (raced.stopped !== null) {
      call.catch(() => undefined); // a late rejection must not become an unhandled rejection
      if (raced.stopped === 'aborted') {
        const error = new NervesHubError('NH_CALLBACK_ABORTED', `stopped waiting for callback ${name}: shutting down`);
        safeLog(logger, 'debug', error.message, { callback: name, code: error.code });
        return { ok: false, error, timedOut: false };
      }
      const error = new NervesHubError('NH_CALLBACK_TIMEOUT', `callback ${name} did not answer within ${timeoutMs} ms`);
      safeLog(logger, 'error', error.message, { callback: name, code: error.code });
      return { ok: false, error, timedOut: true };
    }
    return { ok: true, value: raced.value as Awaited<T> };
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    const error = new NervesHubError('NH_CALLBACK_THREW', `callback ${name} threw: ${detail}`, { cause });
    safeLog(logger, 'error', error.message, { callback: name, code: error.code });
    return { ok: false, error, timedOut: false };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/**
 * One promise per signal that settles when it aborts. Many hooks may be awaited at once (every
 * fwup message notifies the app); sharing one listener per signal keeps that from piling up a
 * listener per pending call.
 */
const abortedPromises = new WeakMap<AbortSignal, Promise<{ stopped: 'aborted' }>>();
function abortedPromise(signal: AbortSignal): Promise<{ stopped: 'aborted' }> {
  let promise = abortedPromises.get(signal);
  if (promise === undefined) {
    promise = new Promise((resolve) => {
      if (signal.aborted) resolve({ stopped: 'aborted' });
      else signal.addEventListener('abort', () => resolve({ stopped: 'aborted' }), { once: true });
    });
    abortedPromises.set(signal, promise);
  }
  return promise;
}
