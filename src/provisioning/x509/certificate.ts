/**
 * Builds X.509 v3 certificates and PKCS#10 certificate requests (ECDSA with SHA-256) and reads
 * back the few fields provisioning needs, with node:crypto and {@link ./der.ts}. Not a
 * general-purpose certificate toolkit.
 * @internal
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { OID, extension, keyUsageBits } from '../../x509/certificate-parts.js';
import { bitString, boolean, children, explicit, implicit, integer, octetString, oid, oidText, readTlv, sequence, set, time, tlv, utf8String } from '../../x509/der.js';

/** One extension of a certificate. @internal */
export type Extension =
  | { type: 'basicConstraints'; ca: boolean; pathLength?: number }
  | { type: 'keyUsage'; bits: number[] }
  | { type: 'extKeyUsage'; purposes: Array<'clientAuth'> }
  | { type: 'subjectKeyIdentifier'; keyId: Uint8Array }
  | { type: 'authorityKeyIdentifier'; keyId: Uint8Array };

/** A distinguished name of a CN and an optional O. @internal */
export interface SimpleName {
  commonName: string;
  organization?: string;
}

/** Encodes a name: `O` (when given) then `CN`, as UTF8Strings. @internal */
export function encodeName(name: SimpleName): Buffer {
  const rdn = (type: string, value: string): Buffer => set(sequence(oid(type), utf8String(value)));
  return sequence(...(name.organization ? [rdn(OID.organization, name.organization)] : []), rdn(OID.commonName, name.commonName));
}

function encodeExtension(ext: Extension): Buffer {
  switch (ext.type) {
    case 'basicConstraints': {
      const fields = ext.ca ? [boolean(true), ...(ext.pathLength === undefined ? [] : [integer(ext.pathLength)])] : [];
      return extension(OID.basicConstraints, true, sequence(...fields));
    }
    case 'keyUsage':
      return extension(OID.keyUsage, true, keyUsageBits(ext.bits));
    case 'extKeyUsage':
      return extension(OID.extKeyUsage, false, sequence(...ext.purposes.map((p) => oid(OID[p]))));
    case 'subjectKeyIdentifier':
      return extension(OID.subjectKeyIdentifier, false, octetString(ext.keyId));
    case 'authorityKeyIdentifier':
      return extension(OID.authorityKeyIdentifier, false, sequence(implicit(0, ext.keyId)));
  }
}

/** Signs DER bytes with ECDSA/SHA-256 and returns the DER `ECDSA-Sig-Value`. @internal */
export type DerSigner = (data: Buffer) => Buffer | Promise<Buffer>;

/** What to certify and who signs it. @internal */
export interface CertificateSpec {
  /** Serial number, big-endian, positive. */
  serial: Uint8Array;
  /** Subject name, DER. */
  subject: Uint8Array;
  /** Issuer name, DER: the signer certificate's subject, byte for byte. */
  issuer: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** SubjectPublicKeyInfo, DER. */
  spki: Uint8Array;
  extensions: Extension[];
  sign: DerSigner;
}

const ECDSA_SHA256 = (): Buffer => sequence(oid(OID.ecdsaWithSha256));

/** Builds and signs a certificate; returns its DER. @internal */
export async function buildCertificate(spec: CertificateSpec): Promise<Buffer> {
  const tbs = sequence(
    explicit(0, integer(2)),
    integer(spec.serial),
    ECDSA_SHA256(),
    Buffer.from(spec.issuer),
    sequence(time(spec.notBefore), time(spec.notAfter)),
    Buffer.from(spec.subject),
    Buffer.from(spec.spki),
    explicit(3, sequence(...spec.extensions.map(encodeExtension))),
  );
  return tlv(0x30, tbs, ECDSA_SHA256(), bitString(await spec.sign(tbs)));
}

/** Builds and signs a PKCS#10 request (no attributes); returns its DER. @internal */
export async function buildCsr(subject: Uint8Array, spki: Uint8Array, sign: DerSigner): Promise<Buffer> {
  const info = sequence(integer(0), Buffer.from(subject), Buffer.from(spki), explicit(0));
  return tlv(0x30, info, ECDSA_SHA256(), bitString(await sign(info)));
}

function decodeString(tag: number, content: Buffer): string {
  if (tag === 0x1e) {
    let out = '';
    for (let i = 0; i + 1 < content.length; i += 2) out += String.fromCharCode((content[i]! << 8) | content[i + 1]!);
    return out;
  }
  return content.toString(tag === 0x14 ? 'latin1' : 'utf8');
}

/** The attributes of a name, in order, as `[oid, value]`. @internal */
export function nameAttributes(name: Uint8Array): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const rdn of children(readTlv(name).content)) {
    for (const atv of children(rdn.content)) {
      const [type, value] = children(atv.content);
      if (type && value) out.push([oidText(type.content), decodeString(value.tag, value.content)]);
    }
  }
  return out;
}

/** The subject CN of a name, or undefined when it has none (or several). @internal */
export function commonNameOf(name: Uint8Array): string | undefined {
  const cns = nameAttributes(name).filter(([type]) => type === OID.commonName);
  return cns.length === 1 ? cns[0]![1] : undefined;
}

/** What provisioning reads back from a certificate. @internal */
export interface CertificateFields {
  serial: Buffer;
  issuer: Buffer;
  subject: Buffer;
  spki: Buffer;
  /** The subject key identifier extension's value, when present. */
  subjectKeyId: Buffer | undefined;
  /** The authority key identifier's keyIdentifier, when present. */
  authorityKeyId: Buffer | undefined;
}

/**
 * Reads serial, issuer, subject, SPKI and key identifiers of a DER certificate.
 * @throws Error when the bytes are not a certificate.
 * @internal
 */
export function readCertificate(der: Uint8Array): CertificateFields {
  const [tbs] = children(readTlv(der).content);
  if (!tbs) throw new Error('not a certificate');
  const fields = children(tbs.content);
  const at = fields[0]?.tag === 0xa0 ? 1 : 0;
  const [serial, , issuer, , subject, spki] = fields.slice(at);
  if (!serial || !issuer || !subject || !spki) throw new Error('not a certificate');
  let subjectKeyId: Buffer | undefined;
  let authorityKeyId: Buffer | undefined;
  const extensions = fields.find((f) => f.tag === 0xa3);
  if (extensions) {
    for (const ext of children(readTlv(extensions.content).content)) {
      const parts = children(ext.content);
      const id = oidText(parts[0]!.content);
      const value = parts[parts.length - 1]!.content;
      if (id === OID.subjectKeyIdentifier) subjectKeyId = readTlv(value).content;
      if (id === OID.authorityKeyIdentifier) authorityKeyId = children(readTlv(value).content).find((c) => c.tag === 0x80)?.content;
    }
  }
  return { serial: serial.content, issuer: issuer.raw, subject: subject.raw, spki: spki.raw, subjectKeyId, authorityKeyId };
}

/** A parsed, signature-checked PKCS#10 request. @internal */
export interface CsrFields {
  subject: Buffer;
  spki: Buffer;
  publicKey: KeyObject;
}

/**
 * Reads a DER PKCS#10 request and checks its self-signature (ECDSA or RSA with SHA-256).
 * @throws Error when it is not a request or the signature does not verify.
 * @internal
 */
export function readCsr(der: Uint8Array): CsrFields {
  const [info, algorithm, signature] = children(readTlv(der).content);
  if (!info || !algorithm || !signature || signature.tag !== 0x03) throw new Error('not a PKCS#10 certificate request');
  const [version, subject, spki] = children(info.content);
  if (!version || version.tag !== 0x02 || !subject || !spki) throw new Error('not a PKCS#10 certificate request');
  const publicKey = createPublicKey({ key: spki.raw, format: 'der', type: 'spki' });
  const algorithmId = oidText(children(algorithm.content)[0]!.content);
  const hash = algorithmId === OID.ecdsaWithSha256 || algorithmId === '1.2.840.113549.1.1.11' ? 'sha256' : undefined;
  if (!hash) throw new Error(`unsupported request signature algorithm ${algorithmId}`);
  if (!verify(hash, info.raw, publicKey, signature.content.subarray(1))) throw new Error('the request signature does not verify');
  return { subject: subject.raw, spki: spki.raw, publicKey };
}

/** PEM armour for DER bytes. @internal */
export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}

/**
 * The DER inside the first PEM block labelled `label`; bytes that are not PEM are taken as DER.
 * @throws Error when there is no such block.
 * @internal
 */
export function fromPem(label: string, input: string | Uint8Array): Buffer {
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('latin1');
  const match = new RegExp(`-----BEGIN ${label}-----([^-]*)-----END ${label}-----`).exec(text);
  if (match) return Buffer.from(match[1]!.replace(/\s+/g, ''), 'base64');
  if (typeof input !== 'string' && input[0] === 0x30) return Buffer.from(input);
  throw new Error(`no ${label} PEM block`);
}
