import { WIRE_FIRMWARE_META_KEYS } from '../../protocol/wire-firmware-meta.js';
import type { UpdateOffer, UpdatePayload } from './types.js';

/**
 * Builds the `update` payload exactly like nerves_hub_web's `UpdatePayload` JSON encoding: the
 * seven whitelisted fields, `firmware_meta` with every metadata key (missing ones `null`).
 */
export function buildUpdatePayload(offer: UpdateOffer): UpdatePayload {
  const meta: Record<string, string | null> = {};
  const source = offer.firmwareMeta as unknown as Record<string, unknown>;
  for (const key of WIRE_FIRMWARE_META_KEYS) {
    const value = source[key];
    meta[key] = typeof value === 'string' ? value : null;
  }
  return {
    update_available: true,
    firmware_url: offer.firmwareUrl,
    firmware_meta: meta,
    size: offer.size ?? null,
    checksum: offer.checksum ?? null,
    partials_checksums: offer.partialsChecksums ?? null,
    deployment_id: offer.deploymentId ?? null,
  };
}
