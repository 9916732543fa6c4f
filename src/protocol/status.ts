/** Stage of a `fwup_progress` report. */
export type ProgressStage = 'downloading' | 'updating';

/**
 * An update status the device reports with `status_update` (nerves_hub_link ≥ 2.9 payloads).
 * `delayMinutes` is minutes (minimum 5), as nerves_hub_link sends it; note that
 * nerves_hub_web currently reads it as milliseconds (see README, "rescheduled").
 */
export type UpdateStatus =
  | {
      /** The offer arrived; the app is being asked. */
      status: 'received';
    }
  | {
      /** A download (re)started; sent at every downloader (re)connect. */
      status: 'started';
      /** Network interface of the download (e.g. `wlan0`), or `null` when unknown. */
      downloaderNetworkInterface: string | null;
    }
  | {
      /** The firmware is applied; the device reboots next. */
      status: 'completed';
    }
  | {
      /** The app declined the update. */
      status: 'ignored';
      /** Why (shown in NervesHub). */
      reason: string;
    }
  | {
      /** The app wants the offer again later. */
      status: 'rescheduled';
      /** Minutes to wait (sent as `delay_for`, minimum 5). */
      delayMinutes: number;
      /** Why, when the app said. */
      reason?: string;
    }
  | {
      /** The update failed. */
      status: 'failed';
      /** A {@link FailureReasons} prefix and the details. */
      reason: string;
    };

/** Reason prefixes of `failed`, exactly as nerves_hub_link words them. */
export const FailureReasons = {
  /** Verification, decision or applier failures other than fwup's own. */
  update: 'Update failed : ',
  /** Download failures (`NH_DOWNLOAD_*`). */
  download: 'Download failed : ',
  /** fwup reported an error (`NH_FWUP_*`). */
  fwup: 'FWUP error : ',
  /** Anything that is not a `NervesHubError`. */
  unexpected: 'Unexpected error : ',
  /** The whole reason when no public keys are known (the update is refused). */
  noKeys: 'Refusing unverified firmware : no public keys available',
} as const;

/**
 * Minimum reschedule delay in minutes (nerves_hub_link).
 *
 * @category Updates
 */
export const MIN_RESCHEDULE_MINUTES = 5;

/**
 * Builds the wire payload of a `status_update` push.
 *
 * @example
 * ```ts
 * statusUpdatePayload({ status: 'rescheduled', delayMinutes: 2 }); // { status: 'rescheduled', delay_for: 5 }
 * ```
 */
export function statusUpdatePayload(s: UpdateStatus): Record<string, unknown> {
  switch (s.status) {
    case 'received':
    case 'completed':
      return { status: s.status };
    case 'started':
      return { status: 'started', downloader_network_interface: s.downloaderNetworkInterface };
    case 'ignored':
      return { status: 'ignored', reason: s.reason };
    case 'rescheduled': {
      const p: Record<string, unknown> = {
        status: 'rescheduled',
        delay_for: Math.max(MIN_RESCHEDULE_MINUTES, Math.round(s.delayMinutes)),
      };
      if (s.reason !== undefined) p.reason = s.reason;
      return p;
    }
    case 'failed':
      return { status: 'failed', reason: s.reason };
  }
}

/**
 * What the update machinery needs from the connection to report to NervesHub. The
 * `NervesHubSocket` implements it; the update manager never imports the socket.
 *
 * @example
 * ```ts
 * const reporter: UpdateReporter = {
 *   sendStatus: (status) => console.log('status', statusUpdatePayload(status)),
 *   sendProgress: (stage, value) => console.log(stage, value),
 * };
 * ```
 */
export interface UpdateReporter {
  /** Push `status_update`. Must not throw; a disconnected socket may drop it. */
  sendStatus(status: UpdateStatus): void;
  /** Push `fwup_progress {stage, value}` (value 0..100, integer). */
  sendProgress(stage: ProgressStage, value: number): void;
}
