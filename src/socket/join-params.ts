import { CONSOLE_VERSION, DEVICE_API_VERSION } from '../protocol/constants.js';
import type { ResolvedSocketOptions } from './options.js';
import type { WireFirmwareMeta } from '../protocol/wire-firmware-meta.js';
import { WIRE_FIRMWARE_META_KEYS } from '../protocol/wire-firmware-meta.js';

/** Inputs of one `device` join, read at (re)join time. @internal */
export interface JoinParamInputs {
  firmware: WireFirmwareMeta;
  fwupVersion: string | undefined;
  requestFwupKeys: boolean;
  requestArchiveKeys: boolean;
  currentlyDownloadingUuid: string | null;
  firmwareValidated: boolean;
  firmwareAutoRevertDetected: boolean;
  extra: Record<string, unknown>;
}

/**
 * Builds the `device` topic join payload as nerves_hub_link sends it: the running firmware's `nerves_fw_*`
 * keys, `fwup_version`, API/console versions, key requests, `currently_downloading_uuid` and
 * `meta`. Extra params come first so they can never override the SDK's keys; extra key requests
 * (`fwup_public_keys` / `archive_public_keys`) are dropped.
 * @internal
 */
export function buildJoinParams(i: JoinParamInputs): Record<string, unknown> {
  const params: Record<string, unknown> = { ...i.extra };
  // asking for server keys is the SDK's decision (it decides which pushes it accepts)
  delete params.fwup_public_keys;
  delete params.archive_public_keys;
  for (const key of WIRE_FIRMWARE_META_KEYS) {
    const v = i.firmware[key];
    if (typeof v === 'string') params[`nerves_fw_${key}`] = v;
  }
  if (i.fwupVersion !== undefined) params.fwup_version = i.fwupVersion;
  params.device_api_version = DEVICE_API_VERSION;
  params.console_version = CONSOLE_VERSION;
  if (i.requestFwupKeys) params.fwup_public_keys = 'on_connect';
  if (i.requestArchiveKeys) params.archive_public_keys = 'on_connect';
  params.currently_downloading_uuid = i.currentlyDownloadingUuid;
  params.meta = { firmware_validated: i.firmwareValidated, firmware_auto_revert_detected: i.firmwareAutoRevertDetected };
  return params;
}

/** Calls an app flag callback; a throw or a non-boolean gives `fallback`. @internal */
export function readFlag(fn: (() => boolean) | undefined, fallback: boolean, onError: (e: unknown) => void): boolean {
  if (!fn) return fallback;
  try {
    const v: unknown = fn();
    return typeof v === 'boolean' ? v : fallback;
  } catch (error) {
    onError(error);
    return fallback;
  }
}

/**
 * Reads the app callbacks for one (re)join (each isolated: a throw gives its default and is
 * reported) and builds the params.
 * @internal
 */
export function readJoinParams(
  o: ResolvedSocketOptions,
  state: { firmware: WireFirmwareMeta | undefined; fwupVersion: string | undefined; markedValidated: boolean },
  onCallbackError: (name: string, error: unknown) => void,
): { params: Record<string, unknown>; firmwareValidated: boolean; keysRequested: { fwup: boolean; archive: boolean } } {
  const validated = state.markedValidated || readFlag(o.firmwareValidated, true, (e) => onCallbackError('firmwareValidated', e));
  let extra: Record<string, unknown> = {};
  try {
    const e = o.extraJoinParams?.();
    if (typeof e === 'object' && e !== null && !Array.isArray(e)) extra = e;
  } catch (error) {
    onCallbackError('extraJoinParams', error);
  }
  let downloading: string | null = null;
  try {
    const d = o.currentlyDownloadingUuid?.();
    downloading = typeof d === 'string' && d !== '' ? d : null;
  } catch (error) {
    onCallbackError('currentlyDownloadingUuid', error);
  }
  const keysRequested = {
    fwup: o.fwupPublicKeys.length === 0 || o.requestFwupPublicKeys,
    archive: o.requestArchivePublicKeys || (o.archivePublicKeys.length === 0 && o.fwupPublicKeys.length === 0),
  };
  const params = buildJoinParams({
    firmware: state.firmware ?? { uuid: '' },
    fwupVersion: state.fwupVersion,
    requestFwupKeys: keysRequested.fwup,
    requestArchiveKeys: keysRequested.archive,
    currentlyDownloadingUuid: downloading,
    firmwareValidated: validated,
    firmwareAutoRevertDetected: readFlag(o.firmwareAutoRevertDetected, false, (e) => onCallbackError('firmwareAutoRevertDetected', e)),
    extra,
  });
  return { params, firmwareValidated: validated, keysRequested };
}
