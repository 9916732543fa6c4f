/**
 * Stable codes of the errors `nerves-hub-link/pkcs11` raises (all `NervesHubError`s); each is
 * described with its fix in docs/errors.md. Messages never contain the PIN.
 *
 * @example
 * ```ts
 * if (isNervesHubError(err) && err.code === Pkcs11ErrorCodes.PIN_INCORRECT) alertOperator('wrong token PIN');
 * ```
 */
export const Pkcs11ErrorCodes = Object.freeze({
  /** The key URI is not a valid RFC 7512 PKCS#11 URI. */
  URI_INVALID: 'NH_PKCS11_URI_INVALID',
  /** libp11's OpenSSL engine is not installed (`libengine-pkcs11-openssl`). */
  ENGINE_MISSING: 'NH_PKCS11_ENGINE_MISSING',
  /** The PKCS#11 module file does not exist or does not load. */
  MODULE_MISSING: 'NH_PKCS11_MODULE_MISSING',
  /** Node was not started with an OpenSSL config that registers the engine (or for another module). */
  ENGINE_NOT_REGISTERED: 'NH_PKCS11_ENGINE_NOT_REGISTERED',
  /** No token matches the URI. */
  TOKEN_NOT_FOUND: 'NH_PKCS11_TOKEN_NOT_FOUND',
  /** The token has no object matching the URI. */
  OBJECT_NOT_FOUND: 'NH_PKCS11_OBJECT_NOT_FOUND',
  /** The token refused the PIN. */
  PIN_INCORRECT: 'NH_PKCS11_PIN_INCORRECT',
  /** The PIN source gave no PIN (unset variable, unreadable file, failed callback, none configured). */
  PIN_UNAVAILABLE: 'NH_PKCS11_PIN_UNAVAILABLE',
  /** `pkcs11-tool` (opensc) is needed and not installed. */
  TOOL_MISSING: 'NH_PKCS11_TOOL_MISSING',
  /** The certificate cannot be read or does not match the token's key. */
  CERT: 'NH_PKCS11_CERT',
  /** The engine failed to load the key for another reason. */
  KEY_LOAD: 'NH_PKCS11_KEY_LOAD',
} as const);

/** One of {@link Pkcs11ErrorCodes}. */
export type Pkcs11ErrorCode = (typeof Pkcs11ErrorCodes)[keyof typeof Pkcs11ErrorCodes];
