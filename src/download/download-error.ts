import { NervesHubError } from '../errors.js';

/**
 * Stable codes of {@link DownloadError}.
 *
 * @category Errors and logging
 */
export const DownloadErrorCodes = Object.freeze({
  /** The server answered with a status the downloader does not retry (see `status`). */
  httpStatus: 'NH_DOWNLOAD_HTTP_STATUS',
  /** 403: the presigned URL expired or was refused. */
  urlExpired: 'NH_DOWNLOAD_URL_EXPIRED',
  /** Too many failed attempts (drops, idle timeouts, 429/503). */
  maxDisconnects: 'NH_DOWNLOAD_MAX_DISCONNECTS',
  /** The whole download took longer than `maxTimeoutMs`. */
  maxTimeout: 'NH_DOWNLOAD_MAX_TIMEOUT',
  /** One request took longer than the worst-case-speed allowance. */
  worstCaseTimeout: 'NH_DOWNLOAD_WORST_CASE_TIMEOUT',
  /** A part or the whole file did not match its SHA-256. */
  checksumMismatch: 'NH_DOWNLOAD_CHECKSUM_MISMATCH',
  /** The server answered a resume with a range that cannot be continued without splicing. */
  badRange: 'NH_DOWNLOAD_BAD_RANGE',
  /** The server's size disagrees with the expected size. */
  sizeMismatch: 'NH_DOWNLOAD_SIZE_MISMATCH',
  /** More redirects than `maxRedirects`. */
  tooManyRedirects: 'NH_DOWNLOAD_TOO_MANY_REDIRECTS',
  /** The caller's AbortSignal fired. */
  aborted: 'NH_DOWNLOAD_ABORTED',
  /** The URL or an option is unusable (not http/https, bad retry option…). */
  badRequest: 'NH_DOWNLOAD_BAD_REQUEST',
  /** A plain `http:` URL or a redirect to one, without `allowInsecureHttpDownloadsForTesting`. */
  insecureUrl: 'NH_DOWNLOAD_INSECURE_URL',
  /** The firmware host's TLS certificate failed verification (unknown CA, wrong host name, expired…); never retried. */
  tlsUntrusted: 'NH_DOWNLOAD_TLS_UNTRUSTED',
  /** The body ran past the announced size (`expectedSize`, `Content-Length` or `Content-Range`). */
  bodyTooLong: 'NH_DOWNLOAD_BODY_TOO_LONG',
  /** No size was announced and the file is larger than `maxBytesWhenSizeUnknown`. */
  tooLarge: 'NH_DOWNLOAD_TOO_LARGE',
  /** A resume (`Range: bytes=N-`) was answered 416 and the file does not end at N: the partial file is not a prefix of it. */
  rangeNotSatisfiable: 'NH_DOWNLOAD_RANGE_NOT_SATISFIABLE',
} as const);

/** One of {@link DownloadErrorCodes}. */
export type DownloadErrorCode = (typeof DownloadErrorCodes)[keyof typeof DownloadErrorCodes];

/**
 * Why a download failed. `status` is set for HTTP status failures (`NH_DOWNLOAD_HTTP_STATUS`,
 * `NH_DOWNLOAD_URL_EXPIRED`).
 *
 * @example
 * ```ts
 * try { for await (const chunk of downloader.stream(url)) await out.write(chunk); }
 * catch (err) { if (err instanceof DownloadError && err.code === 'NH_DOWNLOAD_URL_EXPIRED') waitForNewOffer(); }
 * ```
 * @category Errors and logging
 */
export class DownloadError extends NervesHubError {
  /** HTTP status of the response that ended the download, when there was one. */
  readonly status: number | undefined;

  /**
   * Creates a download error.
   *
   * @param code - one of {@link DownloadErrorCodes}
   * @param message - what failed and what to do
   * @param options - `cause`: the underlying error; `status`: the HTTP status, when there was one
   */
  constructor(code: DownloadErrorCode, message: string, options?: { cause?: unknown; status?: number }) {
    super(code, message, options);
    this.name = 'DownloadError';
    this.status = options?.status;
  }
}
