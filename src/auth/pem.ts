import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

/** @internal True when `bytes` look like DER (an ASN.1 SEQUENCE) rather than PEM text. */
export function looksLikeDer(bytes: Uint8Array): boolean {
  return bytes.length > 1 && bytes[0] === 0x30;
}

/** @internal Turns certificates given as PEM text, PEM bytes or DER into one PEM string. */
export function certificatesToPem(certs: ReadonlyArray<string | Uint8Array>): string {
  return certs
    .map((c) => {
      if (typeof c === 'string') return c.endsWith('\n') ? c : `${c}\n`;
      if (looksLikeDer(c)) return new X509Certificate(c).toString();
      const text = Buffer.from(c).toString('utf8');
      return text.endsWith('\n') ? text : `${text}\n`;
    })
    .join('');
}

/** @internal Splits a PEM bundle into its certificates (ignores anything that is not a CERTIFICATE block). */
export function splitPemCertificates(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
}

/**
 * @internal Parses a certificate file's bytes (one DER certificate, or a PEM bundle) into PEM
 * certificates, each checked to parse, so a corrupt file fails here rather than inside the TLS
 * handshake. Throws a plain `Error`; callers wrap it with their own code.
 */
export function parseCertificateFile(bytes: Uint8Array): string[] {
  if (looksLikeDer(bytes)) return [new X509Certificate(bytes).toString()];
  const certs = splitPemCertificates(Buffer.from(bytes).toString('utf8'));
  for (const c of certs) new X509Certificate(c);
  if (certs.length === 0) throw new Error('no CERTIFICATE block');
  return certs;
}

/**
 * @internal Turns a private key given as PEM, DER (PKCS#8, SEC1 or PKCS#1) or a KeyObject into a
 * PEM string the TLS stack accepts.
 */
export function privateKeyToPem(key: string | Uint8Array | KeyObject): string {
  if (typeof key === 'string') return key;
  if (key instanceof Uint8Array) {
    if (!looksLikeDer(key)) return Buffer.from(key).toString('utf8');
    const der = Buffer.from(key);
    for (const type of ['pkcs8', 'sec1', 'pkcs1'] as const) {
      try {
        return createPrivateKey({ key: der, format: 'der', type }).export({ format: 'pem', type: 'pkcs8' }).toString();
      } catch {
        // try the next DER flavour
      }
    }
    throw new TypeError('private key is DER but neither PKCS#8, SEC1 nor PKCS#1');
  }
  return key.export({ format: 'pem', type: 'pkcs8' }).toString();
}
