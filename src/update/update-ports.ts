/**
 * The narrow views of the downloader and verifier the update strategies use, so `src/update`
 * depends on behaviour, not on concrete classes (the SDK's `Downloader` and `FirmwareVerifier`
 * satisfy them).
 */
import type { DownloadOptions } from '../download/download-options.js';

/**
 * Something that streams a URL's bytes with resume and retries (the SDK's `Downloader`).
 *
 * @example
 * ```ts
 * const source: FirmwareDownloadSource = new Downloader({ logger });
 * ```
 */
export interface FirmwareDownloadSource {
  /**
   * Streams the bytes of `url` from `options.offset`, resuming and retrying; throws a
   * `NervesHubError` (`NH_DOWNLOAD_*`) when it gives up. Each yielded chunk is handed over: the
   * SDK may keep it (e.g. to write it in a batch), so never reuse or change its memory.
   */
  stream(url: string | URL, options?: DownloadOptions): AsyncIterable<Uint8Array>;
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
 * const manager = new UpdateManager({ client, reporter, applier, publicKeys: () => [pub], createVerifier: (publicKeys) => new FirmwareVerifier({ publicKeys }) });
 * ```
 */
export interface FirmwareStreamVerifier {
  /**
   * True when {@link FirmwareStreamVerifier.passThrough} yields other bytes than it is given (the
   * delta rebuild: a delta archive in, the full archive out). The cached strategy then feeds the
   * applier the pass-through of the cached file, never the file itself.
   */
  readonly rewritesArchive?: boolean;
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
