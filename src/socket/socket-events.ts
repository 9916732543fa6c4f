import type { NervesHubError } from '../errors.js';
import type { ArchiveInfo } from '../protocol/archive-info.js';
import type { ScriptRunRequest } from '../protocol/server-messages.js';
import type { UpdateInfo } from '../protocol/update-info.js';

/**
 * Payload of the `connected` event.
 *
 * @example
 * ```ts
 * socket.on('connected', ({ joinCount }) => console.log(joinCount === 1 ? 'connected' : 'rejoined'));
 * ```
 */
export interface ConnectedInfo {
  /** How many times the `device` topic has been joined since `connect()` (1 for the first join). */
  joinCount: number;
}

/**
 * Payload of the `disconnected` event.
 *
 * @example
 * ```ts
 * socket.on('disconnected', ({ reason, willRetryInMs }) => console.log(`offline (${reason}), retry in ${willRetryInMs} ms`));
 * ```
 */
export interface DisconnectedInfo {
  /** Why (an error code such as `NH_SOCKET_UNAUTHORIZED`, `heartbeat_timeout`, `closed (code 1000)`, `closed by the app`). */
  reason: string;
  /** When the next attempt starts, or `null` when the socket will not retry (after `close()`). */
  willRetryInMs: number | null;
}

/**
 * Payload of the `reconnecting` event.
 *
 * @example
 * ```ts
 * socket.on('reconnecting', ({ failures }) => { if (failures > 10) showOfflineIcon(); });
 * ```
 */
export interface ReconnectingInfo {
  /** Consecutive failed attempts before this one. */
  failures: number;
}

/**
 * Payload of the `invalidMessage` event: a frame or payload that was dropped. Its strings quote
 * the server, escaped and bounded (see `sanitizeForLog`), so they can be logged as they are.
 *
 * @example
 * ```ts
 * socket.on('invalidMessage', ({ event, reason }) => logger.log('warn', `dropped ${event ?? 'frame'}: ${reason}`));
 * ```
 */
export interface InvalidMessageInfo {
  /** Topic of the frame, when it could be read. */
  topic?: string;
  /** Event of the frame, when it could be read. */
  event?: string;
  /** Why it was dropped. */
  reason: string;
}

/**
 * Every event of {@link NervesHubSocket}, with its listener arguments. SDK event names are
 * camelCase; the wire name of a server message is given where it differs.
 * @category Connection
 */
export type NervesHubSocketEvents = {
  /** The `device` topic was joined (after every connect and rejoin). */
  connected: [info: ConnectedInfo];
  /** The connection (or an attempt) ended. */
  disconnected: [info: DisconnectedInfo];
  /** A new connection attempt starts. */
  reconnecting: [info: ReconnectingInfo];
  /** Something failed; the socket keeps retrying where that can help. */
  error: [error: NervesHubError];
  /** A malformed or unknown message was dropped. */
  invalidMessage: [info: InvalidMessageInfo];
  /** `update`: a validated firmware offer. */
  update: [info: UpdateInfo];
  /** `reboot`: the server asks for a reboot (`rebooting` was already pushed). */
  reboot: [];
  /** `identify`: blink an LED or similar. */
  identify: [];
  /** `archive`: a validated archive offer. */
  archive: [info: ArchiveInfo];
  /** `fwup_public_keys` on the wire: the keys now used for the next update. */
  fwupPublicKeys: [keys: string[]];
  /** `archive_public_keys` on the wire: the keys now used for archives. */
  archivePublicKeys: [keys: string[]];
  /** `scripts/run` on the wire: answer with {@link NervesHubSocket.replyScript}. Without a listener the device refuses. */
  scriptsRun: [request: ScriptRunRequest];
  /** `extensions:get` on the wire: the server invites the device to join the `extensions` topic. */
  extensionsGet: [];
};
