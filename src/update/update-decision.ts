import type { UpdateDecision } from './update-client.js';
import { MIN_RESCHEDULE_MINUTES } from '../protocol/status.js';

/** Longest reason string sent to the server; longer app reasons are cut. */
const MAX_REASON_LENGTH = 500;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function reasonOf(obj: Record<string, unknown>): string | undefined | Error {
  const r = obj.reason;
  if (r === undefined || r === null) return undefined;
  if (typeof r !== 'string') return new Error('reason must be a string');
  return r.length > MAX_REASON_LENGTH ? `${r.slice(0, MAX_REASON_LENGTH)}…` : r;
}

/**
 * Validates what `UpdateClient.updateAvailable` returned. Returns the decision (reschedule delay
 * rounded to whole minutes, at least {@link MIN_RESCHEDULE_MINUTES}) or an `Error` saying why the
 * answer was not understood; the caller then treats it as `ignore` (fail safe: an app that cannot
 * answer never gets firmware it did not agree to).
 *
 * @example
 * ```ts
 * const d = normalizeUpdateDecision({ action: 'reschedule', delayMinutes: 2 }); // → delayMinutes 5
 * ```
 */
export function normalizeUpdateDecision(value: unknown): UpdateDecision | Error {
  if (!isPlainObject(value)) return new Error(`answer is not a decision object (got ${describe(value)})`);
  const reason = reasonOf(value);
  if (reason instanceof Error) return reason;
  switch (value.action) {
    case 'apply':
      return { action: 'apply' };
    case 'ignore':
      return reason === undefined ? { action: 'ignore' } : { action: 'ignore', reason };
    case 'reschedule': {
      const d = value.delayMinutes;
      if (typeof d !== 'number' || !Number.isFinite(d) || d < 0) {
        return new Error('reschedule needs delayMinutes, a finite number ≥ 0');
      }
      const delayMinutes = Math.max(MIN_RESCHEDULE_MINUTES, Math.round(d));
      return reason === undefined ? { action: 'reschedule', delayMinutes } : { action: 'reschedule', delayMinutes, reason };
    }
    default:
      return new Error(`unknown action ${describe(value.action)}`);
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return typeof value;
}
