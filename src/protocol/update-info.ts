import type { WireFirmwareMeta } from './wire-firmware-meta.js';
import { WIRE_FIRMWARE_META_KEYS } from './wire-firmware-meta.js';
import type { ParseResult } from './parse-result.js';
import { isRecord, optionalString } from './parse-result.js';

/**
 * A firmware update offered by NervesHub (the `update` event), validated.
 *
 * @example
 * ```ts
 * socket.on('update', (info: UpdateInfo) => console.log(info.firmwareMeta.version, info.size));
 * ```
 * @category Connection
 */
export interface UpdateInfo {
  /** Where to download the firmware (often presigned; never log its query). */
  firmwareUrl: URL;
  /** The firmware being offered. */
  firmwareMeta: WireFirmwareMeta;
  /** Size in bytes of the file at `firmwareUrl`, when the server sends it. */
  size?: number;
  /** SHA-256 of the whole file, lowercase hex, when the server sends it. */
  checksum?: string;
  /** SHA-256 of each 1 MiB part, lowercase hex, when the server sends them. */
  partialsChecksums?: string[];
  /** Deployment group id, `null` for manual pushes. */
  deploymentId?: number | string | null;
  /** The raw payload, as received. */
  raw: Record<string, unknown>;
}

const HEX64 = /^[0-9a-fA-F]{64}$/;

/**
 * True for NervesHub's "no update" answer: an `update` with `update_available: false` (sent with
 * `firmware_url` and `firmware_meta` null). It is not an offer and not a malformed message.
 *
 * @example
 * ```ts
 * function onUpdate(payload: unknown): void {
 *   if (isNoUpdateMessage(payload)) return; // nothing to install
 *   const parsed = parseUpdateInfo(payload);
 *   if (parsed.ok) void manager.handleUpdate(parsed.value);
 * }
 * ```
 */
export function isNoUpdateMessage(payload: unknown): boolean {
  return isRecord(payload) && payload.update_available === false;
}

/**
 * Validates an `update` payload. Needs `firmware_url` (http/https) and `firmware_meta` with a
 * `uuid`; `update_available: false` is refused: it is no offer (see {@link isNoUpdateMessage}).
 *
 * @example
 * ```ts
 * const parsed = parseUpdateInfo(payload);
 * if (parsed.ok) await manager.handleUpdate(parsed.value);
 * else logger.log('warn', `bad update payload: ${parsed.error}`);
 * ```
 */
export function parseUpdateInfo(payload: unknown): ParseResult<UpdateInfo> {
  if (!isRecord(payload)) return { ok: false, error: 'update payload is not an object' };
  if (payload.update_available === false) return { ok: false, error: 'update_available is false' };
  const rawUrl = payload.firmware_url;
  if (typeof rawUrl !== 'string' || rawUrl.length === 0) return { ok: false, error: 'firmware_url missing' };
  let firmwareUrl: URL;
  try {
    firmwareUrl = new URL(rawUrl);
  } catch {
    return { ok: false, error: 'firmware_url is not a URL' };
  }
  if (firmwareUrl.protocol !== 'https:' && firmwareUrl.protocol !== 'http:') {
    return { ok: false, error: `firmware_url scheme ${firmwareUrl.protocol} is not http(s)` };
  }
  const metaRaw = payload.firmware_meta;
  if (!isRecord(metaRaw)) return { ok: false, error: 'firmware_meta missing' };
  const meta: Record<string, string | null | undefined> = {};
  for (const key of WIRE_FIRMWARE_META_KEYS) {
    const v = optionalString(metaRaw, key);
    if (v instanceof Error) return { ok: false, error: `firmware_meta.${v.message.slice(1)}` };
    if (v !== undefined) meta[key] = v;
  }
  if (typeof meta.uuid !== 'string' || meta.uuid.length === 0) return { ok: false, error: 'firmware_meta.uuid missing' };

  const info: UpdateInfo = { firmwareUrl, firmwareMeta: meta as unknown as WireFirmwareMeta, raw: payload };
  if (payload.size !== undefined && payload.size !== null) {
    if (typeof payload.size !== 'number' || !Number.isSafeInteger(payload.size) || payload.size < 0) {
      return { ok: false, error: 'size must be a non-negative integer' };
    }
    info.size = payload.size;
  }
  if (payload.checksum !== undefined && payload.checksum !== null) {
    if (typeof payload.checksum !== 'string' || !HEX64.test(payload.checksum)) {
      return { ok: false, error: 'checksum must be 64 hex digits' };
    }
    info.checksum = payload.checksum.toLowerCase();
  }
  if (payload.partials_checksums !== undefined && payload.partials_checksums !== null) {
    const p = payload.partials_checksums;
    if (!Array.isArray(p) || !p.every((c): c is string => typeof c === 'string' && HEX64.test(c))) {
      return { ok: false, error: 'partials_checksums must be a list of 64-hex-digit strings' };
    }
    info.partialsChecksums = p.map((c) => c.toLowerCase());
  }
  const dep = payload.deployment_id;
  if (dep !== undefined) {
    if (dep !== null && typeof dep !== 'number' && typeof dep !== 'string') {
      return { ok: false, error: 'deployment_id must be a number, string or null' };
    }
    info.deploymentId = dep;
  }
  return { ok: true, value: info };
}
