import { NervesHubError } from '../errors.js';

/**
 * Why a delta (VCDIFF) could not be applied. Stable strings; see docs/errors.md "Delta updates".
 * - `NH_DELTA_MALFORMED`: not a VCDIFF stream, or one that breaks RFC 3284 (bad varint, section
 *   lengths that do not add up, an instruction running past its section, a truncated patch).
 * - `NH_DELTA_UNSUPPORTED`: valid VCDIFF outside what xdelta3 `-A -S` writes (secondary
 *   compression, a custom code table, `VCD_TARGET` windows).
 * - `NH_DELTA_TOO_LARGE`: a window asks for more memory or output than allowed or declared.
 * - `NH_DELTA_WRONG_SOURCE`: the patch does not fit the source: a window's Adler-32 differs
 *   (the patch was made against other bytes) or it reads past the source's end.
 * - `NH_DELTA_NO_SOURCE`: no delta source, or the source lacks the resource being patched.
 */
export type DeltaErrorCode =
  | 'NH_DELTA_MALFORMED'
  | 'NH_DELTA_UNSUPPORTED'
  | 'NH_DELTA_TOO_LARGE'
  | 'NH_DELTA_WRONG_SOURCE'
  | 'NH_DELTA_NO_SOURCE';

/**
 * Raised by the VCDIFF decoder and the delta rebuild. The current firmware is never touched by a
 * failing delta: the rebuild only reads the source.
 *
 * @example
 * ```ts
 * try { for await (const b of decodeVcdiff(patch, previous, { outputBytes })) await out.write(b); }
 * catch (e) { if (e instanceof DeltaError && e.code === 'NH_DELTA_WRONG_SOURCE') askForFullFirmware(); }
 * ```
 */
export class DeltaError extends NervesHubError {
  /** The failure code. */
  declare readonly code: DeltaErrorCode;

  /**
   * @param code - the failure code
   * @param message - what went wrong (no secrets: offsets and sizes only)
   * @param options - `cause`: the underlying error
   */
  /** A delta failure with its stable `code`; `cause` keeps the underlying error. */
  constructor(code: DeltaErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'DeltaError';
  }
}
