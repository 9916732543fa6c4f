import type { Logger } from '../logging/logger.js';
import { safeLog } from '../logging/logger.js';
import type { ScriptRunRequest, ScriptRunResult } from '../protocol/server-messages.js';
import type { NervesHubSocket } from '../socket/nerves-hub-socket.js';
import type { DeviceExtension } from '../extensions/extension.js';
import { ExtensionsManager } from '../extensions/extensions-manager.js';
import type { GeoResolver } from '../extensions/geo/geo-extension.js';
import { GeoExtension } from '../extensions/geo/geo-extension.js';
import type { HealthOptions } from '../extensions/health/health-extension.js';
import { HealthExtension } from '../extensions/health/health-extension.js';
import type { ArchiveClient, ArchiveOutcome } from '../archives/archive-manager.js';
import { ArchiveManager } from '../archives/archive-manager.js';
import type { FirmwareDownloadSource } from '../update/update-ports.js';
import type { RemoteConsoleOptions } from '../console/remote-console.js';
import { RemoteConsole } from '../console/remote-console.js';

/**
 * Which extensions {@link NervesHubLink} offers NervesHub. Health and geo are on by default, as in
 * nerves_hub_link; `false` turns one off.
 *
 * @example
 * ```ts
 * const extensions: LinkExtensionsOptions = { health: { diskMount: '/data' }, geo: false };
 * ```
 */
export interface LinkExtensionsOptions {
  /** The `health` extension's options, or `false` to turn it off. */
  health?: HealthOptions | false;
  /** The `geo` extension's resolver, or `false` to turn it off (default: on, answering `NO_RESOLVER`). */
  geo?:
    | {
        /** Answers `geo:location:request`; without one the device answers `NO_RESOLVER`. */
        resolver?: GeoResolver;
      }
    | false;
  /** More extensions of the app. */
  extra?: readonly DeviceExtension[];
}

/** Answers a `scripts/run` request (no code is ever evaluated unless the app does it here). */
export type ScriptHandler = (request: ScriptRunRequest) => ScriptRunResult | Promise<ScriptRunResult>;

/** The built-in extensions per {@link LinkExtensionsOptions}. @internal */
export function linkExtensions(o: LinkExtensionsOptions | false | undefined): DeviceExtension[] {
  if (o === false) return [];
  const list: DeviceExtension[] = [];
  if (o?.health !== false) list.push(new HealthExtension(o?.health ?? {}));
  if (o?.geo !== false) list.push(new GeoExtension(o?.geo ?? {}));
  return [...list, ...(o?.extra ?? [])];
}

/**
 * Wires extensions and scripts to the socket (the console and archives are wired by their own
 * classes). @internal
 */
export function wireExtensions(socket: NervesHubSocket, options: LinkExtensionsOptions | false | undefined, logger: Logger): ExtensionsManager {
  const manager = new ExtensionsManager({ extensions: linkExtensions(options), logger });
  socket.on('extensionsGet', () => manager.join(socket));
  return manager;
}

/** Answers `scripts/run` with the app's handler (guarded); without one the socket refuses. @internal */
export function wireScripts(socket: NervesHubSocket, handler: ScriptHandler | undefined, logger: Logger): void {
  if (!handler) return;
  socket.on('scriptsRun', (request) => {
    void (async () => {
      let result: ScriptRunResult;
      try {
        result = await handler(request);
      } catch (error) {
        safeLog(logger, 'error', 'the scripts/run handler threw', { error: String(error) });
        result = { result: 'error', reason: 'exception', output: '' };
      }
      socket.replyScript(request.ref, result);
    })();
  });
}

/**
 * Archives in {@link NervesHubLink}: where they go and the app's decisions.
 *
 * @example
 * ```ts
 * const archives: LinkArchivesOptions = { dir: '/data/nerves-hub-link/archives', client: { archiveAvailable: () => 'download', archiveReady: (info, path) => installBundle(path) } };
 * ```
 */
export interface LinkArchivesOptions {
  /** Directory for partial and verified archives. */
  dir: string;
  /** `archiveAvailable` / `archiveReady`. */
  client: ArchiveClient;
}

/** Wires `archive` offers to an {@link ArchiveManager} (without options they are logged and ignored). @internal */
export function wireArchives(
  socket: NervesHubSocket,
  options: LinkArchivesOptions | undefined,
  downloader: FirmwareDownloadSource,
  logger: Logger,
  onOutcome: (outcome: ArchiveOutcome) => void,
): ArchiveManager | undefined {
  if (!options) {
    socket.on('archive', (info) => safeLog(logger, 'info', 'NervesHub offered an archive; ignored (no archives option)', { uuid: info.uuid }));
    return undefined;
  }
  const manager = new ArchiveManager({ dir: options.dir, client: options.client, downloader, publicKeys: () => socket.archivePublicKeys, logger });
  socket.on('archive', (info) => void manager.handle(info).then(onOutcome));
  return manager;
}

/** Creates the remote console and joins it after every device join (idempotent). @internal */
export function wireConsole(socket: NervesHubSocket, options: RemoteConsoleOptions | undefined, logger: Logger): RemoteConsole | undefined {
  if (!options) return undefined;
  const remote = new RemoteConsole({ logger, ...options });
  safeLog(logger, 'warn', 'remote console enabled: anyone with console rights on this NervesHub organisation can run code on this device');
  socket.on('connected', () => remote.join(socket));
  return remote;
}
