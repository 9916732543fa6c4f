import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileCertificateProvider } from '../../src/auth/file-certificate-provider.js';
import { isNervesHubError } from '../../src/errors.js';
import { TestCertificateAuthority } from '../../src/testing/index.js';

let dir: string;
let ca: TestCertificateAuthority;
let device: { certPem: string; certDer: Uint8Array; keyPem: string };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nhl-fcp-'));
  ca = await TestCertificateAuthority.create();
  device = await ca.issueDeviceCertificate({ commonName: 'NH-FILE-1' });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, content: string | Uint8Array): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, content);
  return p;
}

describe('FileCertificateProvider', () => {
  it('reads PEM cert, key, signer and server CA', async () => {
    const p = new FileCertificateProvider({
      certFile: await file('cert.pem', device.certPem),
      keyFile: await file('key.pem', device.keyPem),
      signerCertFile: await file('signer.pem', ca.certPem),
      serverCaFile: await file('ca.pem', ca.certPem),
    });
    const m = await p.getTlsMaterial();
    expect(m.certificateChain).toHaveLength(2);
    expect(new X509Certificate(m.certificateChain[0] as string).subject).toContain('CN=NH-FILE-1');
    expect(new X509Certificate(m.certificateChain[1] as string).fingerprint256).toBe(new X509Certificate(ca.certPem).fingerprint256);
    expect(createPrivateKey(m.key as string).asymmetricKeyType).toBe('ec');
    expect(m.serverCaCertificates).toHaveLength(1);
  });

  it('reads DER certificate and DER (PKCS#8 and SEC1) keys', async () => {
    const pkcs8Der = createPrivateKey(device.keyPem).export({ format: 'der', type: 'pkcs8' });
    const sec1Der = createPrivateKey(device.keyPem).export({ format: 'der', type: 'sec1' });
    for (const [name, der] of [['pkcs8.der', pkcs8Der], ['sec1.der', sec1Der]] as const) {
      const p = new FileCertificateProvider({ certFile: await file('cert.der', device.certDer), keyFile: await file(name, der) });
      const m = await p.getTlsMaterial();
      expect(new X509Certificate(m.certificateChain[0] as string).raw.equals(Buffer.from(device.certDer))).toBe(true);
      const pub = createPrivateKey(m.key as string).export({ format: 'der', type: 'pkcs8' });
      expect(Buffer.compare(pub, pkcs8Der)).toBe(0);
    }
  });

  it('re-reads files at every call (rotation)', async () => {
    const certFile = await file('rot.pem', device.certPem);
    const p = new FileCertificateProvider({ certFile, keyFile: await file('rot.key', device.keyPem) });
    const first = await p.getTlsMaterial();
    const other = await ca.issueDeviceCertificate({ commonName: 'NH-FILE-2' });
    await writeFile(certFile, other.certPem);
    const second = await p.getTlsMaterial();
    expect(new X509Certificate(first.certificateChain[0] as string).subject).toContain('NH-FILE-1');
    expect(new X509Certificate(second.certificateChain[0] as string).subject).toContain('NH-FILE-2');
  });

  it('fails with NH_AUTH_CERT_FILE on a missing or garbage file', async () => {
    const missing = new FileCertificateProvider({ certFile: join(dir, 'nope.pem'), keyFile: join(dir, 'nope.key') });
    await expect(missing.getTlsMaterial()).rejects.toSatisfy((e) => isNervesHubError(e) && e.code === 'NH_AUTH_CERT_FILE');
    const garbage = new FileCertificateProvider({ certFile: await file('garbage.pem', 'hello'), keyFile: await file('k.pem', device.keyPem) });
    await expect(garbage.getTlsMaterial()).rejects.toSatisfy((e) => isNervesHubError(e) && e.code === 'NH_AUTH_CERT_FILE');
    const badKey = new FileCertificateProvider({ certFile: await file('c2.pem', device.certPem), keyFile: await file('bad.der', new Uint8Array([0x30, 1, 2, 3])) });
    await expect(badKey.getTlsMaterial()).rejects.toSatisfy((e) => isNervesHubError(e) && e.code === 'NH_AUTH_CERT_FILE');
  });

  it('validates options', () => {
    expect(() => new FileCertificateProvider({ certFile: '', keyFile: 'k' })).toThrow(expect.objectContaining({ code: 'NH_INVALID_OPTIONS' }));
    expect(() => new FileCertificateProvider({ certFile: 'c', keyFile: '' })).toThrow(expect.objectContaining({ code: 'NH_INVALID_OPTIONS' }));
    expect(() => new FileCertificateProvider({ certFile: 'c', keyFile: 'k', serverCaFile: '' })).toThrow(expect.objectContaining({ code: 'NH_INVALID_OPTIONS' }));
  });
});
