import { NervesHubError } from '../../errors.js';

/**
 * Stable codes of the SDK's appliers.
 *
 * @category Errors and logging
 */
export const ApplyErrorCodes = Object.freeze({
  /** The apply was aborted (signal) or its source failed (e.g. verification); `cause` says which. */
  aborted: 'NH_APPLY_ABORTED',
  /** Writing the destination failed (I/O). */
  failed: 'NH_APPLY_FAILED',
  /** fwup reported an error or exited non-zero. */
  fwupFailed: 'NH_FWUP_FAILED',
  /** The fwup executable was not found. */
  fwupNotFound: 'NH_FWUP_NOT_FOUND',
  /** No public keys: fwup would skip signature verification, so the SDK refuses. */
  noKeys: 'NH_FW_NO_KEYS',
} as const);

/**
 * fwup failed: `message` is fwup's own error text (the `ER` packet), `exitCode` its exit status.
 *
 * @example
 * ```ts
 * try { await applier.apply(source, ctx); }
 * catch (err) { if (err instanceof FwupError) log(`fwup exited ${err.exitCode}: ${err.message}`); }
 * ```
 */
export class FwupError extends NervesHubError {
  /** fwup's exit code (`null` when it was killed by a signal). */
  readonly exitCode: number | null;
  /** Signal that ended fwup, if any. */
  readonly signal: NodeJS.Signals | null;
  /** The last lines fwup wrote to stderr (trimmed, at most 4 KiB). */
  readonly stderr: string;

  /**
   * Creates an `NH_FWUP_FAILED` error.
   *
   * @param message - fwup's error text
   * @param details - exit code, signal, stderr tail and cause
   */
  constructor(message: string, details: { exitCode: number | null; signal?: NodeJS.Signals | null; stderr?: string; cause?: unknown }) {
    super(ApplyErrorCodes.fwupFailed, message, { cause: details.cause });
    this.name = 'FwupError';
    this.exitCode = details.exitCode;
    this.signal = details.signal ?? null;
    this.stderr = details.stderr ?? '';
  }
}

/** The error an applier rejects with when `signal` fired or the source threw. */
export function abortedApplyError(reason: unknown, what: 'signal' | 'source'): NervesHubError {
  const detail = reason instanceof Error ? reason.message : String(reason);
  return new NervesHubError(
    ApplyErrorCodes.aborted,
    what === 'signal' ? `apply aborted: ${detail}` : `apply stopped because the firmware source failed: ${detail}`,
    { cause: reason },
  );
}
