import { createPublicKey, verify, type KeyObject } from 'node:crypto';

// node:crypto rather than @noble/ed25519: this is one verify per archive, OpenSSL's Ed25519 is
// RFC 8032 like fwup's Monocypher (both reject non-canonical S), it needs no SHA-512 hook and is
// native, so nothing has to be configured or bundled for it.
const SPKI_ED25519_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

/** Length of an Ed25519 signature (fwup's `meta.conf.ed25519`). */
export const ED25519_SIGNATURE_LENGTH = 64;

/** Wraps a raw 32-byte Ed25519 public key into a node:crypto key object. */
export function ed25519KeyObject(rawKey: Uint8Array): KeyObject {
  const der = new Uint8Array(SPKI_ED25519_PREFIX.length + rawKey.length);
  der.set(SPKI_ED25519_PREFIX, 0);
  der.set(rawKey, SPKI_ED25519_PREFIX.length);
  return createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
}

/** True when `signature` is a valid Ed25519 signature of `message` by any of `keys`. */
export function verifyWithAnyKey(message: Uint8Array, signature: Uint8Array, keys: readonly KeyObject[]): boolean {
  if (signature.length !== ED25519_SIGNATURE_LENGTH) return false;
  for (const key of keys) {
    try {
      if (verify(null, message, key, signature)) return true;
    } catch {
      // A key OpenSSL cannot use simply does not verify.
    }
  }
  return false;
}
