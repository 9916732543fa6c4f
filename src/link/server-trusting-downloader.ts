import { rootCertificates } from 'node:tls';
import { Downloader } from '../download/downloader.js';
import type { Logger } from '../logging/logger.js';
import type { DownloadOptions } from '../download/download-options.js';
import type { FirmwareDownloadSource } from '../update/update-ports.js';

/** Where {@link ServerTrustingDownloader} reads what the socket trusts. @internal */
export interface ServerTrustingDownloaderOptions {
  /** The server CA the socket trusts right now (`undefined`: Node's roots only). */
  serverCa: () => ReadonlyArray<string | Uint8Array> | undefined;
  /** The socket's HTTP proxy, if any. */
  proxy?: string;
  /** Where the downloader logs (retries and TLS failures must not be silent). */
  logger: Logger;
  /** Lab setups only: let plain-http firmware URLs through (the update options' flag of the same name). */
  allowInsecureHttpDownloadsForTesting?: boolean;
}

/**
 * The default downloader of `NervesHubLink`: it trusts what the socket trusts. A private NervesHub
 * usually serves firmware from its own host, signed by the CA the socket was given (`tls.ca` or
 * the provider's `serverCaCertificates`); S3-style hosts need the public roots. So the CA list is
 * Node's roots plus the socket's CA, read at every download (the provider's CA is known only after a
 * connection attempt), exactly what the CLI gives its downloader.
 * @internal
 */
export class ServerTrustingDownloader implements FirmwareDownloadSource {
  readonly #o: ServerTrustingDownloaderOptions;
  #cached: { key: string; downloader: FirmwareDownloadSource } | undefined;

  constructor(options: ServerTrustingDownloaderOptions) {
    this.#o = options;
  }

  /** Streams `url` with a {@link Downloader} trusting Node's roots plus the socket's server CA. */
  stream(url: string | URL, options?: DownloadOptions): AsyncIterable<Uint8Array> {
    return this.#downloader().stream(url, options);
  }

  #downloader(): FirmwareDownloadSource {
    const ca = this.#o.serverCa() ?? [];
    const key = ca.map((c) => (typeof c === 'string' ? c : Buffer.from(c).toString('base64'))).join('\n');
    if (this.#cached?.key === key) return this.#cached.downloader;
    const downloader: FirmwareDownloadSource = new Downloader({
      ...(ca.length > 0 ? { ca: [...rootCertificates, ...ca] } : {}),
      ...(this.#o.proxy !== undefined ? { proxy: this.#o.proxy } : {}),
      logger: this.#o.logger,
      allowInsecureHttpDownloadsForTesting: this.#o.allowInsecureHttpDownloadsForTesting === true,
    });
    this.#cached = { key, downloader };
    return downloader;
  }
}
