import { parseContentLength, parseContentRange } from './content-range.js';
import { DownloadError, DownloadErrorCodes, type DownloadErrorCode } from './download-error.js';
import { parseRetryAfterMs } from './retry-after.js';

/** What the downloader knows when a response arrives. */
export interface ResumeState {
  /** File offset that was requested (0 = whole file, else `Range: bytes=position-`). */
  position: number;
  /** Bytes (from file offset 0) the consumer already has. */
  delivered: number;
  /** Full size, when known. */
  total: number | undefined;
  /** Validator of the bytes received so far. */
  etag: string | undefined;
}

/** How to go on with a (non-redirect) response. */
export type ResponseVerdict =
  /** Read the body: drop its first `skip` bytes; `restart` means start over from byte 0. */
  | { kind: 'body'; skip: number; restart: boolean; total: number | undefined; etag: string | undefined; length: number | undefined }
  /** Nothing left to read (416 for a range that starts exactly at the end). */
  | { kind: 'complete'; total: number }
  /** Worth another attempt (429/503), after `retryAfterMs` when the server said so. */
  | { kind: 'retry'; message: string; retryAfterMs: number | undefined }
  /** Fatal. */
  | { kind: 'fatal'; error: DownloadError };

/** Response fields the rules look at. */
export interface ResponseHead {
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The resume rules (two bodies are never spliced), as a pure function:
 * - 206 must carry a `Content-Range` starting at the requested byte, for the same total size.
 * - 200 to a ranged request: the server ignored the range. If its validator (ETag, size) is
 *   unchanged the already-received prefix is skipped; if it changed and the consumer already has
 *   bytes, `NH_DOWNLOAD_BAD_RANGE` (never splice two files); if the consumer has nothing, restart.
 * - 416 whose `Content-Range: bytes * /N` says the file ends exactly at the requested byte: complete;
 *   any other 416 to a ranged request: `NH_DOWNLOAD_RANGE_NOT_SATISFIABLE` (the caller's partial
 *   file is not a prefix of this file: discard it and start over).
 * - 429/503: retry (honouring `Retry-After`). 403: expired URL. Anything else: fatal with its status.
 */
export function judgeResponse(head: ResponseHead, state: ResumeState, describeUrl: string): ResponseVerdict {
  const { status } = head;
  const ranged = state.position > 0;
  const length = parseContentLength(single(head.headers['content-length']));
  const etag = single(head.headers.etag) ?? state.etag;
  const fatal = (code: DownloadErrorCode, message: string): ResponseVerdict => ({ kind: 'fatal', error: new DownloadError(code, message, { status }) });

  if (status === 200) {
    if (!ranged) {
      if (state.total !== undefined && length !== undefined && length !== state.total) {
        return fatal(DownloadErrorCodes.sizeMismatch, `the firmware host serves ${length} bytes but ${state.total} were expected`);
      }
      return { kind: 'body', skip: 0, restart: false, total: length ?? state.total, etag, length };
    }
    const responseEtag = single(head.headers.etag);
    const changed =
      (state.etag !== undefined && responseEtag !== undefined && responseEtag !== state.etag) ||
      (state.total !== undefined && length !== undefined && length !== state.total);
    if (!changed) return { kind: 'body', skip: state.position, restart: false, total: length ?? state.total, etag, length };
    if (state.delivered > 0) {
      return fatal(
        DownloadErrorCodes.badRange,
        `the server sent the whole file (200) instead of resuming at byte ${state.position}, and the file changed; ${state.delivered} bytes were already handed on, so the download cannot continue`,
      );
    }
    return { kind: 'body', skip: 0, restart: true, total: length, etag: responseEtag, length };
  }
  if (status === 206) {
    const raw = single(head.headers['content-range']);
    const range = parseContentRange(raw);
    if (!ranged || range?.start !== state.position) {
      return fatal(DownloadErrorCodes.badRange, `asked for bytes from ${state.position} but the server answered Content-Range "${raw ?? ''}"`);
    }
    if (state.total !== undefined && range.total !== undefined && range.total !== state.total) {
      return fatal(DownloadErrorCodes.badRange, `the file size changed on the server (${state.total} → ${range.total}); cannot resume`);
    }
    return { kind: 'body', skip: 0, restart: false, total: range.total ?? state.total, etag, length };
  }
  if (status === 416 && ranged) {
    const serverTotal = parseContentRange(single(head.headers['content-range']))?.total;
    if (serverTotal === state.position) return { kind: 'complete', total: state.position };
    // The bytes before `position` are not a prefix of this file (longer, or another file).
    return fatal(
      DownloadErrorCodes.rangeNotSatisfiable,
      `asked for bytes from ${state.position} but the server answered 416 (its file has ${serverTotal ?? 'an unstated number of'} bytes); the partial download does not belong to this file`,
    );
  }
  if (status === 429 || status === 503) {
    return { kind: 'retry', message: `the firmware host answered HTTP ${status}`, retryAfterMs: parseRetryAfterMs(head.headers['retry-after']) };
  }
  if (status === 403) {
    return fatal(
      DownloadErrorCodes.urlExpired,
      'the firmware URL expired or was refused (403); NervesHub presigns URLs for 24 h: a new update offer brings a fresh URL',
    );
  }
  return fatal(DownloadErrorCodes.httpStatus, `the firmware host answered HTTP ${status} for ${describeUrl}`);
}
