import type { KeyObject } from 'node:crypto';

/**
 * The TLS client material a device presents to NervesHub (mutual TLS).
 * Either `key` (a PEM/DER private key or a `KeyObject`) or `privateKeyEngine` +
 * `privateKeyIdentifier` (a key that never leaves hardware, used through an OpenSSL engine).
 *
 * @example
 * ```ts
 * const material: TlsClientMaterial = { certificateChain: [deviceCertPem, signerCertPem], key: keyPem };
 * ```
 */
export interface TlsClientMaterial {
  /** Device certificate first, then any intermediate/signer certificates to send (PEM strings or DER). */
  certificateChain: Array<string | Uint8Array>;
  /** The private key (PEM string, DER PKCS#8 bytes or a KeyObject), when it is in software. */
  key?: string | Uint8Array | KeyObject;
  /** OpenSSL engine id holding the key (e.g. `pkcs11`), for keys that never leave hardware. */
  privateKeyEngine?: string;
  /** Engine-specific key reference (e.g. a PKCS#11 URI). Never logged. */
  privateKeyIdentifier?: string;
  /** CA certificates that authenticate the **server** (PEM or DER). Omit to use Node's default roots. */
  serverCaCertificates?: Array<string | Uint8Array>;
}

/**
 * Supplies the client certificate and key for mutual TLS. Called at every connection attempt, so
 * a provider may rotate certificates or re-read hardware. Implementations exist for files
 * ({@link FileCertificateProvider}), PKCS#11 tokens (`nerves-hub-link/pkcs11`) and NervesKey
 * (`nerves-hub-link/atecc508a`); apps and HSM vendors can write their own.
 *
 * @example
 * ```ts
 * const provider: CertificateProvider = {
 *   async getTlsMaterial() {
 *     return { certificateChain: [await readFile('cert.pem', 'utf8')], key: await readFile('key.pem', 'utf8') };
 *   },
 * };
 * ```
 */
export interface CertificateProvider {
  /** Returns the material for the next TLS handshake. May reject with a `NervesHubError`. */
  getTlsMaterial(options?: { signal?: AbortSignal }): Promise<TlsClientMaterial>;
}
