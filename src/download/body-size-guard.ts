import { DownloadError, DownloadErrorCodes } from './download-error.js';

/**
 * Default of `DownloaderOptions.maxBytesWhenSizeUnknown` (see `DOWNLOADER_DEFAULTS`): 2 GiB. Nerves fwup archives are tens to
 * a few hundred MiB (the largest x86_64 images stay under 1 GiB), so this never stops a real
 * firmware, while a server that announces no size can no longer stream without end into the
 * cache (a 1.4 GB chunked body against 256 KiB expected was seen) or a device's data partition.
 */
export const MAX_BYTES_WHEN_SIZE_UNKNOWN = 2 * 1024 * 1024 * 1024;

/**
 * Keeps a download inside its announced size (a hostile server cannot fill the device's storage): the caller's
 * `expectedSize` (NervesHub's `size`) when there is one, else the size the server states
 * (`Content-Length` / `Content-Range`), and never past `maxBytesWhenSizeUnknown` when no size was
 * announced at all. A chunk that would run past the bound is refused whole, so the consumer
 * never receives a byte beyond it.
 *
 * @example
 * ```ts
 * const guard = new BodySizeGuard(info.size, MAX_BYTES_WHEN_SIZE_UNKNOWN);
 * guard.checkAnnounced(contentLength);   // throws NH_DOWNLOAD_TOO_LARGE when no size was expected and it is too big
 * guard.checkChunk(position, chunk.length, contentLength); // throws NH_DOWNLOAD_BODY_TOO_LONG past the size
 * ```
 */
export class BodySizeGuard {
  /**
   * @param expectedSize - the size the caller announced, when known
   * @param maxBytesWhenSizeUnknown - the bound used when neither the caller nor the server gives a size
   */
  constructor(
    readonly expectedSize: number | undefined,
    readonly maxBytesWhenSizeUnknown: number,
  ) {}

  /** Refuses a server-stated file size above the maximum when the caller expected no size. */
  checkAnnounced(total: number | undefined): void {
    if (this.expectedSize === undefined && total !== undefined && total > this.maxBytesWhenSizeUnknown) {
      throw new DownloadError(
        DownloadErrorCodes.tooLarge,
        `the firmware host announces ${total} bytes, more than maxBytesWhenSizeUnknown (${this.maxBytesWhenSizeUnknown})`,
      );
    }
  }

  /** Throws when `length` more bytes at file offset `position` would run past the size (`total`: what the server stated). */
  checkChunk(position: number, length: number, total: number | undefined): void {
    const announced = Math.min(this.expectedSize ?? Infinity, total ?? Infinity);
    const bound = announced === Infinity ? this.maxBytesWhenSizeUnknown : announced;
    if (position + length <= bound) return;
    if (announced !== Infinity) {
      throw new DownloadError(
        DownloadErrorCodes.bodyTooLong,
        `the firmware host sent more than the announced ${announced} bytes; the download was cut at byte ${position}`,
      );
    }
    throw new DownloadError(
      DownloadErrorCodes.tooLarge,
      `no size was announced and the body passed maxBytesWhenSizeUnknown (${this.maxBytesWhenSizeUnknown} bytes); the download was cut at byte ${position}`,
    );
  }
}
