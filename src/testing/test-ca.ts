import { webcrypto, createPublicKey, randomBytes } from 'node:crypto';
import type * as X509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

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

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

let x509Module: Promise<typeof X509> | undefined;
/** Loads @peculiar/x509 on first use; it needs the reflect-metadata polyfill, so never at import time. */
async function loadX509(): Promise<typeof X509> {
  x509Module ??= (async () => {
    await import('reflect-metadata');
    const mod = await import('@peculiar/x509');
    mod.cryptoProvider.set(webcrypto as unknown as Parameters<typeof mod.cryptoProvider.set>[0]);
    return mod;
  })();
  return x509Module;
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f;
  return b.toString('hex');
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
  readonly #cert: X509.X509Certificate;
  readonly #keys: CryptoKeyPair;

  private constructor(cert: X509.X509Certificate, keys: CryptoKeyPair, keyPem: string) {
    this.#cert = cert;
    this.#keys = keys;
    this.certPem = cert.toString('pem') + '\n';
    this.keyPem = keyPem;
  }

  /** Creates a new self-signed CA (P-256). */
  static async create(options: { commonName?: string; notBefore?: Date; notAfter?: Date } = {}): Promise<TestCertificateAuthority> {
    const x509 = await loadX509();
    const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
    const name = `CN=${options.commonName ?? 'nerves-hub-link Test CA'}, O=nerves-hub-link tests`;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name,
      notBefore: options.notBefore ?? new Date(Date.now() - 3600_000),
      notAfter: options.notAfter ?? new Date(Date.now() + 10 * 365 * 86400_000),
      signingAlgorithm: ALG,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 1, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const keyPem = pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
    return new TestCertificateAuthority(cert, keys, keyPem);
  }

  /** Issues a TLS server certificate for `localhost` and `127.0.0.1` (plus any extra names). */
  async issueServerCertificate(options: { commonName?: string; dnsNames?: string[]; ipAddresses?: string[]; notBefore?: Date; notAfter?: Date } = {}): Promise<IssuedCertificate> {
    const x509 = await loadX509();
    const dns = options.dnsNames ?? ['localhost'];
    const ips = options.ipAddresses ?? ['127.0.0.1', '::1'];
    return this.#issue(
      { commonName: options.commonName ?? 'localhost', notBefore: options.notBefore, notAfter: options.notAfter },
      [
        new x509.BasicConstraintsExtension(false, undefined, false),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([
          ...dns.map((value) => ({ type: 'dns' as const, value })),
          ...ips.map((value) => ({ type: 'ip' as const, value })),
        ]),
      ],
    );
  }

  /** Issues a device (client) certificate whose CN is the device identifier. */
  async issueDeviceCertificate(options: IssueOptions): Promise<IssuedCertificate> {
    const x509 = await loadX509();
    return this.#issue(options, [
      new x509.BasicConstraintsExtension(false, undefined, false),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
    ]);
  }

  async #issue(options: IssueOptions, extensions: X509.Extension[]): Promise<IssuedCertificate> {
    const x509 = await loadX509();
    let publicKey: CryptoKey;
    let keyPem = '';
    if (options.publicKeyPem) {
      const spki = createPublicKey(options.publicKeyPem).export({ type: 'spki', format: 'der' });
      publicKey = await webcrypto.subtle.importKey('spki', spki, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
    } else {
      const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
      publicKey = keys.publicKey;
      keyPem = pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
    }
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${options.commonName}`,
      issuer: this.#cert.subject,
      notBefore: options.notBefore ?? new Date(Date.now() - 3600_000),
      notAfter: options.notAfter ?? new Date(Date.now() + 365 * 86400_000),
      signingAlgorithm: ALG,
      publicKey,
      signingKey: this.#keys.privateKey,
      extensions: [
        ...extensions,
        await x509.SubjectKeyIdentifierExtension.create(publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(this.#keys.publicKey),
      ],
    });
    return { certPem: cert.toString('pem') + '\n', certDer: new Uint8Array(cert.rawData), keyPem };
  }
}
