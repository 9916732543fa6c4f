import { readFile } from 'node:fs/promises';
import { NervesHubError, invalidOptions } from '../errors.js';
import type { CertificateProvider, TlsClientMaterial } from './certificate-provider.js';
import { parseCertificateFile, privateKeyToPem } from './pem.js';

/**
 * Files read by {@link FileCertificateProvider}. Each may be PEM or DER.
 *
 * @example
 * ```ts
 * const options: FileCertificateProviderOptions = {
 *   certFile: '/data/nerves-hub/cert.pem',
 *   keyFile: '/data/nerves-hub/key.pem',
 *   serverCaFile: '/etc/ssl/nerves-hub-ca.pem',
 * };
 * ```
 * @category Connection
 */
export interface FileCertificateProviderOptions {
  /** Device certificate (PEM may hold the device certificate followed by intermediates). */
  certFile: string;
  /** Private key of the device certificate (PKCS#8, SEC1 or PKCS#1). Never logged. */
  keyFile: string;
  /** Signer (intermediate) certificate to send in the chain, as NervesKey devices do. */
  signerCertFile?: string;
  /** CA bundle that authenticates the NervesHub **server**. Omit to use Node's default roots. */
  serverCaFile?: string;
}

/**
 * Reads the device certificate and key from files at every connection attempt (so rotated
 * files are picked up without a restart).
 *
 * @example
 * ```ts
 * const provider = new FileCertificateProvider({ certFile: '/data/nerves-hub/cert.pem', keyFile: '/data/nerves-hub/key.pem' });
 * const socket = new NervesHubSocket({ url: 'wss://devices.nerves-hub.org', auth: { type: 'certificate', provider }, firmware });
 * ```
 * @category Connection
 */
export class FileCertificateProvider implements CertificateProvider {
  readonly #options: Readonly<FileCertificateProviderOptions>;

  /** @throws NervesHubError `NH_INVALID_OPTIONS` when `certFile` or `keyFile` is missing. */
  constructor(options: FileCertificateProviderOptions) {
    if (typeof options?.certFile !== 'string' || options.certFile === '') throw invalidOptions('FileCertificateProvider: certFile is required');
    if (typeof options.keyFile !== 'string' || options.keyFile === '') throw invalidOptions('FileCertificateProvider: keyFile is required');
    for (const name of ['signerCertFile', 'serverCaFile'] as const) {
      const v = options[name];
      if (v !== undefined && (typeof v !== 'string' || v === '')) throw invalidOptions(`FileCertificateProvider: ${name} must be a path`);
    }
    this.#options = Object.freeze({ ...options });
  }

  /**
   * Reads and parses the files.
   * @throws NervesHubError `NH_AUTH_CERT_FILE` when a file cannot be read or parsed.
   */
  async getTlsMaterial(options?: { signal?: AbortSignal }): Promise<TlsClientMaterial> {
    const signal = options?.signal;
    const { certFile, keyFile, signerCertFile, serverCaFile } = this.#options;
    const certificateChain = await readCertificates(certFile, 'certFile', signal);
    if (signerCertFile !== undefined) certificateChain.push(...(await readCertificates(signerCertFile, 'signerCertFile', signal)));
    const keyBytes = await read(keyFile, 'keyFile', signal);
    let key: string;
    try {
      key = privateKeyToPem(keyBytes);
    } catch (cause) {
      throw new NervesHubError('NH_AUTH_CERT_FILE', `keyFile ${keyFile} does not hold a private key in PEM or DER`, { cause });
    }
    const material: TlsClientMaterial = { certificateChain, key };
    if (serverCaFile !== undefined) material.serverCaCertificates = await readCertificates(serverCaFile, 'serverCaFile', signal);
    return material;
  }
}

async function read(path: string, what: string, signal: AbortSignal | undefined): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path, signal ? { signal } : {}));
  } catch (cause) {
    if (signal?.aborted) throw cause;
    throw new NervesHubError('NH_AUTH_CERT_FILE', `cannot read ${what} ${path}: check the path and its permissions`, { cause });
  }
}

async function readCertificates(path: string, what: string, signal: AbortSignal | undefined): Promise<string[]> {
  const bytes = await read(path, what, signal);
  try {
    return parseCertificateFile(bytes);
  } catch (cause) {
    throw new NervesHubError('NH_AUTH_CERT_FILE', `${what} ${path} does not hold a certificate in PEM or DER`, { cause });
  }
}
