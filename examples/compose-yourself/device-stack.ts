/**
 * The parts wired by hand — what `NervesHubLink` does for you, spelled out so you can put each
 * part under your own supervision: one NervesHubSocket, one UpdateManager, one applier.
 */
import { NervesHubSocket } from 'nerves-hub-link';
import type { FirmwareApplier, Logger, NervesHubSocketOptions, UpdateClient, UpdateOutcome } from 'nerves-hub-link';
import { Downloader, UpdateManager } from 'nerves-hub-link/advanced';

/** What one incarnation of the stack needs. */
export interface DeviceStackConfig {
  /** Connection settings (URL, auth, running firmware, keys, TLS). */
  socket: Omit<NervesHubSocketOptions, 'currentlyDownloadingUuid' | 'logger'>;
  applier: FirmwareApplier;
  /** Journal + download cache: an interrupted download resumes from here after a restart. */
  stateDir: string;
  /** Extra CA for firmware downloads (test servers only). */
  downloadCa?: string;
  /** Called with every update outcome. */
  onOutcome?: (outcome: UpdateOutcome) => void;
  /** Reboot hook after a completed update. */
  reboot?: () => void | Promise<void>;
  logger?: Logger;
}

/** One running incarnation. `stop()` leaves a cached download resumable by the next one. */
export interface DeviceStack {
  readonly socket: NervesHubSocket;
  readonly updates: UpdateManager;
  /** `Date.now()` of the last sign of life of a running update (decision or progress). */
  readonly lastUpdateActivityAt: number;
  start(): void;
  stop(): Promise<void>;
}

/** Builds socket + update manager and wires them like nerves_hub_link does. */
export function createDeviceStack(config: DeviceStackConfig): DeviceStack {
  let lastUpdateActivityAt = Date.now();
  const touch = (): void => void (lastUpdateActivityAt = Date.now());
  const client: UpdateClient = {
    updateAvailable: () => {
      touch();
      return { action: 'apply' };
    },
    onProgress: touch,
    ...(config.reboot ? { reboot: config.reboot } : {}),
  };
  // The socket asks the manager which UUID is in flight when it (re)joins; the manager is built
  // just below, so the callback reads it late.
  const late: { updates?: UpdateManager } = {};
  const socket = new NervesHubSocket({
    ...config.socket,
    currentlyDownloadingUuid: () => late.updates?.currentlyDownloadingUuid ?? null,
    ...(config.logger ? { logger: config.logger } : {}),
  });
  const manager = new UpdateManager({
    client,
    reporter: socket, // statuses and progress go out on the socket
    applier: config.applier,
    publicKeys: () => socket.fwupPublicKeys, // configured keys, or those the server sent at join
    strategy: 'cached',
    stateDir: config.stateDir,
    ...(config.downloadCa ? { downloader: new Downloader({ ca: config.downloadCa }) } : {}),
    progressIntervalMs: 100,
    ...(config.logger ? { logger: config.logger } : {}),
  });
  late.updates = manager;
  const report = (outcome: UpdateOutcome | null): void => {
    if (outcome) config.onOutcome?.(outcome);
  };
  socket.on('update', (info) => void manager.handleUpdate(info).then(report));
  let resumed = false;
  socket.on('connected', () => {
    // Once per incarnation, after the join (keys known, statuses reach the server): finish what
    // the previous incarnation left half-downloaded.
    if (resumed) return;
    resumed = true;
    touch();
    void manager.resumeFromJournal().then(report);
  });
  return {
    socket,
    updates: manager,
    get lastUpdateActivityAt() {
      return lastUpdateActivityAt;
    },
    start: () => socket.connect(),
    async stop() {
      await manager.close(); // aborts a running update; nothing is reported for it
      await socket.close();
    },
  };
}
