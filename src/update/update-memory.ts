import { FailureReasons } from '../protocol/status.js';
import type { UpdateInfo } from '../protocol/update-info.js';
import type { JournalPendingUpdate, JournalState, UpdateFailureKind } from './update-journal.js';

/**
 * Local memory of failed and interrupted updates (failed firmware UUIDs are remembered on the
 * device), so a device neither loops on a firmware that cannot pass verification nor restarts
 * forever an update that keeps killing the process. Pure functions over the journal state.
 */

/** Limits of {@link localRefusal}. */
export interface UpdateMemoryLimits {
  maxVerificationFailures: number;
  maxInterruptedAttempts: number;
  failureMemoryMs: number;
}

/**
 * A `failed` reason when `uuid` should be refused from local memory, else `null`: it failed
 * verification `maxVerificationFailures` times, the last within `failureMemoryMs` (a record dated
 * after `nowMs` does not count: its age is unknown), or its update was
 * started `maxInterruptedAttempts` times without ever ending (process restarts).
 */
export function localRefusal(state: JournalState, uuid: string, limits: UpdateMemoryLimits, nowMs: number = Date.now()): string | null {
  const failure = state.failures.find((f) => f.uuid === uuid);
  if (
    failure !== undefined &&
    failure.kind === 'verification' &&
    failure.count >= limits.maxVerificationFailures &&
    isRecent(failure.at, nowMs, limits.failureMemoryMs)
  ) {
    return `${FailureReasons.update}firmware ${uuid} failed verification ${failure.count} times on this device; not downloading it again (last: ${failure.reason})`;
  }
  const pending = state.pending;
  if (pending !== null && pending.uuid === uuid && pending.attempts >= limits.maxInterruptedAttempts) {
    return `${FailureReasons.update}the update to ${uuid} was interrupted by ${pending.attempts} restarts; giving up`;
  }
  return null;
}

/**
 * True when `at` lies within the last `memoryMs`. A record dated in the future was written while
 * the clock was ahead: its age is unknown, so it does not block (at worst one more download; the
 * failure it then records carries a true date and the same count, and blocks again).
 */
function isRecent(at: string, nowMs: number, memoryMs: number): boolean {
  const atMs = Date.parse(at);
  if (!Number.isFinite(atMs) || atMs > nowMs) return false;
  return nowMs - atMs < memoryMs;
}

/** Records a failure of `uuid` (consecutive failures of the same kind are counted). */
export function recordFailure(state: JournalState, uuid: string, kind: UpdateFailureKind, reason: string, at: Date = new Date()): void {
  const previous = state.failures.find((f) => f.uuid === uuid);
  state.failures = state.failures.filter((f) => f.uuid !== uuid);
  const count = previous !== undefined && previous.kind === kind ? previous.count + 1 : 1;
  state.failures.push({ uuid, kind, reason, count, at: at.toISOString() });
}

/**
 * The journal entry for an update being started (stage `download`). Attempts continue from
 * `previous` of the same UUID; a restart that interrupted the re-verification of a complete cached
 * file (`previous.stage === 'verify'`) is not counted: it neither downloaded nor wrote anything, so
 * it cannot be what keeps killing the process, and counting it made a device give up (`failed`)
 * on an update its next offer then completed from the cache.
 */
export function pendingFromInfo(info: UpdateInfo, strategy: string, previous: JournalPendingUpdate | null): JournalPendingUpdate {
  const counted = previous?.stage === 'verify' ? 0 : 1;
  const p: JournalPendingUpdate = {
    uuid: info.firmwareMeta.uuid,
    firmwareUrl: info.firmwareUrl.toString(),
    firmwareMeta: { ...info.firmwareMeta },
    strategy,
    startedAt: previous?.startedAt ?? new Date().toISOString(),
    attempts: Math.max(1, (previous?.attempts ?? 0) + counted),
    stage: 'download',
  };
  if (info.size !== undefined) p.size = info.size;
  if (info.checksum !== undefined) p.checksum = info.checksum;
  if (info.partialsChecksums !== undefined) p.partialsChecksums = [...info.partialsChecksums];
  return p;
}

/** Rebuilds the offer from a journal entry (to resume it). */
export function infoFromPending(p: JournalPendingUpdate): UpdateInfo {
  const info: UpdateInfo = { firmwareUrl: new URL(p.firmwareUrl), firmwareMeta: { ...p.firmwareMeta }, raw: {} };
  if (p.size !== undefined) info.size = p.size;
  if (p.checksum !== undefined) info.checksum = p.checksum;
  if (p.partialsChecksums !== undefined) info.partialsChecksums = [...p.partialsChecksums];
  return info;
}
