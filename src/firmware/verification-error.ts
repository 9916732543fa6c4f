import { NervesHubError } from '../errors.js';

/**
 * Why a firmware archive was rejected. Stable strings; see {@link FirmwareVerifier}.
 *
 * @category Verification
 */
export type FirmwareVerificationCode =
  | 'NH_FW_NO_KEYS'
  | 'NH_FW_UNSIGNED'
  | 'NH_FW_BAD_SIGNATURE'
  | 'NH_FW_DIGEST_MISMATCH'
  | 'NH_FW_LENGTH_MISMATCH'
  | 'NH_FW_MISSING_RESOURCE'
  | 'NH_FW_UNEXPECTED_ENTRY'
  | 'NH_FW_MALFORMED'
  | 'NH_FW_BAD_DELTA';

/**
 * Thrown by {@link FirmwareVerifier.passThrough} (and used internally by `verify`) when an archive
 * fails verification. `message` mirrors fwup's wording where fwup has one.
 *
 * @example
 * ```ts
 * try { for await (const b of verifier.passThrough(source)) await out.write(b); }
 * catch (e) { if (e instanceof FirmwareVerificationError) console.error(e.code, e.message); }
 * ```
 * @category Verification
 */
export class FirmwareVerificationError extends NervesHubError {
  /** The verification failure code. */
  declare readonly code: FirmwareVerificationCode;

  /**
   * Creates a verification error.
   *
   * @param code - the verification failure code
   * @param message - fwup-style explanation
   * @param options - `cause`: the underlying error
   */
  constructor(code: FirmwareVerificationCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'FirmwareVerificationError';
  }
}

/** Shorthand for an archive-structure failure (`NH_FW_MALFORMED`). */
export function malformed(message: string, cause?: unknown): FirmwareVerificationError {
  return new FirmwareVerificationError('NH_FW_MALFORMED', message, cause === undefined ? undefined : { cause });
}
