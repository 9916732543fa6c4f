import type { IncomingMessage } from 'node:http';
import type { Logger } from '../internal/logger.js';
import { safeLog, silentLogger } from '../internal/logger.js';
import { redactUrl } from '../internal/redact.js';
import { BodySizeGuard, DEFAULT_MAX_BYTES_WHEN_SIZE_UNKNOWN } from './body-size-guard.js';
import { DownloadError, DownloadErrorCodes } from './download-error.js';
import { openHttpRequest, type OpenHttpRequest } from './http-connect.js';
import { judgeResponse } from './resume-rules.js';
import { ResponseReader } from './response-reader.js';
import { resolveRetryOptions, retryDelayMs, worstCaseRequestTimeoutMs, type RetryOptions } from './retry-options.js';
import { PART_SIZE_BYTES } from './sha256-parts.js';
import { DEFAULT_USER_AGENT } from './user-agent.js';
import { tlsTrustFailure } from './tls-trust.js';
import { checkDownloadUrl } from './url-policy.js';
import { PartChecksumMismatch, VerifiedParts } from './verified-parts.js';

/**
 * How the {@link Downloader} connects.
 *
 * @example
 * ```ts
 * const downloader = new Downloader({ ca: readFileSync('private-ca.pem', 'utf8'), retry: { maxDisconnects: 20 } });
 * ```
 */
export interface DownloaderOptions {
  /** Retry/timeout policy; missing fields take {@link DEFAULT_RETRY_OPTIONS}. */
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
   * {@link DEFAULT_MAX_BYTES_WHEN_SIZE_UNKNOWN}, 2 GiB). With an `expectedSize` the download
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

/**
 * One download.
 *
 * @example
 * ```ts
 * const options: DownloadOptions = { signal: AbortSignal.timeout(600_000), expectedSize: info.size, checksum: info.checksum };
 * ```
 */
export interface DownloadOptions {
  /** Stops the download at once (`NH_DOWNLOAD_ABORTED`). */
  signal?: AbortSignal;
  /** Start at this byte (e.g. after a cached partial file); the first request is ranged. */
  offset?: number;
  /** Validator of the bytes before `offset`, sent as `If-Range`. */
  etag?: string;
  /** Size of the whole file, when known (NervesHub's `size`); the body never runs past it (`NH_DOWNLOAD_BODY_TOO_LONG`). */
  expectedSize?: number;
  /**
   * SHA-256 (hex) of the whole file. Checked before the last part is handed on (only when
   * `offset` is 0: with a resumed file the caller re-verifies the file, see `verifyFileChecksums`),
   * and only without `partialsChecksums`: checked parts already prove every byte.
   */
  checksum?: string;
  /** SHA-256 (hex) of each 1 MiB part; each part is checked before it is handed on. Needs a 1 MiB aligned `offset`. */
  partialsChecksums?: string[];
  /** Called at every (re)connect, before the request is sent. */
  onRequest?(info: { attempt: number; offset: number }): void;
  /** Called after every received chunk. */
  onProgress?(progress: { received: number; total: number | undefined }): void;
}

/** A failure worth another attempt (drop, idle timeout, short body, 429/503). */
class TransientFailure extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Checksum attempts per 1 MiB part before giving up. */
const MAX_PART_ATTEMPTS = 3;
/** Longest delay Node's timers accept. */
const MAX_TIMER_MS = 2_147_483_647;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

function header(res: IncomingMessage, name: string): string | undefined {
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
    throw new DownloadError(DownloadErrorCodes.badRequest, 'proxy is not a valid URL', { cause });
  }
  if (parsed.protocol !== 'http:') throw new DownloadError(DownloadErrorCodes.badRequest, 'only http:// proxies are supported');
  return parsed;
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

  /** @throws DownloadError `NH_DOWNLOAD_BAD_REQUEST` when a retry option or `proxy` is unusable. */
  constructor(options: DownloaderOptions = {}) {
    this.#retry = resolveRetryOptions(options.retry);
    const ca = options.ca === undefined ? undefined : Array.isArray(options.ca) ? options.ca : [options.ca];
    this.#ca = ca?.map((c) => (typeof c === 'string' ? c : Buffer.from(c)));
    if (options.proxy !== undefined) this.#proxy = proxyUrl(options.proxy);
    const maxBytes = options.maxBytesWhenSizeUnknown ?? DEFAULT_MAX_BYTES_WHEN_SIZE_UNKNOWN;
    if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) {
      throw new DownloadError(DownloadErrorCodes.badRequest, `maxBytesWhenSizeUnknown must be a positive integer (got ${String(maxBytes)})`);
    }
    this.#maxBytesWhenSizeUnknown = maxBytes;
    this.#allowInsecureHttp = options.allowInsecureHttpDownloadsForTesting === true;
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
  async *stream(url: string | URL, options: DownloadOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
    const retry = this.#retry;
    const original = checkDownloadUrl(url, { allowInsecureHttp: this.#allowInsecureHttp });
    const offset = options.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0) throw new DownloadError(DownloadErrorCodes.badRequest, `offset must be a non-negative integer (got ${offset})`);
    if (options.expectedSize !== undefined && (!Number.isSafeInteger(options.expectedSize) || options.expectedSize < offset)) {
      throw new DownloadError(DownloadErrorCodes.badRequest, `expectedSize ${options.expectedSize} is not an integer >= offset ${offset}`);
    }
    if (options.partialsChecksums !== undefined && offset % PART_SIZE_BYTES !== 0) {
      throw new DownloadError(DownloadErrorCodes.badRequest, `offset ${offset} must be a multiple of 1 MiB when partial checksums are checked`);
    }
    const signal = options.signal;
    if (signal?.aborted) throw new DownloadError(DownloadErrorCodes.aborted, 'download aborted', { cause: signal.reason });

    const lifetime = new AbortController();
    const current: { handle?: OpenHttpRequest; reader?: ResponseReader; worstCaseTimer?: NodeJS.Timeout } = {};
    const onUserAbort = (): void => lifetime.abort(new DownloadError(DownloadErrorCodes.aborted, 'download aborted', { cause: signal?.reason }));
    const onLifetimeAbort = (): void => {
      // A consumer may abort and drop the generator without finishing it: release everything now.
      clearTimeout(maxTimer);
      clearTimeout(current.worstCaseTimer);
      const reason = lifetime.signal.reason as Error;
      current.handle?.destroy(reason);
      current.reader?.fail(reason);
    };
    signal?.addEventListener('abort', onUserAbort, { once: true });
    lifetime.signal.addEventListener('abort', onLifetimeAbort, { once: true });
    const maxTimer = setTimeout(
      () => lifetime.abort(new DownloadError(DownloadErrorCodes.maxTimeout, `the download did not finish within maxTimeoutMs (${retry.maxTimeoutMs} ms)`)),
      Math.min(retry.maxTimeoutMs, MAX_TIMER_MS),
    );
    maxTimer.unref(); // the open socket, not this guard, keeps the process alive while downloading
    const log = (level: 'debug' | 'info' | 'warn', message: string, data?: Record<string, unknown>): void =>
      safeLog(this.#logger, level, message, { url: redactUrl(original), ...data });
    if (original.protocol === 'http:') log('warn', 'INSECURE: downloading firmware over plain http (allowInsecureHttpDownloadsForTesting); never do this outside a lab');
    const guard = new BodySizeGuard(options.expectedSize, this.#maxBytesWhenSizeUnknown);
    const wantsParts = options.partialsChecksums !== undefined || (options.checksum !== undefined && offset === 0);
    const newParts = (): VerifiedParts | undefined =>
      wantsParts ? new VerifiedParts(offset, { partialsChecksums: options.partialsChecksums, checksum: options.checksum }) : undefined;

    let verified = newParts();
    let position = offset; // next file byte to receive
    let delivered = offset; // the consumer has every byte before this one
    let total = options.expectedSize;
    let etag = options.etag;
    let disconnects = 0;
    let attempt = 0;
    const partFailures = new Map<number, number>();
    const progress = (): void => {
      try {
        options.onProgress?.({ received: position, total });
      } catch (error) {
        log('warn', 'onProgress threw', { error: String(error) });
      }
    };

    try {
      attempts: for (;;) {
        try {
          lifetime.signal.throwIfAborted();
          let finished = position > 0 && total !== undefined && position >= total;
          if (!finished) {
            attempt += 1;
            try {
              options.onRequest?.({ attempt, offset: position });
            } catch (error) {
              log('warn', 'onRequest threw', { error: String(error) });
            }
            const res = await this.#request(original, position, etag, attempt, lifetime.signal, current, log);
            const verdict = judgeResponse({ status: res.statusCode ?? 0, headers: res.headers }, { position, delivered, total, etag }, redactUrl(original));
            if (verdict.kind === 'fatal') throw verdict.error;
            if (verdict.kind === 'retry') throw new TransientFailure(verdict.message, verdict.retryAfterMs);
            let skip = 0;
            let length: number | undefined;
            if (verdict.kind === 'complete') {
              total = verdict.total;
              finished = true;
            } else {
              if (verdict.restart || verdict.skip > 0) {
                log('warn', 'the server ignored the Range request; restarting from byte 0', { requested: position, changed: verdict.restart });
              }
              if (verdict.restart) {
                position = 0;
                verified = newParts();
              }
              skip = verdict.skip;
              total = verdict.total;
              etag = verdict.etag;
              length = verdict.length;
            }
            if (verified) verified.total = total;
            guard.checkAnnounced(total);

            if (!finished) {
              const reader = new ResponseReader(res, retry.idleTimeoutMs, () => new TransientFailure(`no data for idleTimeoutMs (${retry.idleTimeoutMs} ms)`));
              current.reader = reader;
              const limitMs = worstCaseRequestTimeoutMs(length, retry);
              current.worstCaseTimer = setTimeout(() => {
                const error = new DownloadError(DownloadErrorCodes.worstCaseTimeout, `one request took longer than ${limitMs} ms (worst-case speed ${retry.worstCaseBitsPerSecond} bit/s)`);
                current.handle?.destroy(error);
                reader.fail(error);
              }, Math.min(limitMs, MAX_TIMER_MS));
              for (let chunk = await reader.next(); chunk !== null; chunk = await reader.next()) {
                if (skip > 0) {
                  if (chunk.length <= skip) {
                    skip -= chunk.length;
                    continue;
                  }
                  chunk = chunk.subarray(skip);
                  skip = 0;
                }
                guard.checkChunk(position, chunk.length, total);
                if (verified) {
                  const { ready, mismatch } = verified.push(chunk);
                  position = verified.position;
                  for (const part of ready) {
                    delivered += part.length;
                    yield part;
                  }
                  if (mismatch) throw mismatch;
                } else {
                  position += chunk.length;
                  delivered = position;
                  yield chunk;
                }
                progress();
              }
              if (total !== undefined && position < total) throw new TransientFailure(`the body ended at byte ${position} of ${total}`);
            }
          }
          if (verified) {
            for (const part of verified.finish()) {
              delivered += part.length;
              yield part;
            }
          }
          log('info', 'download complete', { bytes: position - offset, attempts: attempt });
          return;
        } catch (error) {
          if (lifetime.signal.aborted) throw lifetime.signal.reason;
          if (error instanceof PartChecksumMismatch && verified) {
            const failures = (partFailures.get(error.partIndex) ?? 0) + 1;
            partFailures.set(error.partIndex, failures);
            verified.discardCurrentPart();
            position = verified.position;
            if (failures >= MAX_PART_ATTEMPTS) {
              throw new DownloadError(DownloadErrorCodes.checksumMismatch, `part ${error.partIndex} failed its SHA-256 check ${failures} times`, { cause: error });
            }
            log('warn', 'a part failed its SHA-256 check; requesting it again', { part: error.partIndex, failures });
            continue attempts;
          }
          if (error instanceof DownloadError) throw error;
          disconnects += 1;
          const reason = error instanceof Error ? error.message : String(error);
          if (disconnects >= retry.maxDisconnects) {
            throw new DownloadError(DownloadErrorCodes.maxDisconnects, `gave up after ${disconnects} failed attempts (last: ${reason})`, { cause: error });
          }
          const waitMs = error instanceof TransientFailure && error.retryAfterMs !== undefined ? error.retryAfterMs : retryDelayMs(retry);
          log('warn', 'download interrupted; retrying', { reason, disconnects, waitMs, resumeAt: position });
          current.handle?.destroy();
          await sleep(waitMs, lifetime.signal);
        } finally {
          clearTimeout(current.worstCaseTimer);
          current.worstCaseTimer = undefined;
          current.handle?.destroy();
          current.handle = undefined;
          current.reader = undefined;
        }
      }
    } finally {
      clearTimeout(maxTimer);
      signal?.removeEventListener('abort', onUserAbort);
      lifetime.signal.removeEventListener('abort', onLifetimeAbort);
      current.handle?.destroy();
    }
  }

  /** Sends one GET (following redirects) and waits for the response headers within the idle timeout. */
  async #request(
    original: URL,
    position: number,
    etag: string | undefined,
    attempt: number,
    lifetime: AbortSignal,
    current: { handle?: OpenHttpRequest },
    log: (level: 'debug' | 'info' | 'warn', message: string, data?: Record<string, unknown>) => void,
  ): Promise<IncomingMessage> {
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
      let res: IncomingMessage;
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
