import { isValidHeader, type Http1Response } from './http1-response.js';
import type { Logger } from '../logging/logger.js';
import { safeLog, silentLogger } from '../logging/logger.js';
import { redactUrl } from '../logging/redact.js';
import { BodySizeGuard, MAX_BYTES_WHEN_SIZE_UNKNOWN } from './body-size-guard.js';
import type { DownloadOptions } from './download-options.js';
import { invalidOptions } from '../errors.js';
import { DownloadError, DownloadErrorCodes } from './download-error.js';
import { openHttpRequest, type OpenHttpRequest } from './http-connect.js';
import { PartBuffers, type LentChunks } from './part-buffers.js';
import { DownloadAttempt, DownloadCursor, MAX_TIMER_MS, TransientFailure, isPartMismatch } from './download-attempt.js';
import type { AttemptSettings, DownloadLog } from './download-attempt.js';
import { DownloadLifetime } from './download-lifetime.js';
import { resolveRetryOptions, retryDelayMs, type RetryOptions } from './retry-options.js';
import { PART_SIZE_BYTES } from './sha256-parts.js';
import { DEFAULT_USER_AGENT } from './user-agent.js';
import { tlsTrustFailure } from './tls-trust.js';
import { checkDownloadUrl } from './url-policy.js';

/**
 * How the {@link Downloader} connects.
 *
 * @example
 * ```ts
 * const downloader = new Downloader({ ca: readFileSync('private-ca.pem', 'utf8'), retry: { maxDisconnects: 20 } });
 * ```
 */
export interface DownloaderOptions {
  /** Retry/timeout policy; missing fields take {@link RETRY_DEFAULTS}. */
  retry?: Partial<RetryOptions>;
  /** Extra trusted CA certificates (PEM or DER) for https firmware hosts. */
  ca?: string | Uint8Array | Array<string | Uint8Array>;
  /** HTTP proxy `http://host:port`; https downloads are tunnelled with `CONNECT`. */
  proxy?: string;
  /** Extra request headers (the downloader's own headers win). */
  headers?: Record<string, string>;
  /** `User-Agent`, default `nerves-hub-link/<version>`. */
  userAgent?: string;
  /** Where to log; URLs are always logged without their query. */
  logger?: Logger;
  /**
   * Largest file accepted when the caller passes no `expectedSize` (bytes, default
   * {@link DOWNLOADER_DEFAULTS}, 2 GiB). With an `expectedSize` the download
   * never runs past that size instead.
   */
  maxBytesWhenSizeUnknown?: number;
  /**
   * LAB SETUPS ONLY. Allows plain `http:` firmware URLs and redirects to `http:`: anyone on the
   * network path can then read the firmware, stall it or feed a different file (the signature check
   * still refuses a forged archive). Default `false`: `http:` fails with `NH_DOWNLOAD_INSECURE_URL`.
   */
  allowInsecureHttpDownloadsForTesting?: boolean;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

function header(res: Http1Response, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, Math.min(ms, MAX_TIMER_MS));
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function proxyUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw invalidOptions('proxy is not a valid URL', { cause });
  }
  if (parsed.protocol !== 'http:') throw invalidOptions('only http:// proxies are supported');
  return parsed;
}

export type { DownloadOptions } from './download-options.js';

/** Defaults of {@link DownloaderOptions} (retry defaults: {@link RETRY_DEFAULTS}). */
export const DOWNLOADER_DEFAULTS = Object.freeze({
  /** Largest file accepted without an announced size: 2 GiB. */
  maxBytesWhenSizeUnknown: MAX_BYTES_WHEN_SIZE_UNKNOWN,
});

/** The validated start offset of a download. */
function checkedOffset(options: DownloadOptions): number {
  const offset = options.offset ?? 0;
  if (!Number.isSafeInteger(offset) || offset < 0) throw invalidOptions(`offset must be a non-negative integer (got ${offset})`);
  if (options.expectedSize !== undefined && (!Number.isSafeInteger(options.expectedSize) || options.expectedSize < offset)) {
    throw invalidOptions(`expectedSize ${options.expectedSize} is not an integer >= offset ${offset}`);
  }
  if (options.partialsChecksums !== undefined && offset % PART_SIZE_BYTES !== 0) {
    throw invalidOptions(`offset ${offset} must be a multiple of 1 MiB when partial checksums are checked`);
  }
  return offset;
}

/** Set by the static block of {@link Downloader}. */
let lendFrom: (downloader: Downloader, url: string | URL, options: DownloadOptions) => LentChunks;

/**
 * {@link Downloader.stream} for a consumer that says when it is done with the bytes
 * (`doneThrough(offset)`: it keeps no view of the stream before `offset`), so the download's
 * buffers are reused instead of one fresh 1 MiB buffer per part: the updates lend them to the
 * SDK's own appliers (see `PartBuffers`). Not part of the package's API.
 * @internal
 */
export function lendDownload(downloader: Downloader, url: string | URL, options: DownloadOptions = {}): LentChunks {
  return lendFrom(downloader, url, options);
}

/**
 * Streams a firmware file over HTTP(S) with resume: after a drop, an idle timeout, a short body or
 * a 429/503 it waits and continues with `Range: bytes=N-`, never handing the consumer a byte twice
 * and never splicing two different files. Optional SHA-256 checks (NervesHub's `checksum` and
 * `partials_checksums`) hold bytes back until they are proven.
 *
 * Resume rules: a ranged request must come back 206 with a `Content-Range` starting at N. A 200
 * means the server ignored the range: when its validator (ETag, size) is unchanged the prefix that
 * was already received is skipped; when it changed and bytes were already handed on,
 * `NH_DOWNLOAD_BAD_RANGE` (if nothing was handed on, the download simply starts over).
 * Resumes and retries go back to the original URL (redirects are followed again, at most
 * `maxRedirects` in a row).
 *
 * Hostile-server rules: `https:` only, and no redirect to `http:`
 * (`NH_DOWNLOAD_INSECURE_URL`; lab setups opt out with `allowInsecureHttpDownloadsForTesting`); a
 * server certificate that fails verification is permanent (`NH_DOWNLOAD_TLS_UNTRUSTED`, no
 * retries); the body never runs past `expectedSize` or the size the server states
 * (`NH_DOWNLOAD_BODY_TOO_LONG`), nor past `maxBytesWhenSizeUnknown` when no size is known
 * (`NH_DOWNLOAD_TOO_LARGE`). A 416 to a resume whose file does not end at the requested byte is
 * `NH_DOWNLOAD_RANGE_NOT_SATISFIABLE`: the caller's partial file is not a prefix of this file.
 *
 * @example
 * ```ts
 * const downloader = new Downloader({ retry: { maxDisconnects: 20 } });
 * for await (const chunk of downloader.stream(info.firmwareUrl, { expectedSize: info.size, checksum: info.checksum })) {
 *   await sink.write(chunk);
 * }
 * ```
 */
export class Downloader {
  readonly #retry: RetryOptions;
  readonly #ca: Buffer[] | string[] | Array<string | Buffer> | undefined;
  readonly #proxy: URL | undefined;
  readonly #headers: Record<string, string>;
  readonly #userAgent: string;
  readonly #logger: Logger;
  readonly #maxBytesWhenSizeUnknown: number;
  readonly #allowInsecureHttp: boolean;

  /** @throws NervesHubError `NH_INVALID_OPTIONS` when a retry option, `proxy` or `maxBytesWhenSizeUnknown` is unusable. */
  constructor(options: DownloaderOptions = {}) {
    this.#retry = resolveRetryOptions(options.retry);
    const ca = options.ca === undefined ? undefined : Array.isArray(options.ca) ? options.ca : [options.ca];
    this.#ca = ca?.map((c) => (typeof c === 'string' ? c : Buffer.from(c)));
    if (options.proxy !== undefined) this.#proxy = proxyUrl(options.proxy);
    const maxBytes = options.maxBytesWhenSizeUnknown ?? DOWNLOADER_DEFAULTS.maxBytesWhenSizeUnknown;
    if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) {
      throw invalidOptions(`maxBytesWhenSizeUnknown must be a positive integer (got ${String(maxBytes)})`);
    }
    this.#maxBytesWhenSizeUnknown = maxBytes;
    this.#allowInsecureHttp = options.allowInsecureHttpDownloadsForTesting === true;
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      // Sent as written: no way to split the request through a configured header.
      if (!isValidHeader(name, value)) {
        throw invalidOptions(`headers: ${JSON.stringify(name)} is not a valid HTTP header name and value`);
      }
    }
    this.#headers = { ...options.headers };
    this.#userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
    this.#logger = options.logger ?? silentLogger;
  }

  /**
   * Yields the file's bytes in order, from `options.offset`. Ends normally once the whole file
   * arrived (and passed its checksums); throws a {@link DownloadError} otherwise. Leaving the loop
   * early closes the connection.
   *
   * @throws DownloadError with one of {@link DownloadErrorCodes} (e.g. `NH_DOWNLOAD_URL_EXPIRED`,
   *   `NH_DOWNLOAD_CHECKSUM_MISMATCH`, `NH_DOWNLOAD_ABORTED`).
   */
  stream(url: string | URL, options: DownloadOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
    return this.#stream(url, options, new PartBuffers());
  }

  static {
    // The lending download stays off the public class (see lendDownload).
    lendFrom = (downloader, url, options) => {
      const buffers = new PartBuffers({ lend: true });
      return { chunks: downloader.#stream(url, options, buffers), doneThrough: (offset) => buffers.doneThrough(offset) };
    };
  }

  async *#stream(url: string | URL, options: DownloadOptions, buffers: PartBuffers): AsyncGenerator<Uint8Array, void, undefined> {
    const original = checkDownloadUrl(url, { allowInsecureHttp: this.#allowInsecureHttp });
    const offset = checkedOffset(options);
    const signal = options.signal;
    if (signal?.aborted) throw new DownloadError(DownloadErrorCodes.aborted, 'download aborted', { cause: signal.reason });
    const log: DownloadLog = (level, message, data) => safeLog(this.#logger, level, message, { url: redactUrl(original), ...data });
    if (original.protocol === 'http:') log('warn', 'INSECURE: downloading firmware over plain http (allowInsecureHttpDownloadsForTesting); never do this outside a lab');

    const lifetime = new DownloadLifetime(this.#retry.maxTimeoutMs, signal);
    const cursor = new DownloadCursor(offset, options);
    const settings: AttemptSettings = {
      retry: this.#retry,
      guard: new BodySizeGuard(options.expectedSize, this.#maxBytesWhenSizeUnknown),
      buffers,
      redactedUrl: redactUrl(original),
      log,
      request: (c, connection) => this.#request(original, c.position, c.etag, c.attempts, lifetime.signal, connection, log),
      onRequest: options.onRequest,
      onProgress: options.onProgress,
    };
    try {
      for (;;) {
        const attempt = new DownloadAttempt(settings, cursor);
        lifetime.current = attempt;
        try {
          lifetime.signal.throwIfAborted();
          for (const source of [attempt.run(), cursor.finish()]) {
            for await (const chunk of source) {
              yield chunk;
              buffers.handedOn(chunk, cursor.delivered);
            }
          }
          log('info', 'download complete', { bytes: cursor.receivedBytes, attempts: cursor.attempts });
          return;
        } catch (error) {
          await this.#afterFailedAttempt(error, cursor, attempt, lifetime.signal, log);
        } finally {
          attempt.release();
        }
      }
    } finally {
      lifetime.dispose();
    }
  }

  /**
   * Decides what a failed attempt means: rethrows what ends the download (abort, a permanent
   * error, too many failures), or returns once the next attempt may start (a part to fetch again
   * at once; after a drop, once the retry delay has passed).
   */
  async #afterFailedAttempt(error: unknown, cursor: DownloadCursor, attempt: DownloadAttempt, lifetime: AbortSignal, log: DownloadLog): Promise<void> {
    if (lifetime.aborted) throw lifetime.reason;
    if (isPartMismatch(error) && cursor.verified) {
      cursor.retryPart(error, log);
      return;
    }
    if (error instanceof DownloadError) throw error;
    const retry = this.#retry;
    cursor.disconnects += 1;
    const reason = error instanceof Error ? error.message : String(error);
    if (cursor.disconnects >= retry.maxDisconnects) {
      throw new DownloadError(DownloadErrorCodes.maxDisconnects, `gave up after ${cursor.disconnects} failed attempts (last: ${reason})`, { cause: error });
    }
    const waitMs = error instanceof TransientFailure && error.retryAfterMs !== undefined ? error.retryAfterMs : retryDelayMs(retry);
    log('warn', 'download interrupted; retrying', { reason, disconnects: cursor.disconnects, waitMs, resumeAt: cursor.position });
    attempt.disconnect();
    await sleep(waitMs, lifetime);
  }

  /** Sends one GET (following redirects) and waits for the response headers within the idle timeout. */
  async #request(
    original: URL,
    position: number,
    etag: string | undefined,
    attempt: number,
    lifetime: AbortSignal,
    current: { handle?: OpenHttpRequest },
    log: DownloadLog,
  ): Promise<Http1Response> {
    let target = original;
    for (let redirects = 0; ; redirects += 1) {
      lifetime.throwIfAborted();
      const headers: Record<string, string> = {
        ...this.#headers,
        'user-agent': this.#userAgent,
        'x-retry-number': String(attempt - 1),
      };
      if (position > 0) {
        headers.range = `bytes=${position}-`;
        // If-Range needs a strong validator.
        if (etag !== undefined && !etag.startsWith('W/')) headers['if-range'] = etag;
      }
      log('debug', 'requesting firmware', { target: redactUrl(target), attempt, offset: position });
      current.handle?.destroy();
      const handle = openHttpRequest(target, { method: 'GET', headers, ca: this.#ca, proxy: this.#proxy });
      current.handle = handle;
      const timer = setTimeout(
        () => handle.destroy(new TransientFailure(`no response within idleTimeoutMs (${this.#retry.idleTimeoutMs} ms)`)),
        this.#retry.idleTimeoutMs,
      );
      let res: Http1Response;
      try {
        res = await handle.response;
      } catch (error) {
        throw tlsTrustFailure(error, target.host) ?? error;
      } finally {
        clearTimeout(timer);
      }
      const location = header(res, 'location');
      if (!REDIRECT_STATUSES.has(res.statusCode ?? 0) || location === undefined) return res;
      res.resume();
      if (redirects + 1 > this.#retry.maxRedirects) {
        throw new DownloadError(DownloadErrorCodes.tooManyRedirects, `more than ${this.#retry.maxRedirects} redirects in a row`, { status: res.statusCode });
      }
      let next: URL;
      try {
        next = new URL(location, target);
      } catch (cause) {
        throw new DownloadError(DownloadErrorCodes.badRequest, 'a redirect pointed to an invalid URL', { cause });
      }
      checkDownloadUrl(next, { allowInsecureHttp: this.#allowInsecureHttp, redirect: true });
      log('info', 'following redirect', { status: res.statusCode, to: redactUrl(next) });
      target = next;
    }
  }
}
