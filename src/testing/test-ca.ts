import { createPublicKey, generateKeyPair, randomBytes, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { KeyUsageBit } from '../x509/certificate-parts.js';
import { buildCertificate, encodeName, type Extension } from './x509/certificate-builder.js';

/**
 * A certificate and its private key, as issued by {@link TestCertificateAuthority}.
 *
 * @example
 * ```ts
 * const device: IssuedCertificate = await ca.issueDeviceCertificate({ commonName: 'NH-0001' });
 * const provider = { getTlsMaterial: async () => ({ certificateChain: [device.certPem], key: device.keyPem }) };
 * ```
 */
export interface IssuedCertificate {
  /** Certificate, PEM. */
  certPem: string;
  /** Certificate, DER. */
  certDer: Uint8Array;
  /** PKCS#8 private key, PEM (empty when the certificate was issued for an external public key). */
  keyPem: string;
}

/**
 * Options of a certificate issued by the test CA.
 *
 * @example
 * ```ts
 * const expired = await ca.issueDeviceCertificate({ commonName: 'NH-OLD', notAfter: new Date(Date.now() - 1000) });
 * ```
 */
export interface IssueOptions {
  /** Subject CN. For device certificates this is the device identifier NervesHub uses. */
  commonName: string;
  /** Start of validity (default: one hour ago). */
  notBefore?: Date;
  /** End of validity (default: one year from now). */
  notAfter?: Date;
  /** Issue for this SPKI public key (PEM) instead of generating a key pair (e.g. a key in an HSM). */
  publicKeyPem?: string;
}

const generateKeyPairAsync = promisify(generateKeyPair);

/** A fresh P-256 key pair: the private key and the public key's SPKI (DER). */
async function newKeyPair(): Promise<{ privateKey: KeyObject; spki: Buffer }> {
  const { privateKey, publicKey } = await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
  return { privateKey, spki: publicKey.export({ type: 'spki', format: 'der' }) };
}

function pem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}

function privateKeyPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

function serial(): Buffer {
  const b = randomBytes(16);
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x01; // positive and never a leading zero byte
  return b;
}

/**
 * A throw-away certificate authority for tests and local development: issues server certificates
 * for loopback and device certificates whose CN is the device identifier (as NervesHub expects).
 * Never use it in production.
 *
 * @example
 * ```ts
 * const ca = await TestCertificateAuthority.create();
 * const server = await ca.issueServerCertificate();
 * const device = await ca.issueDeviceCertificate({ commonName: 'NH-0001' });
 * ```
 */
export class TestCertificateAuthority {
  /** The CA certificate, PEM. Register it as the signer CA (the test server trusts it). */
  readonly certPem: string;
  /** The CA private key, PEM. */
  readonly keyPem: string;
  readonly #name: Buffer;
  readonly #key: KeyObject;
  readonly #spki: Buffer;

  private constructor(certDer: Buffer, name: Buffer, key: KeyObject, spki: Buffer) {
    this.certPem = pem('CERTIFICATE', certDer);
    this.keyPem = privateKeyPem(key);
    this.#name = name;
    this.#key = key;
    this.#spki = spki;
  }

  /** Creates a new self-signed CA (P-256). */
  static async create(options: { commonName?: string; notBefore?: Date; notAfter?: Date } = {}): Promise<TestCertificateAuthority> {
    const { privateKey, spki } = await newKeyPair();
    const name = encodeName({ commonName: options.commonName ?? 'nerves-hub-link Test CA', organization: 'nerves-hub-link tests' });
    const cert = buildCertificate({
      serial: serial(),
      subject: name,
      issuer: name,
      notBefore: options.notBefore ?? new Date(Date.now() - 3600_000),
      notAfter: options.notAfter ?? new Date(Date.now() + 10 * 365 * 86400_000),
      spki,
      signingKey: privateKey,
      extensions: [
        { type: 'basicConstraints', ca: true, pathLength: 1 },
        { type: 'keyUsage', bits: [KeyUsageBit.digitalSignature, KeyUsageBit.keyCertSign, KeyUsageBit.cRLSign] },
      ],
    });
    return new TestCertificateAuthority(cert, name, privateKey, spki);
  }

  /** Issues a TLS server certificate for `localhost` and `127.0.0.1` (plus any extra names). */
  async issueServerCertificate(options: { commonName?: string; dnsNames?: string[]; ipAddresses?: string[]; notBefore?: Date; notAfter?: Date } = {}): Promise<IssuedCertificate> {
    return this.#issue({ commonName: options.commonName ?? 'localhost', notBefore: options.notBefore, notAfter: options.notAfter }, [
      { type: 'basicConstraints', ca: false },
      { type: 'keyUsage', bits: [KeyUsageBit.digitalSignature, KeyUsageBit.keyEncipherment] },
      { type: 'extKeyUsage', purposes: ['serverAuth'] },
      { type: 'subjectAltName', dnsNames: options.dnsNames ?? ['localhost'], ipAddresses: options.ipAddresses ?? ['127.0.0.1', '::1'] },
    ]);
  }

  /** Issues a device (client) certificate whose CN is the device identifier. */
  async issueDeviceCertificate(options: IssueOptions): Promise<IssuedCertificate> {
    return this.#issue(options, [
      { type: 'basicConstraints', ca: false },
      { type: 'keyUsage', bits: [KeyUsageBit.digitalSignature, KeyUsageBit.keyEncipherment] },
      { type: 'extKeyUsage', purposes: ['clientAuth'] },
    ]);
  }

  async #issue(options: IssueOptions, extensions: Extension[]): Promise<IssuedCertificate> {
    let spki: Buffer;
    let keyPem = '';
    if (options.publicKeyPem) {
      spki = createPublicKey(options.publicKeyPem).export({ type: 'spki', format: 'der' });
    } else {
      const pair = await newKeyPair();
      spki = pair.spki;
      keyPem = privateKeyPem(pair.privateKey);
    }
    const der = buildCertificate({
      serial: serial(),
      subject: encodeName({ commonName: options.commonName }),
      issuer: this.#name,
      notBefore: options.notBefore ?? new Date(Date.now() - 3600_000),
      notAfter: options.notAfter ?? new Date(Date.now() + 365 * 86400_000),
      spki,
      issuerSpki: this.#spki,
      signingKey: this.#key,
      extensions,
    });
    return { certPem: pem('CERTIFICATE', der), certDer: new Uint8Array(der), keyPem };
  }
}
