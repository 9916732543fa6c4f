import type { WireFirmwareMeta } from '../protocol/wire-firmware-meta.js';

/**
 * Where a {@link NervesHubLink} stands, in one place (nerves_hub_link's `socket_connected?/0`,
 * `connected?/0` and `status/0`).
 *
 * @example
 * ```ts
 * const { joined, updating, currentUpdate, lastError } = link.status;
 * if (updating) console.log(`installing ${currentUpdate?.version ?? currentUpdate?.uuid}`);
 * else if (!joined && lastError) console.log(`offline: ${lastError.message}`);
 * ```
 */
export interface LinkStatus {
  /** The WebSocket to NervesHub is open. */
  connected: boolean;
  /** The `device` topic is joined: the server can reach the device (nerves_hub_link's `connected?/0`). */
  joined: boolean;
  /** An accepted update is downloading or being applied (nerves_hub_link's `status/0` = `:updating`). */
  updating: boolean;
  /** Metadata of the firmware being installed, while `updating`. */
  currentUpdate?: WireFirmwareMeta;
  /** The latest error the connection reported, or that ended an update; kept until a newer one. */
  lastError?: Error;
}

/** A listener of {@link NervesHubLink.onStatusChange}. */
export type LinkStatusListener = (status: LinkStatus) => void;

/** True when two statuses differ in nothing a listener would notice. @internal */
export function sameLinkStatus(a: LinkStatus, b: LinkStatus): boolean {
  return (
    a.connected === b.connected &&
    a.joined === b.joined &&
    a.updating === b.updating &&
    a.currentUpdate?.uuid === b.currentUpdate?.uuid &&
    a.lastError === b.lastError
  );
}
