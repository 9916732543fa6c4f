import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import * as ed from '@noble/ed25519';

// Ed25519 runs on node:crypto (native OpenSSL, RFC 8032 like fwup's Monocypher, ~0.14 ms a verify).
// @noble/ed25519 is the fallback for runtimes whose OpenSSL refuses Ed25519 (FIPS builds, trimmed
// providers): a pure, audited implementation, ~1.8 ms a verify, called in its strict RFC 8032 mode
// (no ZIP-215 leniency) so both paths accept exactly the same signatures.
const SPKI_ED25519_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

/** Length of an Ed25519 signature (fwup's `meta.conf.ed25519`). */
export const ED25519_SIGNATURE_LENGTH = 64;

/** A trusted fwup public key: its 32 raw bytes, and the OpenSSL key when the runtime supports Ed25519. @internal */
export interface TrustedKey {
  readonly raw: Uint8Array;
  readonly keyObject: KeyObject | undefined;
}

/** Wraps a raw 32-byte Ed25519 public key; `keyObject` stays undefined where OpenSSL refuses Ed25519. @internal */
export function trustedKey(raw: Uint8Array): TrustedKey {
  if (raw.length !== 32) throw new TypeError('an Ed25519 public key has 32 bytes');
  const der = new Uint8Array(SPKI_ED25519_PREFIX.length + raw.length);
  der.set(SPKI_ED25519_PREFIX, 0);
  der.set(raw, SPKI_ED25519_PREFIX.length);
  let keyObject: KeyObject | undefined;
  try {
    keyObject = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
  } catch {
    keyObject = undefined;
  }
  return { raw: Uint8Array.from(raw), keyObject };
}

let nobleReady = false;
function nobleVerify(signature: Uint8Array, message: Uint8Array, raw: Uint8Array): boolean {
  if (!nobleReady) {
    ed.hashes.sha512 = (m: Uint8Array) => new Uint8Array(createHash('sha512').update(m).digest());
    nobleReady = true;
  }
  try {
    return ed.verify(signature, message, raw, { zip215: false });
  } catch {
    return false;
  }
}

/** Verifies one signature with one key: OpenSSL when it can, @noble/ed25519 otherwise. @internal */
export function verifyEd25519(message: Uint8Array, signature: Uint8Array, key: TrustedKey): boolean {
  if (signature.length !== ED25519_SIGNATURE_LENGTH) return false;
  if (key.keyObject !== undefined) {
    try {
      return verify(null, message, key.keyObject, signature);
    } catch {
      // OpenSSL refused the operation (not the signature): fall through to the pure implementation.
    }
  }
  return nobleVerify(signature, message, key.raw);
}

/** True when `signature` is a valid Ed25519 signature of `message` by any of `keys`. @internal */
export function verifyWithAnyKey(message: Uint8Array, signature: Uint8Array, keys: readonly TrustedKey[]): boolean {
  return keys.some((key) => verifyEd25519(message, signature, key));
}
