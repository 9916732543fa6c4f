import { DownloadError, DownloadErrorCodes } from './download-error.js';

/**
 * Checks a firmware/archive URL (or a redirect target) against the no-downgrade rule:
 * `https:` only; plain `http:` only when the lab-only option
 * `allowInsecureHttpDownloadsForTesting` is set. Returns the parsed URL.
 *
 * @example
 * ```ts
 * const url = checkDownloadUrl(info.firmwareUrl, { allowInsecureHttp: false }); // throws NH_DOWNLOAD_INSECURE_URL for http:
 * ```
 * @throws DownloadError `NH_DOWNLOAD_BAD_REQUEST` (not a URL, not http/https) or `NH_DOWNLOAD_INSECURE_URL`.
 */
export function checkDownloadUrl(url: string | URL, options: { allowInsecureHttp: boolean; redirect?: boolean }): URL {
  const what = options.redirect ? 'a redirect' : 'the firmware URL';
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch (cause) {
    throw new DownloadError(DownloadErrorCodes.badRequest, `${what} is not a valid URL`, { cause });
  }
  if (parsed.protocol === 'https:') return parsed;
  if (parsed.protocol !== 'http:') {
    throw new DownloadError(DownloadErrorCodes.badRequest, `${what} has the scheme ${parsed.protocol}, not https`);
  }
  if (!options.allowInsecureHttp) {
    throw new DownloadError(
      DownloadErrorCodes.insecureUrl,
      `${what} is plain http (${parsed.host}): firmware is only downloaded over https. ` +
        'For a lab setup only, set allowInsecureHttpDownloadsForTesting: true',
    );
  }
  return parsed;
}
