import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NervesHubError } from '../errors.js';
import { ensureAbsent, readPrivateFile, writeNewFile } from './key-files.js';
import { KeyUsageBit, keyIdentifier } from '../x509/certificate-parts.js';
import { buildCertificate, commonNameOf, encodeName, fromPem, readCertificate, readCsr, toPem, type DerSigner } from './x509/certificate.js';

/** Defaults of the certificates made here (nerves_hub_cli's device template: 31 years, 20-byte serials). */
export const CERTIFICATE_DEFAULTS = Object.freeze({
  /** Validity of device certificates, in years (NervesHub ignores the expiry of a known certificate, TLS libraries do not). */
  deviceYears: 31,
  /** Validity of signer CAs, in years: as long as the devices they sign. */
  signerYears: 31,
  /** Signer common name. */
  signerCommonName: 'nerves-hub-link signer',
  /** Random serial number length in bytes (RFC 5280: at most 20 octets, positive). */
  serialBytes: 20,
  /** X.520 upper bound of a common name. */
  maxCommonNameLength: 64,
});

/**
 * A certificate and, when it was generated here, its private key.
 *
 * @example
 * ```ts
 * const signer: CertificateWithKey = await createSignerCa({ commonName: 'ACME signer' });
 * ```
 */
export interface CertificateWithKey {
  /** The certificate, PEM. */
  certPem: string;
  /** The private key, PEM (SEC1 `EC PRIVATE KEY`, as nerves_hub_cli writes it); empty for a certificate issued from a request. */
  keyPem: string;
  /** Serial number, hex (what NervesHub lists). */
  serial: string;
  /** Start of validity. */
  notBefore: Date;
  /** End of validity. */
  notAfter: Date;
}

/** Validity options shared by signer and device certificates. */
export interface ValidityOptions {
  /** Years of validity from the start of the current hour (defaults in {@link CERTIFICATE_DEFAULTS}). */
  years?: number;
  /** Explicit start of validity (default: start of the current hour minus one hour, for clock skew). */
  notBefore?: Date;
  /** Explicit end of validity (overrides `years`). */
  notAfter?: Date;
}

/**
 * Options of {@link createSignerCa}.
 *
 * @example
 * ```ts
 * const options: SignerCaOptions = { commonName: 'ACME production signer', organization: 'ACME', years: 31 };
 * ```
 */
export interface SignerCaOptions extends ValidityOptions {
  /** Subject CN (default `nerves-hub-link signer`). */
  commonName?: string;
  /** Subject O, e.g. the NervesHub org. */
  organization?: string;
}

/** The signer a device certificate is issued by. */
export interface SignerMaterial {
  /** Signer certificate, PEM. */
  certPem: string;
  /** Signer private key, PEM (PKCS#8 or SEC1). */
  keyPem: string;
}

/**
 * Options of {@link createDeviceCertificate}.
 *
 * @example
 * ```ts
 * const options: DeviceCertificateOptions = { signer, identifier: 'NH-0001' };
 * ```
 */
export interface DeviceCertificateOptions extends ValidityOptions {
  /** The signer CA (registered with NervesHub). */
  signer: SignerMaterial;
  /** The device identifier: the certificate's CN, which NervesHub uses as the device's identity. */
  identifier: string;
  /** Subject O, e.g. the NervesHub org. */
  organization?: string;
  /** Certify this public key (SPKI PEM) instead of generating a key pair. */
  publicKeyPem?: string;
  /** Certify the key of this PKCS#10 request (PEM or DER; its signature is checked and its CN must equal `identifier`). */
  csr?: string | Uint8Array;
}

function certInvalid(message: string, cause?: unknown): NervesHubError {
  return new NervesHubError('NH_PROV_CERT_INVALID', message, cause === undefined ? undefined : { cause });
}

/**
 * Checks a device identifier / common name: non-empty, at most 64 characters, no control characters.
 * @throws NervesHubError `NH_PROV_CERT_INVALID`.
 * @internal
 */
export function checkCommonName(value: string, what: string): void {
  // eslint-disable-next-line no-control-regex
  if (typeof value !== 'string' || value.trim() === '' || /[\u0000-\u001f\u007f]/.test(value)) {
    throw certInvalid(`${what} must be a non-empty string without control characters`);
  }
  if ([...value].length > CERTIFICATE_DEFAULTS.maxCommonNameLength) {
    throw certInvalid(`${what} must be at most ${CERTIFICATE_DEFAULTS.maxCommonNameLength} characters (X.509 common name)`);
  }
}

function validity(options: ValidityOptions, defaultYears: number, now = new Date()): { notBefore: Date; notAfter: Date } {
  const hour = new Date(now);
  hour.setUTCMinutes(0, 0, 0);
  const notBefore = options.notBefore ?? new Date(hour.getTime() - 3600_000);
  let notAfter = options.notAfter;
  if (notAfter === undefined) {
    const years = options.years ?? defaultYears;
    if (!Number.isInteger(years) || years < 1 || years > 100) throw certInvalid('years must be a whole number from 1 to 100');
    notAfter = new Date(hour);
    notAfter.setUTCFullYear(hour.getUTCFullYear() + years);
  }
  if (!(notAfter.getTime() > notBefore.getTime())) throw certInvalid('notAfter must be later than notBefore');
  return { notBefore, notAfter };
}

function serialNumber(): Buffer {
  const bytes = randomBytes(CERTIFICATE_DEFAULTS.serialBytes);
  bytes[0] = (bytes[0]! & 0x7f) | 0x40;
  return bytes;
}

function ecdsaSigner(key: KeyObject): DerSigner {
  return (data) => sign('sha256', data, key);
}

function newP256Key(): { privateKey: KeyObject; spki: Buffer; keyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privateKey,
    spki: publicKey.export({ format: 'der', type: 'spki' }),
    keyPem: privateKey.export({ format: 'pem', type: 'sec1' }).toString(),
  };
}

/**
 * Creates a signer CA to register with NervesHub: a self-signed ECDSA P-256 / SHA-256 certificate
 * with `basicConstraints` CA (path length 0, critical), `keyUsage` keyCertSign + cRLSign +
 * digitalSignature (critical), and subject and authority key identifiers equal, the mark NervesHub's
 * verify_fun uses to recognise a self-signed signer.
 *
 * @throws NervesHubError `NH_PROV_CERT_INVALID` for a bad name or validity.
 * @example
 * ```ts
 * const signer = await createSignerCa({ commonName: 'ACME signer', organization: 'acme' });
 * // register signer.certPem with NervesHub; keep signer.keyPem offline
 * ```
 */
export async function createSignerCa(options: SignerCaOptions = {}): Promise<CertificateWithKey> {
  const commonName = options.commonName ?? CERTIFICATE_DEFAULTS.signerCommonName;
  checkCommonName(commonName, 'the signer common name');
  if (options.organization !== undefined) checkCommonName(options.organization, 'the organization');
  const { notBefore, notAfter } = validity(options, CERTIFICATE_DEFAULTS.signerYears);
  const key = newP256Key();
  const name = encodeName({ commonName, ...(options.organization ? { organization: options.organization } : {}) });
  const keyId = keyIdentifier(key.spki);
  const serial = serialNumber();
  const der = await buildCertificate({
    serial,
    subject: name,
    issuer: name,
    notBefore,
    notAfter,
    spki: key.spki,
    extensions: [
      { type: 'basicConstraints', ca: true, pathLength: 0 },
      { type: 'keyUsage', bits: [KeyUsageBit.digitalSignature, KeyUsageBit.keyCertSign, KeyUsageBit.cRLSign] },
      { type: 'subjectKeyIdentifier', keyId },
      { type: 'authorityKeyIdentifier', keyId },
    ],
    sign: ecdsaSigner(key.privateKey),
  });
  return { certPem: toPem('CERTIFICATE', der), keyPem: key.keyPem, serial: serial.toString('hex'), notBefore, notAfter };
}

interface LoadedSigner {
  cert: X509Certificate;
  key: KeyObject;
  subject: Buffer;
  keyId: Buffer;
}

function loadSigner(signer: SignerMaterial, now: Date): LoadedSigner {
  let cert: X509Certificate;
  let fields;
  try {
    cert = new X509Certificate(signer.certPem);
    fields = readCertificate(cert.raw);
  } catch (error) {
    throw certInvalid('the signer certificate is not a PEM X.509 certificate', error);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(signer.keyPem);
  } catch (error) {
    throw certInvalid('the signer key is not a PEM private key', error);
  }
  if (!cert.ca) throw certInvalid(`the signer certificate (${cert.subject.replace(/\n/g, ', ')}) is not a CA certificate`);
  if (key.asymmetricKeyType !== 'ec') throw certInvalid('the signer key must be an EC key (ECDSA with SHA-256 signs the certificates)');
  if (!cert.checkPrivateKey(key)) throw certInvalid('the signer key does not belong to the signer certificate');
  if (now < new Date(cert.validFrom) || now > new Date(cert.validTo)) {
    throw certInvalid(`the signer certificate is not valid now (valid ${new Date(cert.validFrom).toISOString()} to ${new Date(cert.validTo).toISOString()})`);
  }
  return { cert, key, subject: fields.subject, keyId: fields.subjectKeyId ?? keyIdentifier(fields.spki) };
}

/**
 * Issues a device certificate the way NervesHub accepts it: subject CN = the device identifier,
 * issuer = the signer's subject, ECDSA/SHA-256, a random 20-byte serial, validity from an hour ago
 * for 31 years (nerves_hub_cli's template), `basicConstraints` CA:false, `keyUsage`
 * digitalSignature + keyEncipherment, `extKeyUsage` clientAuth, subject key identifier, and an
 * authority key identifier equal to the signer's subject key identifier (how NervesHub finds the
 * signer). A new P-256 key is generated unless `publicKeyPem` or `csr` names the key to certify.
 *
 * @throws NervesHubError `NH_PROV_CERT_INVALID` (bad identifier, signer not a CA / expired / wrong
 *   key, request whose signature or CN does not match).
 * @example
 * ```ts
 * const device = await createDeviceCertificate({ signer, identifier: 'NH-0001' });
 * writeFileSync('NH-0001-cert.pem', device.certPem);
 * ```
 */
export async function createDeviceCertificate(options: DeviceCertificateOptions): Promise<CertificateWithKey> {
  checkCommonName(options.identifier, 'the device identifier');
  if (options.organization !== undefined) checkCommonName(options.organization, 'the organization');
  if (options.csr !== undefined && options.publicKeyPem !== undefined) throw certInvalid('give csr or publicKeyPem, not both');
  const now = new Date();
  const signer = loadSigner(options.signer, now);
  const { notBefore, notAfter } = validity(options, CERTIFICATE_DEFAULTS.deviceYears, now);
  let spki: Buffer;
  let keyPem = '';
  if (options.csr !== undefined) {
    let csr;
    try {
      csr = readCsr(fromPem('CERTIFICATE REQUEST', options.csr));
    } catch (error) {
      throw certInvalid(`the certificate request is not usable: ${(error as Error).message}`, error);
    }
    const cn = commonNameOf(csr.subject);
    if (cn !== options.identifier) throw certInvalid(`the certificate request is for CN '${cn ?? ''}', not the identifier '${options.identifier}'`);
    spki = csr.spki;
  } else if (options.publicKeyPem !== undefined) {
    try {
      spki = createPublicKey(options.publicKeyPem).export({ format: 'der', type: 'spki' });
    } catch (error) {
      throw certInvalid('publicKeyPem is not a PEM public key', error);
    }
  } else {
    const key = newP256Key();
    spki = key.spki;
    keyPem = key.keyPem;
  }
  const serial = serialNumber();
  const der = await buildCertificate({
    serial,
    subject: encodeName({ commonName: options.identifier, ...(options.organization ? { organization: options.organization } : {}) }),
    issuer: signer.subject,
    notBefore,
    notAfter,
    spki,
    extensions: [
      { type: 'basicConstraints', ca: false },
      { type: 'keyUsage', bits: [KeyUsageBit.digitalSignature, KeyUsageBit.keyEncipherment] },
      { type: 'extKeyUsage', purposes: ['clientAuth'] },
      { type: 'subjectKeyIdentifier', keyId: keyIdentifier(spki) },
      { type: 'authorityKeyIdentifier', keyId: signer.keyId },
    ],
    sign: ecdsaSigner(signer.key),
  });
  return { certPem: toPem('CERTIFICATE', der), keyPem, serial: serial.toString('hex'), notBefore, notAfter };
}

/** Paths of a certificate and its key written by the `*Files` functions. */
export interface CertificateFiles {
  /** `NAME-cert.pem`. */
  certFile: string;
  /** `NAME-key.pem` (mode 0600); absent for a certificate issued from a request. */
  keyFile?: string;
  /** What was written. */
  certificate: CertificateWithKey;
}

/**
 * {@link createSignerCa}, written to `NAME-cert.pem` and `NAME-key.pem` (0600). Refuses when either exists.
 *
 * @throws NervesHubError `NH_PROV_FILE_EXISTS`, `NH_PROV_CERT_INVALID`.
 * @example
 * ```ts
 * const { certFile } = await createSignerCaFiles('signer', { commonName: 'ACME signer' });
 * ```
 */
export async function createSignerCaFiles(name: string, options: SignerCaOptions = {}): Promise<CertificateFiles> {
  const certFile = `${name}-cert.pem`;
  const keyFile = `${name}-key.pem`;
  await ensureAbsent([certFile, keyFile]);
  const certificate = await createSignerCa(options);
  await writeNewFile(keyFile, certificate.keyPem, 0o600);
  await writeNewFile(certFile, certificate.certPem, 0o644);
  return { certFile, keyFile, certificate };
}

/**
 * Reads a signer's certificate and key files; the key file must be private (mode 0600).
 *
 * @throws NervesHubError `NH_PROV_KEY_PERMISSIONS`, `NH_PROV_KEY_INVALID`, `NH_PROV_CERT_INVALID`.
 * @example
 * ```ts
 * const signer = await readSignerFiles('signer-cert.pem', 'signer-key.pem');
 * ```
 */
export async function readSignerFiles(certFile: string, keyFile: string): Promise<SignerMaterial> {
  let certPem: string;
  try {
    certPem = await readFile(certFile, 'utf8');
  } catch (error) {
    throw certInvalid(`cannot read the signer certificate '${certFile}' (${(error as NodeJS.ErrnoException).code ?? 'error'})`, error);
  }
  const keyPem = (await readPrivateFile(keyFile, 'signer key')).toString('utf8');
  return { certPem, keyPem };
}

/**
 * Options of {@link createDeviceCertificateFiles}.
 *
 * @example
 * ```ts
 * const options: DeviceCertificateFilesOptions = { signerCertFile: 'signer-cert.pem', signerKeyFile: 'signer-key.pem', identifier: 'NH-0001' };
 * ```
 */
export interface DeviceCertificateFilesOptions extends Omit<DeviceCertificateOptions, 'signer' | 'csr'> {
  /** Signer certificate file (PEM). */
  signerCertFile: string;
  /** Signer key file (PEM, mode 0600). */
  signerKeyFile: string;
  /** A PKCS#10 request file (PEM or DER) whose key to certify; no key file is written then. */
  csrFile?: string;
  /** Directory for `ID-cert.pem` / `ID-key.pem` (default: the current directory). */
  outDir?: string;
}

/**
 * {@link createDeviceCertificate} from files, written to `OUTDIR/ID-cert.pem` and (for a generated
 * key) `OUTDIR/ID-key.pem` (0600). Refuses when either exists.
 *
 * @throws NervesHubError `NH_PROV_FILE_EXISTS`, `NH_PROV_CERT_INVALID`, `NH_PROV_KEY_PERMISSIONS`, `NH_PROV_KEY_INVALID`.
 * @example
 * ```ts
 * await createDeviceCertificateFiles({ signerCertFile: 'signer-cert.pem', signerKeyFile: 'signer-key.pem', identifier: 'NH-0001' });
 * ```
 */
export async function createDeviceCertificateFiles(options: DeviceCertificateFilesOptions): Promise<CertificateFiles> {
  checkCommonName(options.identifier, 'the device identifier');
  if (/[/\\]/.test(options.identifier) || options.identifier.startsWith('.')) {
    throw certInvalid('this identifier cannot be a file name: create the certificate with createDeviceCertificate and name the files yourself');
  }
  const { signerCertFile, signerKeyFile, csrFile, outDir = '.', ...rest } = options;
  const certFile = join(outDir, `${options.identifier}-cert.pem`);
  const keyFile = csrFile === undefined ? join(outDir, `${options.identifier}-key.pem`) : undefined;
  await ensureAbsent(keyFile ? [certFile, keyFile] : [certFile]);
  const signer = await readSignerFiles(signerCertFile, signerKeyFile);
  let csr: Buffer | undefined;
  if (csrFile !== undefined) {
    try {
      csr = await readFile(csrFile);
    } catch (error) {
      throw certInvalid(`cannot read the certificate request '${csrFile}' (${(error as NodeJS.ErrnoException).code ?? 'error'})`, error);
    }
  }
  const certificate = await createDeviceCertificate({ ...rest, signer, ...(csr ? { csr } : {}) });
  if (keyFile) await writeNewFile(keyFile, certificate.keyPem, 0o600);
  await writeNewFile(certFile, certificate.certPem, 0o644);
  return { certFile, ...(keyFile ? { keyFile } : {}), certificate };
}
