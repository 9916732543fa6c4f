import { createBlake2b256 } from './blake2b.js';

// fwup's namespace UUID 2053dffb-d51e-4310-b93b-956da89f9f34, hashed in front of meta.conf.
const FWUP_NAMESPACE = Uint8Array.from([
  0x20, 0x53, 0xdf, 0xfb, 0xd5, 0x1e, 0x43, 0x10, 0xb9, 0x3b, 0x95, 0x6d, 0xa8, 0x9f, 0x9f, 0x34,
]);

/**
 * Computes fwup's `meta-uuid` for meta.conf bytes: BLAKE2b-256 over the namespace UUID and the
 * bytes, first 16 bytes, version nibble 5, printed as lowercase 8-4-4-4-12 hex.
 *
 * @example
 * ```ts
 * const uuid = await computeFirmwareUuid(metaConfBytes); // e.g. "1004c0a7-a4e7-5094-9409-8ce6ffaa3993"
 * ```
 */
export async function computeFirmwareUuid(metaConf: Uint8Array): Promise<string> {
  const hasher = await createBlake2b256();
  hasher.update(FWUP_NAMESPACE);
  hasher.update(metaConf);
  return uuidFromDigest(hasher.digestBytes());
}

/** Turns a BLAKE2b digest of namespace + meta.conf into fwup's UUID text. */
export function uuidFromDigest(digest: Uint8Array): string {
  const bytes = new Uint8Array(digest.subarray(0, 16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The namespace bytes (exported for the checker, which hashes with an existing hasher). */
export const FWUP_UUID_NAMESPACE: Uint8Array = FWUP_NAMESPACE;
