/** Version of this SDK sent in the downloader's `User-Agent` (kept in step with package.json). */
export const SDK_VERSION = '0.1.0';

/** Default `User-Agent` of firmware downloads. */
export const DEFAULT_USER_AGENT = `nerves-hub-link/${SDK_VERSION}`;
