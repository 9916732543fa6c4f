/** Stage of a `fwup_progress` report. */
export type ProgressStage = 'downloading' | 'updating';

/**
 * An update status the device reports with `status_update` (nerves_hub_link ≥ 2.9 payloads).
 * `delayForMinutes` is minutes (minimum 5), as nerves_hub_link sends it; note that
 * nerves_hub_web currently reads it as milliseconds (see README, "rescheduled").
 */
export type UpdateStatus =
  | { status: 'received' }
  | { status: 'started'; downloaderNetworkInterface: string | null }
  | { status: 'completed' }
  | { status: 'ignored'; reason: string }
  | { status: 'rescheduled'; delayForMinutes: number; reason?: string }
  | { status: 'failed'; reason: string };

/** Reason prefixes of `failed`, exactly as nerves_hub_link words them. */
export const FailureReasons = {
  update: 'Update failed : ',
  download: 'Download failed : ',
  fwup: 'FWUP error : ',
  unexpected: 'Unexpected error : ',
  noKeys: 'Refusing unverified firmware : no public keys available',
} as const;

/** Minimum reschedule delay in minutes (nerves_hub_link). */
export const MIN_RESCHEDULE_MINUTES = 5;

/** Builds the wire payload of a `status_update` push. */
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
        delay_for: Math.max(MIN_RESCHEDULE_MINUTES, Math.round(s.delayForMinutes)),
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
 */
export interface UpdateReporter {
  /** Push `status_update`. Must not throw; a disconnected socket may drop it. */
  sendStatus(status: UpdateStatus): void;
  /** Push `fwup_progress {stage, value}` (value 0..100, integer). */
  sendProgress(stage: ProgressStage, value: number): void;
}
