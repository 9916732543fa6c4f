/**
 * The narrow views of the downloader and verifier the update strategies use, so `src/update`
 * depends on behaviour, not on concrete classes (the SDK's `Downloader` and `FirmwareVerifier`
 * satisfy them).
 */

/**
 * Options of {@link FirmwareDownloadSource.stream} used by the strategies.
 *
 * @example
 * ```ts
 * for await (const chunk of source.stream(url, { offset: 1_048_576, expectedSize: 8_388_608 })) await file.write(chunk);
 * ```
 */
export interface FirmwareDownloadOptions {
  /** Aborts the download. */
  signal?: AbortSignal;
  /** First byte to request (resume). */
  offset?: number;
  /** Size the server announced; a different size fails the download. */
  expectedSize?: number;
  /** SHA-256 (hex) of the whole file, when the server sent it. */
  checksum?: string;
  /** SHA-256 (hex) of each 1 MiB part, checked before the part is passed on. */
  partialsChecksums?: readonly string[];
  /** Called before every HTTP request (first and each reconnect). */
  onRequest?(event: { attempt: number; offset: number }): void;
  /** Bytes received so far (absolute file position when resuming) and the total when known. */
  onProgress?(event: { received: number; total?: number | undefined }): void;
}

/**
 * Something that streams a URL's bytes with resume and retries (the SDK's `Downloader`).
 *
 * @example
 * ```ts
 * const source: FirmwareDownloadSource = new Downloader({ logger });
 * ```
 */
export interface FirmwareDownloadSource {
  /** Streams the bytes of `url` from `options.offset`, resuming and retrying; throws a `NervesHubError` (`NH_DOWNLOAD_*`) when it gives up. */
  stream(url: string | URL, options?: FirmwareDownloadOptions): AsyncIterable<Uint8Array>;
}

/**
 * How the verifier of one update treats delta firmware, as the `UpdateManager` decides it from
 * the applier (see `FirmwareApplier.verifiesDeltaOutput`).
 *
 * @example
 * ```ts
 * const createVerifier = (publicKeys: readonly string[], delta: VerifierDeltaOptions) => new FirmwareVerifier({ publicKeys, ...delta });
 * ```
 */
export interface VerifierDeltaOptions {
  /** `true` only when the applier proves the patched output of delta resources itself (fwup). */
  allowDeltaResources: boolean;
  /** The applier's fwup task prefix, whose `on-resource` must declare each delta's source. */
  deltaTask?: string;
}

/**
 * Something that verifies fwup archives (the SDK's `FirmwareVerifier`).
 *
 * @example
 * ```ts
 * const manager = new UpdateManager({ ...options, createVerifier: (publicKeys) => new FirmwareVerifier({ publicKeys }) });
 * ```
 */
export interface FirmwareStreamVerifier {
  /**
   * Yields the archive's bytes unchanged, withholding the end of each resource until it is
   * verified; throws a `NervesHubError` (`NH_FW_*`) when verification fails. Yields nothing before
   * the signature is verified (the streaming strategy reports progress only from then on).
   */
  passThrough(source: AsyncIterable<Uint8Array>, options?: { signal?: AbortSignal }): AsyncIterable<Uint8Array>;
  /**
   * Verifies a complete archive read from `source`. Archive failures are results, not throws.
   * When absent, the cached strategy drains `passThrough` over the file instead.
   */
  verify?(
    source: AsyncIterable<Uint8Array>,
    options?: { signal?: AbortSignal },
  ): Promise<
    | {
        /** The archive is valid. */
        valid: true;
      }
    | {
        /** The archive was rejected. */
        valid: false;
        /** Stable code (`NH_FW_*`). */
        code: string;
        /** Explanation. */
        message: string;
      }
  >;
}
