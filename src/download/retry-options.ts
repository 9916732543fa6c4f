import { invalidOptions } from '../errors.js';

/**
 * Retry and timeout policy of the {@link Downloader}, with nerves_hub_link's defaults.
 *
 * @example
 * ```ts
 * const downloader = new Downloader({ retry: { ...RETRY_DEFAULTS, idleTimeoutMs: 120_000, worstCaseBitsPerSecond: 8_000 } });
 * ```
 */
export interface RetryOptions {
  /** Failed attempts (drop, idle timeout, short body, 429/503) allowed in total before giving up. */
  maxDisconnects: number;
  /** Give up on a connection when no byte arrived for this long (ms). */
  idleTimeoutMs: number;
  /** Give up on the whole download after this long (ms). */
  maxTimeoutMs: number;
  /** Wait between attempts (ms), before jitter. */
  timeBetweenRetriesMs: number;
  /** Extra random wait as a fraction of `timeBetweenRetriesMs` (0.5 ⇒ +0..50 %). */
  retryJitterRatio: number;
  /**
   * Slowest acceptable speed in bits/s: one request may last `max(300 s, size × 8 / speed)` (the same
   * formula nerves_hub_link applies to its `worst_case_download_speed`).
   */
  worstCaseBitsPerSecond: number;
  /** Redirects followed in a row before failing. */
  maxRedirects: number;
}

/** Defaults of {@link RetryOptions} (nerves_hub_link's `retry_config` defaults). */
export const RETRY_DEFAULTS: Readonly<RetryOptions> = Object.freeze({
  maxDisconnects: 10,
  idleTimeoutMs: 60_000,
  maxTimeoutMs: 86_400_000,
  timeBetweenRetriesMs: 15_000,
  retryJitterRatio: 0.5,
  worstCaseBitsPerSecond: 30_000,
  maxRedirects: 5,
});

/** Floor of the per-request timer (ms), as in nerves_hub_link. */
export const MIN_REQUEST_TIMEOUT_MS = 300_000;

/**
 * Merges `partial` over the defaults and checks every value (finite, not negative; speed > 0).
 * Throws `NH_INVALID_OPTIONS` naming the bad option.
 */
export function resolveRetryOptions(partial: Partial<RetryOptions> = {}): RetryOptions {
  const merged: RetryOptions = { ...RETRY_DEFAULTS };
  for (const key of Object.keys(RETRY_DEFAULTS) as (keyof RetryOptions)[]) {
    const value = partial[key];
    if (value === undefined) continue;
    const positive = key === 'worstCaseBitsPerSecond' || key === 'maxTimeoutMs';
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (positive && value === 0)) {
      throw invalidOptions(`retry option ${key} must be a finite number ${positive ? '> 0' : '>= 0'} (got ${String(value)})`);
    }
    merged[key] = value;
  }
  return merged;
}

/** Wait before the next attempt: `timeBetweenRetriesMs` plus 0..`retryJitterRatio` of it. */
export function retryDelayMs(options: RetryOptions, random: () => number = Math.random): number {
  return Math.round(options.timeBetweenRetriesMs * (1 + options.retryJitterRatio * random()));
}

/** Per-request time limit for a body of `sizeBytes` (unknown size ⇒ the floor). */
export function worstCaseRequestTimeoutMs(sizeBytes: number | undefined, options: RetryOptions): number {
  if (sizeBytes === undefined) return MIN_REQUEST_TIMEOUT_MS;
  return Math.max(MIN_REQUEST_TIMEOUT_MS, Math.ceil(((sizeBytes * 8) / options.worstCaseBitsPerSecond) * 1000));
}
