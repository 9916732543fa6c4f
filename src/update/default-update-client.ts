import type { UpdateInfo } from '../protocol/update-info.js';
import type { UpdateClient, UpdateDecision } from './update-client.js';

/**
 * Options of {@link createDefaultUpdateClient}.
 *
 * @example
 * ```ts
 * const options: DefaultUpdateClientOptions = { currentFirmwareUuid: () => readRunningUuid(), reboot: () => void execFileSync('reboot') };
 * ```
 * @category Updates
 */
export interface DefaultUpdateClientOptions {
  /**
   * UUID of the running firmware (fwup `meta-uuid`, Nerves' `nerves_fw_uuid`), or a function
   * returning it (read at every offer).
   */
  currentFirmwareUuid: string | (() => string | null | undefined);
  /**
   * What to answer when the offered firmware is the running one. Default `{ action: 'ignore',
   * reason: … }` (see the trade-off in {@link createDefaultUpdateClient}).
   */
  whenAlreadyRunning?: UpdateDecision;
  /** Reboot hook used after a completed update and on the server's `reboot` (none by default). */
  reboot?: () => void | Promise<void>;
}

/**
 * The default app behaviour, like nerves_hub_link's `NervesHubLink.Client.Default`: apply every
 * offered update, except the firmware that is already running, which is ignored.
 *
 * Trade-off of `ignore` for the running firmware: NervesHub puts a deployment-driven device in its
 * penalty box for `penalty_timeout_minutes` (24 h by default) when it reports `ignored`, so the
 * NEXT release rolled out to this device's deployment waits up to a day. The alternatives are
 * worse by default: `apply` re-flashes identical firmware and reboots (flash wear, downtime, and
 * a loop if the server's view of the device stays stale), and `reschedule` is read by today's
 * server as milliseconds, so the same offer comes back almost at once. The server only offers
 * the running firmware when its record of the device is stale (e.g. the join metadata was wrong)
 * or on a manual push, so the penalty is rare; pass `whenAlreadyRunning` to choose differently.
 *
 * @example
 * ```ts
 * const client = createDefaultUpdateClient({
 *   currentFirmwareUuid: process.env.NERVES_FW_UUID ?? '',
 *   reboot: () => void execFileSync('reboot'),
 * });
 * ```
 * @category Updates
 */
export function createDefaultUpdateClient(options: DefaultUpdateClientOptions): UpdateClient {
  const current = options.currentFirmwareUuid;
  const whenAlreadyRunning = options.whenAlreadyRunning;
  const client: UpdateClient = {
    updateAvailable(info: UpdateInfo): UpdateDecision {
      const running = typeof current === 'function' ? current() : current;
      if (typeof running === 'string' && running.length > 0 && running === info.firmwareMeta.uuid) {
        return whenAlreadyRunning ?? { action: 'ignore', reason: `firmware ${running} is already running` };
      }
      return { action: 'apply' };
    },
  };
  if (options.reboot) client.reboot = options.reboot;
  return client;
}
