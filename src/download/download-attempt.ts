import type { Http1Response } from './http1-response.js';
import type { BodySizeGuard } from './body-size-guard.js';
import { DownloadError, DownloadErrorCodes } from './download-error.js';
import type { OpenHttpRequest } from './http-connect.js';
import { judgeResponse } from './resume-rules.js';
import type { PartBuffers } from './part-buffers.js';
import { ResponseReader } from './response-reader.js';
import { worstCaseRequestTimeoutMs, type RetryOptions } from './retry-options.js';
import { PartChecksumMismatch, VerifiedParts } from './verified-parts.js';

/** A failure worth another attempt (drop, idle timeout, short body, 429/503). @internal */
export class TransientFailure extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Longest delay Node's timers accept. @internal */
export const MAX_TIMER_MS = 2_147_483_647;
/** Checksum attempts per 1 MiB part before giving up. */
const MAX_PART_ATTEMPTS = 3;

/** The downloader's log function for one download (adds the redacted URL). @internal */
export type DownloadLog = (level: 'debug' | 'info' | 'warn', message: string, data?: Record<string, unknown>) => void;

/**
 * What one download knows across its attempts: where it stands in the file, what the server said
 * about the file, and the checksum state of the bytes not yet handed on.
 * @internal
 */
export class DownloadCursor {
  /** Next file byte to receive. */
  position: number;
  /** The consumer has every byte before this one. */
  delivered: number;
  /** Size of the whole file, when known. */
  total: number | undefined;
  /** The server's validator of the file. */
  etag: string | undefined;
  /** Bytes held back until their part is proven (only with checksums). */
  verified: VerifiedParts | undefined;
  /** HTTP requests made so far (1 for the first). */
  attempts = 0;
  /** Failed attempts so far. */
  disconnects = 0;
  readonly #offset: number;
  readonly #checksums: { partialsChecksums?: readonly string[] | undefined; checksum?: string | undefined } | undefined;
  readonly #partFailures = new Map<number, number>();

  constructor(offset: number, options: { expectedSize?: number | undefined; etag?: string | undefined; checksum?: string | undefined; partialsChecksums?: readonly string[] | undefined }) {
    this.#offset = offset;
    this.position = offset;
    this.delivered = offset;
    this.total = options.expectedSize;
    this.etag = options.etag;
    const wantsParts = options.partialsChecksums !== undefined || (options.checksum !== undefined && offset === 0);
    this.#checksums = wantsParts ? { partialsChecksums: options.partialsChecksums, checksum: options.checksum } : undefined;
    this.verified = this.#newParts();
  }

  /** The whole file was received (nothing left to request). */
  get reachedEnd(): boolean {
    return this.position > 0 && this.total !== undefined && this.position >= this.total;
  }

  /** Bytes received by this download (not counting the caller's `offset`). */
  get receivedBytes(): number {
    return this.position - this.#offset;
  }

  /** The server sent the file from byte 0 although bytes were requested from `position`. */
  restartFromZero(): void {
    this.position = 0;
    this.verified = this.#newParts();
  }

  /** Takes a received chunk; yields what can be handed on (throws a `PartChecksumMismatch` after the proven parts). */
  *take(chunk: Buffer): Generator<Uint8Array, void, undefined> {
    const verified = this.verified;
    if (!verified) {
      this.position += chunk.length;
      this.delivered = this.position;
      yield chunk;
      return;
    }
    const { ready, mismatch } = verified.push(chunk);
    this.position = verified.position;
    for (const part of ready) {
      this.delivered += part.length;
      yield part;
    }
    if (mismatch) throw mismatch;
  }

  /** Yields the bytes still held back once the file is complete (after the last checks). */
  *finish(): Generator<Uint8Array, void, undefined> {
    if (!this.verified) return;
    for (const part of this.verified.finish()) {
      this.delivered += part.length;
      yield part;
    }
  }

  /**
   * A part failed its SHA-256: drops it so the next attempt requests it again, or throws
   * `NH_DOWNLOAD_CHECKSUM_MISMATCH` once it failed {@link MAX_PART_ATTEMPTS} times.
   */
  retryPart(error: PartChecksumMismatch, log: DownloadLog): void {
    const verified = this.verified;
    if (!verified) throw error;
    const failures = (this.#partFailures.get(error.partIndex) ?? 0) + 1;
    this.#partFailures.set(error.partIndex, failures);
    verified.discardCurrentPart();
    this.position = verified.position;
    if (failures >= MAX_PART_ATTEMPTS) {
      throw new DownloadError(DownloadErrorCodes.checksumMismatch, `part ${error.partIndex} failed its SHA-256 check ${failures} times`, { cause: error });
    }
    log('warn', 'a part failed its SHA-256 check; requesting it again', { part: error.partIndex, failures });
  }

  #newParts(): VerifiedParts | undefined {
    return this.#checksums === undefined ? undefined : new VerifiedParts(this.#offset, this.#checksums);
  }
}

/** What a {@link DownloadAttempt} needs from its download. @internal */
export interface AttemptSettings {
  retry: RetryOptions;
  guard: BodySizeGuard;
  /** Where the body is copied to. */
  buffers: PartBuffers;
  /** The URL as it may be logged. */
  redactedUrl: string;
  log: DownloadLog;
  /** Sends the GET for `cursor.position` (following redirects), tracking each request in `connection`. */
  request(cursor: DownloadCursor, connection: { handle?: OpenHttpRequest }): Promise<Http1Response>;
  onRequest?(info: { attempt: number; offset: number }): void;
  onProgress?(progress: { received: number; total: number | undefined }): void;
}

/**
 * One HTTP request/response cycle of a download: connect (unless the file is already complete),
 * judge the answer against the resume rules, read the body into the cursor. Owns that
 * request's connection, body reader and worst-case timer.
 * @internal
 */
export class DownloadAttempt {
  /** The request in flight (replaced at each redirect). */
  readonly connection: { handle?: OpenHttpRequest } = {};
  #reader: ResponseReader | undefined;
  #worstCaseTimer: NodeJS.Timeout | undefined;
  readonly #settings: AttemptSettings;
  readonly #cursor: DownloadCursor;

  constructor(settings: AttemptSettings, cursor: DownloadCursor) {
    this.#settings = settings;
    this.#cursor = cursor;
  }

  /** Yields the bytes this attempt can hand on; ends once the body is complete, throws otherwise. */
  async *run(): AsyncGenerator<Uint8Array, void, undefined> {
    const cursor = this.#cursor;
    if (cursor.reachedEnd) return;
    const { retry, guard, log } = this.#settings;
    cursor.attempts += 1;
    try {
      this.#settings.onRequest?.({ attempt: cursor.attempts, offset: cursor.position });
    } catch (error) {
      log('warn', 'onRequest threw', { error: String(error) });
    }
    const res = await this.#settings.request(cursor, this.connection);
    const verdict = judgeResponse(
      { status: res.statusCode ?? 0, headers: res.headers },
      { position: cursor.position, delivered: cursor.delivered, total: cursor.total, etag: cursor.etag },
      this.#settings.redactedUrl,
    );
    if (verdict.kind === 'fatal') throw verdict.error;
    if (verdict.kind === 'retry') throw new TransientFailure(verdict.message, verdict.retryAfterMs);
    if (verdict.kind === 'complete') {
      cursor.total = verdict.total;
      if (cursor.verified) cursor.verified.total = cursor.total;
      guard.checkAnnounced(cursor.total);
      return;
    }
    if (verdict.restart || verdict.skip > 0) {
      log('warn', 'the server ignored the Range request; restarting from byte 0', { requested: cursor.position, changed: verdict.restart });
    }
    if (verdict.restart) cursor.restartFromZero();
    cursor.total = verdict.total;
    cursor.etag = verdict.etag;
    if (cursor.verified) cursor.verified.total = cursor.total;
    guard.checkAnnounced(cursor.total);
    yield* this.#readBody(res, verdict.skip, verdict.length, retry);
  }

  /** Stops at once (the download was aborted or ran out of time). */
  abort(reason: Error): void {
    clearTimeout(this.#worstCaseTimer);
    this.connection.handle?.destroy(reason);
    this.#reader?.fail(reason);
  }

  /** Closes the connection (before waiting to retry). */
  disconnect(): void {
    this.connection.handle?.destroy();
  }

  /** Releases the connection and the timer. */
  release(): void {
    clearTimeout(this.#worstCaseTimer);
    this.#worstCaseTimer = undefined;
    this.connection.handle?.destroy();
    this.connection.handle = undefined;
    this.#reader = undefined;
  }

  async *#readBody(res: Http1Response, skipBytes: number, length: number | undefined, retry: RetryOptions): AsyncGenerator<Uint8Array, void, undefined> {
    const cursor = this.#cursor;
    const reader = new ResponseReader(
      res,
      retry.idleTimeoutMs,
      () => new TransientFailure(`no data for idleTimeoutMs (${retry.idleTimeoutMs} ms)`),
      this.#settings.buffers,
      Math.max(0, cursor.position - skipBytes),
    );
    this.#reader = reader;
    const limitMs = worstCaseRequestTimeoutMs(length, retry);
    this.#worstCaseTimer = setTimeout(() => {
      const error = new DownloadError(DownloadErrorCodes.worstCaseTimeout, `one request took longer than ${limitMs} ms (worst-case speed ${retry.worstCaseBitsPerSecond} bit/s)`);
      this.connection.handle?.destroy(error);
      reader.fail(error);
    }, Math.min(limitMs, MAX_TIMER_MS));
    let skip = skipBytes;
    // With part checksums the cursor holds bytes back until their part is complete: take whole parts.
    const wholeParts = cursor.verified !== undefined;
    for (let chunk = await reader.next(wholeParts); chunk !== null; chunk = await reader.next(wholeParts)) {
      if (skip > 0) {
        if (chunk.length <= skip) {
          skip -= chunk.length;
          continue;
        }
        chunk = chunk.subarray(skip);
        skip = 0;
      }
      this.#settings.guard.checkChunk(cursor.position, chunk.length, cursor.total);
      yield* cursor.take(chunk);
      this.#progress();
    }
    if (cursor.total !== undefined && cursor.position < cursor.total) throw new TransientFailure(`the body ended at byte ${cursor.position} of ${cursor.total}`);
  }

  #progress(): void {
    try {
      this.#settings.onProgress?.({ received: this.#cursor.position, total: this.#cursor.total });
    } catch (error) {
      this.#settings.log('warn', 'onProgress threw', { error: String(error) });
    }
  }
}

/** True for a part checksum failure the cursor may retry. @internal */
export function isPartMismatch(error: unknown): error is PartChecksumMismatch {
  return error instanceof PartChecksumMismatch;
}
