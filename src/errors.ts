import { LOG_LIMITS, sanitizeForLog } from './logging/log-sanitizer.js';

/**
 * Base error of the SDK. Every error the SDK raises on purpose is a `NervesHubError` with a
 * stable string {@link NervesHubError.code | code} that callers can branch on; the underlying
 * failure, if any, is kept in `cause`. The message is safe to log: control characters are escaped
 * and it is at most 2048 characters long, whatever text from a server it quotes.
 *
 * @example
 * ```ts
 * try {
 *   for await (const chunk of downloader.stream(url)) await out.write(chunk);
 * } catch (err) {
 *   if (isNervesHubError(err) && err.code === 'NH_DOWNLOAD_HTTP_STATUS') retryLater();
 * }
 * ```
 * @category Errors and logging
 */
export class NervesHubError extends Error {
  /** Stable machine-readable code, e.g. `NH_FW_BAD_SIGNATURE`. Never changes between releases. */
  readonly code: string;

  /**
   * Creates an error with a stable `code`.
   *
   * @param code - stable error code
   * @param message - human-readable explanation that says what to do
   * @param options - `cause`: the underlying error
   */
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    // Messages often quote a server, a peer or a firmware file, and apps log them: escape and bound.
    super(sanitizeForLog(message, LOG_LIMITS.errorMessageChars), options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NervesHubError';
    this.code = code;
  }

  /** Branding that survives duplicate copies of the package (robust across realms and bundles). */
  get [Symbol.for('nerves-hub-link.error')](): true {
    return true;
  }
}

/**
 * True when `value` is a {@link NervesHubError}, even one created by another copy of this package.
 *
 * @example
 * ```ts
 * if (isNervesHubError(err)) console.log(err.code);
 * ```
 * @category Errors and logging
 */
export function isNervesHubError(value: unknown): value is NervesHubError {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Record<symbol, unknown>)[Symbol.for('nerves-hub-link.error')] === true
  );
}

/**
 * Code of every error for an invalid option or argument given to the SDK (a missing URL, a
 * negative timeout, an unknown strategy…): a programming or configuration mistake, thrown
 * synchronously by the constructor or method that got it. The message names the option.
 */
export const INVALID_OPTIONS = 'NH_INVALID_OPTIONS';

/**
 * A {@link NervesHubError} with code {@link INVALID_OPTIONS}.
 * @internal
 */
export function invalidOptions(message: string, options?: { cause?: unknown }): NervesHubError {
  return new NervesHubError(INVALID_OPTIONS, message, options);
}
