import type { DownloadOptions } from './download-options.js';
import { Downloader, lendDownload } from './downloader.js';

/** A download whose consumer may hand its buffers back. @internal */
export interface LendingStream {
  /** The bytes, as {@link Downloader.stream} yields them. */
  chunks: AsyncIterable<Uint8Array>;
  /** The consumer keeps no view of the bytes before `offset` any more. */
  doneThrough(offset: number): void;
}

/**
 * Streams `url` from `source`, lending the buffers when `source` is the SDK's {@link Downloader}
 * (see `lendDownload`); any other source streams as usual and `doneThrough` does nothing.
 * @internal
 */
export function lendingStream(source: { stream(url: string | URL, options?: DownloadOptions): AsyncIterable<Uint8Array> }, url: string | URL, options: DownloadOptions): LendingStream {
  if (source instanceof Downloader) return lendDownload(source, url, options);
  return { chunks: source.stream(url, options), doneThrough: () => {} };
}
