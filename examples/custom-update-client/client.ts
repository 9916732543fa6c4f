/**
 * An UpdateClient that only installs inside a maintenance window and only with the user's consent,
 * and that shows progress. This file is the lesson; main.ts wires it to a device.
 */
import { MIN_RESCHEDULE_MINUTES } from 'nerves-hub-link';
import type { FwupMessage, UpdateClient, UpdateDecision, UpdateInfo } from 'nerves-hub-link';

/** A daily window in local time, e.g. 02:00–04:00. `endHour` may be smaller than `startHour` (crosses midnight). */
export interface MaintenanceWindow {
  startHour: number;
  endHour: number;
}

/** Options of {@link createMaintenanceWindowClient}. */
export interface MaintenanceWindowClientOptions {
  /** UUID of the running firmware: offers of it are ignored. */
  currentFirmwareUuid: string;
  window: MaintenanceWindow;
  /**
   * Ask the user (a screen, a button, a companion app…). Resolve `true` to install. The answer must
   * come well before the UpdateManager's `decisionTimeoutMs` (default 60 s): a decision that takes
   * longer counts as `ignore`. {@link consentTimeoutMs} guards that.
   */
  askUser: (info: UpdateInfo) => Promise<boolean>;
  /** No answer after this long → reschedule (ask again later). Default 30 000. */
  consentTimeoutMs?: number;
  /** How long to wait after no answer (minutes, ≥ 5). Default 60. */
  retryAfterNoAnswerMinutes?: number;
  /** Progress for a display. */
  onProgress?: (stage: 'downloading' | 'updating', percent: number) => void;
  /** Reboot into the new firmware. */
  reboot: () => void | Promise<void>;
  /** The clock (tests pass a fixed time). Default `() => new Date()`. */
  now?: () => Date;
}

/** Whole minutes from `now` until the window next opens; 0 when `now` is inside it. */
export function minutesUntilWindow(now: Date, window: MaintenanceWindow): number {
  const minuteOfDay = now.getHours() * 60 + now.getMinutes();
  const start = window.startHour * 60;
  const end = window.endHour * 60;
  const inside = start <= end ? minuteOfDay >= start && minuteOfDay < end : minuteOfDay >= start || minuteOfDay < end;
  if (inside) return 0;
  return (start - minuteOfDay + 24 * 60) % (24 * 60);
}

/**
 * The decision logic, in order:
 * 1. the offered firmware is already running → `ignore`;
 * 2. outside the maintenance window → `reschedule` until it opens (at least 5 minutes, the protocol minimum);
 * 3. ask the user: yes → `apply`; no → `ignore` with the reason (NervesHub shows it and, for a
 *    deployment, waits its penalty time before offering again); no answer in time → `reschedule`.
 */
export function createMaintenanceWindowClient(options: MaintenanceWindowClientOptions): UpdateClient {
  const now = options.now ?? (() => new Date());
  const consentTimeoutMs = options.consentTimeoutMs ?? 30_000;
  const retryMinutes = Math.max(MIN_RESCHEDULE_MINUTES, options.retryAfterNoAnswerMinutes ?? 60);
  return {
    async updateAvailable(info: UpdateInfo): Promise<UpdateDecision> {
      if (info.firmwareMeta.uuid === options.currentFirmwareUuid) {
        return { action: 'ignore', reason: 'this firmware is already running' };
      }
      const wait = minutesUntilWindow(now(), options.window);
      if (wait > 0) {
        return { action: 'reschedule', delayMinutes: Math.max(MIN_RESCHEDULE_MINUTES, wait), reason: 'outside the maintenance window' };
      }
      const answer = await answerWithin(options.askUser(info), consentTimeoutMs);
      if (answer === 'timeout') return { action: 'reschedule', delayMinutes: retryMinutes, reason: 'the user did not answer' };
      return answer ? { action: 'apply' } : { action: 'ignore', reason: 'declined by the user' };
    },
    onProgress(stage, percent) {
      options.onProgress?.(stage, percent);
    },
    onFwupMessage(message: FwupMessage) {
      if (message.type === 'warning' || message.type === 'error') console.warn(`fwup ${message.type}: ${message.message}`);
    },
    reboot: options.reboot,
  };
}

async function answerWithin(answer: Promise<boolean>, ms: number): Promise<boolean | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  try {
    // A rejected consent prompt counts as "no".
    return await Promise.race([answer.catch(() => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
