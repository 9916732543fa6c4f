/**
 * The narrow views of the downloader and verifier the update strategies use, so `src/update`
 * depends on behaviour, not on concrete classes (the SDK's `Downloader` and `FirmwareVerifier`
 * satisfy them).
 */

/** Options of {@link FirmwareDownloadSource.stream} used by the strategies. */
export interface FirmwareDownloadOptions {
  signal?: AbortSignal;
  /** First byte to request (resume). */
  offset?: number;
  expectedSize?: number;
  checksum?: string;
  partialsChecksums?: readonly string[];
  /** Called before every HTTP request (first and each reconnect). */
  onRequest?(event: { attempt: number; offset: number }): void;
  /** Bytes received so far (absolute file position when resuming) and the total when known. */
  onProgress?(event: { received: number; total?: number | undefined }): void;
}

/** Something that streams a URL's bytes with resume and retries (the SDK's `Downloader`). */
export interface FirmwareDownloadSource {
  stream(url: string | URL, options?: FirmwareDownloadOptions): AsyncIterable<Uint8Array>;
}

/** Something that verifies fwup archives (the SDK's `FirmwareVerifier`). */
export interface FirmwareStreamVerifier {
  /**
   * Yields the archive's bytes unchanged, withholding the end of each resource until it is
   * verified; throws a `NervesHubError` (`NH_FW_*`) when verification fails.
   */
  passThrough(source: AsyncIterable<Uint8Array>, options?: { signal?: AbortSignal }): AsyncIterable<Uint8Array>;
  /**
   * Verifies a complete archive read from `source`. Archive failures are results, not throws.
   * When absent, the cached strategy drains `passThrough` over the file instead.
   */
  verify?(
    source: AsyncIterable<Uint8Array>,
    options?: { signal?: AbortSignal },
  ): Promise<{ valid: true } | { valid: false; code: string; message: string }>;
}
