import type { DownloadOptions } from './download-options.js';
import { Downloader, lendDownload } from './downloader.js';
import type { LentChunks } from './part-buffers.js';

/**
 * Streams `url` from `source`, lending the buffers when `source` is the SDK's {@link Downloader}
 * (see `lendDownload`); any other source streams as usual and `doneThrough` does nothing.
 * @internal
 */
export function lendingStream(source: { stream(url: string | URL, options?: DownloadOptions): AsyncIterable<Uint8Array> }, url: string | URL, options: DownloadOptions): LentChunks {
  if (source instanceof Downloader) return lendDownload(source, url, options);
  return { chunks: source.stream(url, options), doneThrough: () => {} };
}
