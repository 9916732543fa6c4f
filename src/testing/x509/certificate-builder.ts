/**
 * Builds X.509 v3 certificates (ECDSA P-256 / SHA-256) with node:crypto and a few DER encoders:
 * what the test CA needs, so `nerves-hub-link/testing` pulls no certificate library into an
 * install. Not a general-purpose certificate toolkit.
 * @internal
 */
import { sign, type KeyObject } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { OID, extension, keyIdentifier, keyUsageBits } from '../../x509/certificate-parts.js';
import { bitString, boolean, explicit, implicit, integer, octetString, oid, sequence, set, time, tlv, utf8String, type Der } from '../../x509/der.js';

/** One extension of a certificate. */
export type Extension =
  | { type: 'basicConstraints'; ca: boolean; pathLength?: number; critical?: boolean }
  | { type: 'keyUsage'; bits: number[] }
  | { type: 'extKeyUsage'; purposes: Array<'serverAuth' | 'clientAuth'> }
  | { type: 'subjectAltName'; dnsNames: string[]; ipAddresses: string[] };

/** What to certify and who signs it. */
export interface CertificateSpec {
  /** Serial number, big-endian (positive). */
  serial: Uint8Array;
  /** Subject name, DER (see {@link encodeName}). */
  subject: Der;
  /** Issuer name, DER: the subject of the signing certificate. */
  issuer: Der;
  notBefore: Date;
  notAfter: Date;
  /** SubjectPublicKeyInfo, DER. */
  spki: Uint8Array;
  /** SubjectPublicKeyInfo of the signer, DER (for the authority key identifier); omit for a self-signed certificate. */
  issuerSpki?: Uint8Array;
  /** The signer's private key (P-256). */
  signingKey: KeyObject;
  extensions: Extension[];
}

/** Encodes a name of `CN` (and optional `O`) attributes, in that order. */
export function encodeName(name: { commonName: string; organization?: string }): Der {
  const rdn = (type: string, value: string): Der => set(sequence(oid(type), utf8String(value)));
  return sequence(rdn(OID.commonName, name.commonName), ...(name.organization ? [rdn(OID.organization, name.organization)] : []));
}

function ipBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  if (!isIPv6(ip)) throw new Error(`not an IP address: ${ip}`);
  const [head = '', tail] = ip.split('::');
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.from(all.map((g) => g.padStart(4, '0')).join(''), 'hex');
}

function encodeExtension(ext: Extension): Der {
  switch (ext.type) {
    case 'basicConstraints': {
      const fields = ext.ca ? [boolean(true), ...(ext.pathLength === undefined ? [] : [integer(ext.pathLength)])] : [];
      return extension(OID.basicConstraints, ext.critical ?? ext.ca, sequence(...fields));
    }
    case 'keyUsage':
      return extension(OID.keyUsage, true, keyUsageBits(ext.bits));
    case 'extKeyUsage':
      return extension(OID.extKeyUsage, false, sequence(...ext.purposes.map((p) => oid(OID[p]))));
    case 'subjectAltName':
      return extension(
        OID.subjectAltName,
        false,
        sequence(...ext.dnsNames.map((d) => implicit(2, Buffer.from(d, 'ascii'))), ...ext.ipAddresses.map((ip) => implicit(7, ipBytes(ip)))),
      );
  }
}

/** Builds and signs a certificate; returns its DER. */
export function buildCertificate(spec: CertificateSpec): Buffer {
  const algorithm = sequence(oid(OID.ecdsaWithSha256));
  const extensions = [
    ...spec.extensions.map(encodeExtension),
    extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(spec.spki))),
    ...(spec.issuerSpki ? [extension(OID.authorityKeyIdentifier, false, sequence(implicit(0, keyIdentifier(spec.issuerSpki))))] : []),
  ];
  const tbs = sequence(
    explicit(0, integer(2)),
    integer(spec.serial),
    algorithm,
    spec.issuer,
    sequence(time(spec.notBefore), time(spec.notAfter)),
    spec.subject,
    Buffer.from(spec.spki),
    explicit(3, sequence(...extensions)),
  );
  // node:crypto signs ECDSA in DER form, which is what X.509 carries.
  const signature = sign('sha256', tbs, spec.signingKey);
  return tlv(0x30, tbs, algorithm, bitString(signature));
}
