import { parseArchiveInfo } from '../protocol/archive-info.js';
import { ServerEvents } from '../protocol/constants.js';
import { parseEmptyMessage, parsePublicKeysMessage, parseScriptRunRequest } from '../protocol/server-messages.js';
import { parseUpdateInfo } from '../protocol/update-info.js';
import type { NervesHubSocketEvents } from './socket-events.js';

/** The server events of the `device` topic the socket understands. @internal */
export const KNOWN_SERVER_EVENTS: ReadonlySet<string> = new Set<string>(Object.values(ServerEvents));

type ServerEventName = 'update' | 'reboot' | 'identify' | 'archive' | 'fwupPublicKeys' | 'archivePublicKeys' | 'scriptsRun' | 'extensionsGet';

/** A validated server message, ready to emit. @internal */
export type ServerEventOutcome =
  { [E in ServerEventName]: { ok: true; event: E; args: NervesHubSocketEvents[E] } }[ServerEventName] | { ok: false; reason: string };

/**
 * Validates the payload of a `device` topic server event (`update`, `reboot`, `fwup_public_keys`, …) into the typed
 * arguments of its socket event; never throws.
 * @internal
 */
export function interpretServerEvent(event: string, payload: unknown): ServerEventOutcome {
  switch (event) {
    case ServerEvents.update: {
      const r = parseUpdateInfo(payload);
      return r.ok ? { ok: true, event: 'update', args: [r.value] } : { ok: false, reason: r.error };
    }
    case ServerEvents.archive: {
      const r = parseArchiveInfo(payload);
      return r.ok ? { ok: true, event: 'archive', args: [r.value] } : { ok: false, reason: r.error };
    }
    case ServerEvents.fwupPublicKeys:
    case ServerEvents.archivePublicKeys: {
      const r = parsePublicKeysMessage(payload);
      if (!r.ok) return { ok: false, reason: `${r.error}; keeping the current keys` };
      return event === ServerEvents.fwupPublicKeys ? { ok: true, event: 'fwupPublicKeys', args: [r.value] } : { ok: true, event: 'archivePublicKeys', args: [r.value] };
    }
    case ServerEvents.scriptsRun: {
      const r = parseScriptRunRequest(payload);
      return r.ok ? { ok: true, event: 'scriptsRun', args: [r.value] } : { ok: false, reason: r.error };
    }
    case ServerEvents.reboot:
    case ServerEvents.identify:
    case ServerEvents.extensionsGet: {
      const r = parseEmptyMessage(payload);
      if (!r.ok) return { ok: false, reason: r.error };
      return { ok: true, event: event === ServerEvents.extensionsGet ? 'extensionsGet' : (event as 'reboot' | 'identify'), args: [] };
    }
    default:
      return { ok: false, reason: 'unknown event' };
  }
}
