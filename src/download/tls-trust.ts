import { DownloadError, DownloadErrorCodes } from './download-error.js';

/**
 * Node/OpenSSL codes of a server certificate this device does not accept: retrying cannot help
 * (the same certificate comes back), so the download fails at once with `NH_DOWNLOAD_TLS_UNTRUSTED`.
 */
const TRUST_FAILURES: ReadonlySet<string> = new Set([
  // unknown or broken chain
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_CHAIN_TOO_LONG',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_REVOKED',
  // validity dates
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  // host name
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_TLS_CERT_ALTNAME_FORMAT',
  'HOSTNAME_MISMATCH',
]);

/**
 * Turns a certificate verification failure into a permanent `NH_DOWNLOAD_TLS_UNTRUSTED`
 * {@link DownloadError}; returns `undefined` for any other error (drops, resets: worth a retry).
 *
 * @example
 * ```ts
 * const permanent = tlsTrustFailure(error, new URL(url).host);
 * if (permanent) throw permanent;
 * ```
 */
export function tlsTrustFailure(error: unknown, host: string): DownloadError | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !TRUST_FAILURES.has(code)) return undefined;
  const hint =
    code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID'
      ? 'check the device clock and the host certificate dates'
      : 'give the Downloader the CA that issued it (`ca`), or fix the host name in the URL';
  return new DownloadError(
    DownloadErrorCodes.tlsUntrusted,
    `the TLS certificate of the firmware host ${host} is not trusted (${code}: ${(error as Error).message}); not retrying: ${hint}`,
    { cause: error },
  );
}
