import type { UpdateInfo } from '../protocol/update-info.js';

/**
 * The app's answer to an offered update.
 * - `apply`: download, verify and apply now.
 * - `ignore`: report `ignored` (NervesHub then blocks deployment updates to this device for its
 *   penalty time, 24 h by default).
 * - `reschedule`: report `rescheduled` with `delayMinutes` (minimum 5) so the server offers it again later.
 * @category Updates
 */
export type UpdateDecision =
  | {
      /** Download, verify and apply now. */
      action: 'apply';
    }
  | {
      /** Decline; reported `ignored`. */
      action: 'ignore';
      /** Shown in NervesHub (default: a generic reason). */
      reason?: string;
    }
  | {
      /** Ask for the offer again later; reported `rescheduled`. */
      action: 'reschedule';
      /** Minutes to wait (values below 5 become 5). */
      delayMinutes: number;
      /** Shown in NervesHub. */
      reason?: string;
    };

/**
 * A message from the applier (fwup's framing, or the SDK's own appliers).
 *
 * @category Updates
 */
export type FwupMessage =
  | {
      /** Apply progress. */
      type: 'progress';
      /** 0..100. */
      percent: number;
    }
  | {
      /** A warning (fwup `WN`). */
      type: 'warning';
      /** The warning text. */
      message: string;
    }
  | {
      /** An error (fwup `ER`); the apply fails. */
      type: 'error';
      /** The error text. */
      message: string;
    }
  | {
      /** Success (fwup `OK`). */
      type: 'ok';
      /** The success text. */
      message: string;
    };

/**
 * The app's behaviour: how it decides about updates and reacts to server requests. Every method is
 * optional except `updateAvailable`; every call is guarded by a timeout and try/catch, so a throwing or
 * hanging callback never wedges the SDK (a failed or unintelligible decision means `ignore`).
 *
 * @example
 * ```ts
 * const client: UpdateClient = {
 *   async updateAvailable(info) {
 *     return inMaintenanceWindow() ? { action: 'apply' } : { action: 'reschedule', delayMinutes: 60, reason: 'outside window' };
 *   },
 *   async reboot() { rebootTheDevice(); },
 * };
 * ```
 * @category Updates
 */
export interface UpdateClient {
  /** Decide about an offered update. */
  updateAvailable(info: UpdateInfo): UpdateDecision | Promise<UpdateDecision>;
  /** Progress of download (`downloading`) or apply (`updating`), 0..100. */
  onProgress?(stage: 'downloading' | 'updating', percent: number): void | Promise<void>;
  /** Every message from the applier (fwup). */
  onFwupMessage?(message: FwupMessage): void | Promise<void>;
  /** An error the SDK could not handle by itself (connection or update). */
  onError?(error: Error): void | Promise<void>;
  /** Reboot the device: after a completed update and on the server's `reboot`. */
  reboot?(): void | Promise<void>;
  /** The server asked the device to identify itself (blink an LED…). */
  identify?(): void | Promise<void>;
  /** Whether the running firmware is validated (join `meta.firmware_validated`). Default true. */
  firmwareValidated?(): boolean | Promise<boolean>;
  /** Whether an automatic revert was detected (join `meta.firmware_auto_revert_detected`). Default false. */
  firmwareAutoRevertDetected?(): boolean | Promise<boolean>;
  /** Called after every successful join of the `device` topic. */
  connected?(): void | Promise<void>;
  /**
   * Delays (ms) for the next reconnect cycle; return `undefined` for the SDK's jittered default.
   * Called at every disconnect, like nerves_hub_link's `reconnect_backoff/0`.
   */
  reconnectBackoff?(): number[] | undefined | Promise<number[] | undefined>;
}
