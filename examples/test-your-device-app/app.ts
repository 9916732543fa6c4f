/**
 * A tiny device app: a kiosk that plays shows and must not reboot in the middle of one. While a
 * show plays it reschedules updates; otherwise it installs them and asks for a reboot.
 * app.test.ts tests it against NervesHubTestServer.
 */
import { FileApplier, NervesHubLink } from 'nerves-hub-link';
import type { WireFirmwareMeta, Logger, SocketAuth, UpdateOutcome } from 'nerves-hub-link';

/** How the kiosk reaches NervesHub and where its firmware goes. */
export interface KioskOptions {
  url: string;
  auth: SocketAuth;
  firmware: WireFirmwareMeta;
  fwupPublicKeys?: string[];
  /** Where a verified firmware is written (a real kiosk would use `FwupApplier`). */
  targetFile: string;
  /** Server CA, for a test server. */
  serverCa?: string;
  /** True while a show is playing. */
  isPlaying: () => boolean;
  logger?: Logger;
}

/** The running kiosk. */
export interface Kiosk {
  readonly link: NervesHubLink;
  /** Set when an update completed and the kiosk wants to reboot into it. */
  readonly rebootRequested: boolean;
  /** Resolves with the outcome of the next update offer. */
  nextUpdateOutcome(): Promise<UpdateOutcome>;
  stop(): Promise<void>;
}

/** Minutes to wait when an offer arrives during a show. */
export const SHOW_RESCHEDULE_MINUTES = 15;

/** Starts the kiosk's NervesHub connection. */
export function startKiosk(options: KioskOptions): Kiosk {
  let rebootRequested = false;
  const link = new NervesHubLink({
    socket: {
      url: options.url,
      auth: options.auth,
      firmware: options.firmware,
      fwupPublicKeys: options.fwupPublicKeys ?? [],
      ...(options.serverCa ? { tls: { ca: options.serverCa } } : {}),
    },
    client: {
      updateAvailable: () =>
        options.isPlaying()
          ? { action: 'reschedule', delayMinutes: SHOW_RESCHEDULE_MINUTES, reason: 'a show is playing' }
          : { action: 'apply' },
      reboot: () => void (rebootRequested = true),
    },
    applier: new FileApplier({ path: options.targetFile }),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const waiting: Array<(o: UpdateOutcome) => void> = [];
  link.onUpdateOutcome((outcome) => waiting.shift()?.(outcome));
  link.start();
  return {
    link,
    get rebootRequested() {
      return rebootRequested;
    },
    nextUpdateOutcome: () => new Promise((resolve) => waiting.push(resolve)),
    stop: () => link.stop(),
  };
}
