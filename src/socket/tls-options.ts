import { createSecureContext } from 'node:tls';
import type { ConnectionOptions, SecureContextOptions } from 'node:tls';
import type { TlsClientMaterial } from '../auth/certificate-provider.js';
import { certificatesToPem, privateKeyToPem } from '../auth/pem.js';
import { NervesHubError } from '../errors.js';
import type { ResolvedSocketOptions } from './options.js';

/**
 * TLS options of one connection attempt. Server verification is always on; the CA is the
 * socket's `tls.ca`, else the provider's `serverCaCertificates`, else Node's roots. A key held by
 * an OpenSSL engine (`privateKeyEngine`/`privateKeyIdentifier`) goes through a prebuilt
 * secure context, since `tls.connect` does not take those options directly.
 * @internal
 */
export function buildTlsOptions(o: ResolvedSocketOptions, material: TlsClientMaterial | undefined): Omit<ConnectionOptions, 'checkServerIdentity'> {
  const caList = o.tls.ca ?? material?.serverCaCertificates;
  const ca = caList && caList.length > 0 ? certificatesToPem(caList) : undefined;
  const base: Omit<ConnectionOptions, 'checkServerIdentity'> = {
    rejectUnauthorized: true,
    minVersion: o.tls.minVersion,
    ...(o.tls.servername ? { servername: o.tls.servername } : {}),
  };
  if (!material) return ca ? { ...base, ca } : base;

  if (!Array.isArray(material.certificateChain) || material.certificateChain.length === 0) {
    throw new NervesHubError('NH_SOCKET_CERT_PROVIDER', 'the certificate provider returned no certificate');
  }
  const cert = certificatesToPem(material.certificateChain);
  if (material.privateKeyEngine !== undefined || material.privateKeyIdentifier !== undefined) {
    if (!material.privateKeyEngine || !material.privateKeyIdentifier) {
      throw new NervesHubError('NH_SOCKET_CERT_PROVIDER', 'privateKeyEngine and privateKeyIdentifier must be given together');
    }
    const contextOptions: SecureContextOptions = {
      cert,
      privateKeyEngine: material.privateKeyEngine,
      privateKeyIdentifier: material.privateKeyIdentifier,
      minVersion: o.tls.minVersion,
      ...(ca ? { ca } : {}),
    };
    let secureContext;
    try {
      secureContext = createSecureContext(contextOptions);
    } catch (cause) {
      // never echo the identifier: it may carry a PIN
      throw new NervesHubError(
        'NH_SOCKET_CERT_PROVIDER',
        `cannot load the private key through OpenSSL engine "${material.privateKeyEngine}": is the engine installed and configured?`,
        { cause: cause instanceof Error ? new Error(cause.message.replace(material.privateKeyIdentifier, '<redacted>')) : undefined },
      );
    }
    return { ...base, secureContext };
  }
  if (material.key === undefined) throw new NervesHubError('NH_SOCKET_CERT_PROVIDER', 'the certificate provider returned no private key');
  let key: string;
  try {
    key = privateKeyToPem(material.key);
  } catch (cause) {
    throw new NervesHubError('NH_SOCKET_CERT_PROVIDER', 'the certificate provider returned an unreadable private key', { cause });
  }
  return { ...base, cert, key, ...(ca ? { ca } : {}) };
}
