import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TestCertificateAuthority } from '../../src/testing/index.js';

describe('TestCertificateAuthority (node:crypto only)', () => {
  it('issues a CA, server and device certificates that chain and carry the right extensions', async () => {
    const ca = await TestCertificateAuthority.create({ commonName: 'Unit CA' });
    const caCert = new X509Certificate(ca.certPem);
    expect(caCert.ca).toBe(true);
    expect(caCert.subject).toBe('CN=Unit CA\nO=nerves-hub-link tests');
    expect(caCert.verify(caCert.publicKey)).toBe(true);

    const server = new X509Certificate((await ca.issueServerCertificate({ dnsNames: ['hub.test'], ipAddresses: ['10.1.2.3', 'fe80::1'] })).certPem);
    expect(server.checkIssued(caCert)).toBe(true);
    expect(server.verify(caCert.publicKey)).toBe(true);
    expect(server.ca).toBe(false);
    expect(server.checkHost('hub.test')).toBe('hub.test');
    expect(server.checkIP('10.1.2.3')).toBe('10.1.2.3');
    expect(server.checkIP('fe80::1')).toBe('fe80::1');
    expect(server.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);

    const issued = await ca.issueDeviceCertificate({ commonName: 'NH-0001', notAfter: new Date('2061-02-03T04:05:06Z') });
    const device = new X509Certificate(issued.certPem);
    expect(Buffer.from(issued.certDer).equals(device.raw)).toBe(true);
    expect(device.subject).toBe('CN=NH-0001');
    expect(device.verify(caCert.publicKey)).toBe(true);
    expect(device.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(new Date(device.validTo).toISOString()).toBe('2061-02-03T04:05:06.000Z'); // GeneralizedTime past 2049
    expect(device.checkPrivateKey(await import('node:crypto').then((c) => c.createPrivateKey(issued.keyPem)))).toBe(true);
  });

  it('certifies an external public key without generating a private key', async () => {
    const ca = await TestCertificateAuthority.create();
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const issued = await ca.issueDeviceCertificate({ commonName: 'NH-HSM', publicKeyPem });
    expect(issued.keyPem).toBe('');
    const cert = new X509Certificate(issued.certPem);
    expect(cert.publicKey.export({ type: 'spki', format: 'pem' })).toBe(publicKeyPem);
    expect(cert.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
  });

  it('a device install pulls no certificate library (the test CA uses node:crypto)', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> };
    for (const name of ['@peculiar/x509', 'reflect-metadata', 'tsyringe']) expect(Object.keys(pkg.dependencies)).not.toContain(name);
  });
});
