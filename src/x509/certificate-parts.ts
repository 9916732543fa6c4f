/**
 * The pieces of an X.509 v3 certificate both of the SDK's certificate builders need (the test CA
 * in `nerves-hub-link/testing` and the provisioning one): object identifiers, key identifiers and
 * the extension wrapper.
 * @internal
 */
import { createHash } from 'node:crypto';
import { bitString, boolean, children, octetString, oid, readTlv, sequence, type Der } from './der.js';

/** Object identifiers used by the builders. @internal */
export const OID = Object.freeze({
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
});

/** Key usage bits (RFC 5280 §4.2.1.3). @internal */
export const KeyUsageBit = Object.freeze({ digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5, cRLSign: 6 });

/** Key identifier of an SPKI: SHA-1 of its subjectPublicKey bits (RFC 5280 §4.2.1.2, method 1). @internal */
export function keyIdentifier(spki: Uint8Array): Buffer {
  const [, key] = children(readTlv(spki).content);
  if (!key) throw new Error('not a SubjectPublicKeyInfo');
  return createHash('sha1').update(key.content.subarray(1)).digest();
}

/** The keyUsage BIT STRING of `bits` (named-bit encoding: no trailing zero bits). @internal */
export function keyUsageBits(bits: number[]): Der {
  const max = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(max / 8) + 1);
  for (const bit of bits) bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  return bitString(bytes, 7 - (max & 7));
}

/** One `Extension` (critical flag only when true, as DER requires). @internal */
export function extension(id: string, critical: boolean, value: Uint8Array): Der {
  return sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));
}
