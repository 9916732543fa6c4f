/**
 * Stable codes of the errors `nerves-hub-link/provisioning` raises (all `NervesHubError`s); each is
 * described with its fix in docs/errors.md. Messages never contain key material or PINs. PKCS#11
 * failures of `createPkcs11DeviceCsr` keep their `NH_PKCS11_*` codes.
 *
 * @example
 * ```ts
 * if (isNervesHubError(err) && err.code === ProvisioningErrorCodes.FILE_EXISTS) console.error('pick another name');
 * ```
 */
export const ProvisioningErrorCodes = Object.freeze({
  /** An output file (key, certificate, request) already exists; nothing is overwritten. */
  FILE_EXISTS: 'NH_PROV_FILE_EXISTS',
  /** A key file cannot be read or decoded, or is the wrong kind (a public key where a private one is needed). */
  KEY_INVALID: 'NH_PROV_KEY_INVALID',
  /** A private key file is readable by group or others. */
  KEY_PERMISSIONS: 'NH_PROV_KEY_PERMISSIONS',
  /** The firmware archive cannot be signed: not an fwup archive, corrupt, or not supported. */
  ARCHIVE_INVALID: 'NH_PROV_ARCHIVE_INVALID',
  /** A certificate, signer or certificate request cannot be used (not a CA, expired, wrong key, bad identifier). */
  CERT_INVALID: 'NH_PROV_CERT_INVALID',
  /** `openssl` could not make the certificate request for a key in a token (reason in `cause`). */
  CSR_FAILED: 'NH_PROV_CSR_FAILED',
} as const);

/** One of {@link ProvisioningErrorCodes}. */
export type ProvisioningErrorCode = (typeof ProvisioningErrorCodes)[keyof typeof ProvisioningErrorCodes];
