/**
 * Options of one download: what `Downloader.stream` takes, and what the update strategies pass to
 * any firmware download source.
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
   * SHA-256 (hex) of the whole file. Checked before the last part is handed on when there are no
   * `partialsChecksums` (those prove every byte already) and `offset` is 0 (with a resumed file
   * the caller re-verifies the file, see `verifyFileChecksums`).
   */
  checksum?: string;
  /** SHA-256 (hex) of each 1 MiB part; each part is checked before it is handed on. Needs a 1 MiB aligned `offset`. */
  partialsChecksums?: readonly string[];
  /** Called at every (re)connect, before the request is sent. */
  onRequest?(info: { attempt: number; offset: number }): void;
  /** Called after every received chunk. */
  onProgress?(progress: { received: number; total: number | undefined }): void;
}
