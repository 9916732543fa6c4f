import { isNervesHubError } from '../errors.js';
import { redactUrl } from '../logging/redact.js';
import { FailureReasons } from '../protocol/status.js';
import type { UpdateFailureKind } from './update-journal.js';

/** Longest reason sent in a `failed` status (the server shows it in its UI). */
const MAX_REASON_LENGTH = 1000;

/**
 * A failed update, classified for the wire and for the journal.
 *
 * @example
 * ```ts
 * const { kind, reason } = classifyUpdateFailure(error);
 * if (kind === 'verification') alertOperator(reason);
 * ```
 */
export interface ClassifiedFailure {
  /** What failed: `download`, `verification` (counted in the failure memory), `apply` or `unexpected`. */
  kind: UpdateFailureKind;
  /** The `status_update failed` reason, with one of nerves_hub_link's prefixes. */
  reason: string;
  /** The error's stable code, when it has one. */
  code?: string;
}

const URL_IN_TEXT = /\bhttps?:\/\/[^\s"'<>]+/g;

/** Removes credentials (query strings, user info) from any URL inside `text`. */
export function redactUrlsInText(text: string): string {
  return text.replace(URL_IN_TEXT, (u) => redactUrl(u));
}

function clip(text: string): string {
  return text.length > MAX_REASON_LENGTH ? `${text.slice(0, MAX_REASON_LENGTH)}…` : text;
}

/**
 * Maps an error that ended an update to the `failed` reason nerves_hub_link would send (its
 * `"Download failed : …"` / `"Update failed : …"` / `"FWUP error : …"` prefixes) and a failure kind:
 * - `NH_DOWNLOAD_*` → `"Download failed : …"` (kind `download`; a checksum mismatch is `verification`)
 * - `NH_FW_*` (signature, digests, archive structure) → `"Update failed : firmware verification failed …"`
 *   (kind `verification`, counted toward the local failed-UUID memory)
 * - `NH_DELTA_*` (a delta that cannot be rebuilt against the delta source) → `"Update failed : delta firmware could not be rebuilt …"`
 *   (kind `verification`)
 * - `NH_FWUP_*` → `"FWUP error : …"` (kind `apply`)
 * - any other `NervesHubError` → `"Update failed : …"` (kind `apply`)
 * - anything else → `"Unexpected error : …"` (kind `unexpected`)
 *
 * URLs inside messages are redacted; the reason is at most 1000 characters.
 *
 * @example
 * ```ts
 * classifyUpdateFailure(new NervesHubError('NH_FWUP_FAILED', 'Expecting platform=rpi4'));
 * // → { kind: 'apply', code: 'NH_FWUP_FAILED', reason: 'FWUP error : Expecting platform=rpi4' }
 * ```
 */
export function classifyUpdateFailure(error: unknown): ClassifiedFailure {
  const message = redactUrlsInText(error instanceof Error ? error.message : String(error));
  if (!isNervesHubError(error)) {
    return { kind: 'unexpected', reason: clip(`${FailureReasons.unexpected}${message}`) };
  }
  const code = error.code;
  if (code.startsWith('NH_DOWNLOAD_')) {
    const kind = code === 'NH_DOWNLOAD_CHECKSUM_MISMATCH' ? 'verification' : 'download';
    return { kind, code, reason: clip(`${FailureReasons.download}${code}: ${message}`) };
  }
  if (code.startsWith('NH_FW_')) {
    return { kind: 'verification', code, reason: clip(`${FailureReasons.update}firmware verification failed (${code}): ${message}`) };
  }
  if (code.startsWith('NH_DELTA_')) {
    return { kind: 'verification', code, reason: clip(`${FailureReasons.update}delta firmware could not be rebuilt (${code}): ${message}`) };
  }
  if (code.startsWith('NH_FWUP_')) {
    return { kind: 'apply', code, reason: clip(`${FailureReasons.fwup}${message}`) };
  }
  return { kind: 'apply', code, reason: clip(`${FailureReasons.update}${code}: ${message}`) };
}
