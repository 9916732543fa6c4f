/** Longest `Retry-After` the downloader honours (ms); longer values are capped. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/**
 * Parses an HTTP `Retry-After` value (delta seconds or an HTTP date) into a wait in ms, capped to
 * `MAX_RETRY_AFTER_MS` (1 hour). Returns `undefined` when absent or unparseable.
 *
 * @example
 * ```ts
 * parseRetryAfterMs('120'); // 120000
 * ```
 */
export function parseRetryAfterMs(value: string | string[] | undefined, nowMs: number = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined) return undefined;
  const text = raw.trim();
  if (text === '') return undefined;
  let ms: number;
  if (/^\d+$/.test(text)) {
    ms = Number(text) * 1000;
  } else {
    const date = Date.parse(text);
    if (Number.isNaN(date)) return undefined;
    ms = Math.max(0, date - nowMs);
  }
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}
