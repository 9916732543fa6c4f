import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { NervesHubError } from '../../src/errors.js';
import { createDeviceCertificate, createDeviceCertificateFiles, createSignerCa, createSignerCaFiles, type CertificateWithKey } from '../../src/provisioning/index.js';
import { fromPem, readCertificate, toPem } from '../../src/provisioning/x509/certificate.js';
import { NervesHubSocket } from '../../src/socket/nerves-hub-socket.js';
import { NervesHubTestServer } from '../../src/testing/index.js';
import { FAST, FIRMWARE, nextEvent, staticProvider } from '../socket/helpers.js';
import { cli, tempDir } from './helpers.js';

let server: NervesHubTestServer;
let signer: CertificateWithKey;
beforeAll(async () => {
  server = await NervesHubTestServer.start();
  signer = await createSignerCa({ commonName: 'Provisioning test signer', organization: 'nhl-tests' });
  server.registerSignerCa(signer.certPem);
});
afterAll(async () => server.close());
const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));
function dir(): string {
  const t = tempDir('nhl-cert-');
  cleanups.push(t.cleanup);
  return t.dir;
}

/** `openssl verify` of `cert` against `ca` (strict X.509 checks, TLS client purpose). */
function opensslVerify(ca: string, cert: string): { ok: boolean; output: string } {
  const d = dir();
  writeFileSync(join(d, 'ca.pem'), ca);
  writeFileSync(join(d, 'cert.pem'), cert);
  try {
    return { ok: true, output: execFileSync('openssl', ['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', join(d, 'ca.pem'), join(d, 'cert.pem')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** Connects with `device`; resolves 'joined' or the first socket error code. */
async function tryJoin(device: CertificateWithKey): Promise<string> {
  const socket = new NervesHubSocket({
    url: server.url,
    auth: { type: 'certificate', provider: staticProvider({ certificateChain: [device.certPem], key: device.keyPem }) },
    firmware: FIRMWARE,
    fwupVersion: '1.16.0',
    tls: { ca: server.serverCaPem },
    ...FAST,
  });
  try {
    const outcome = Promise.race([nextEvent(socket, 'connected').then(() => 'joined'), nextEvent(socket, 'error').then(([e]: [NervesHubError]) => e.code)]);
    socket.connect();
    return await outcome;
  } finally {
    await socket.close();
  }
}

describe('signer CA and device certificates', () => {
  it('the signer is a P-256 CA with the extensions NervesHub looks for (CA, path length 0, keyCertSign, SKI = AKI)', () => {
    const cert = new X509Certificate(signer.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails).toMatchObject({ namedCurve: 'prime256v1' });
    expect(cert.verify(cert.publicKey)).toBe(true);
    const fields = readCertificate(cert.raw);
    expect(fields.subjectKeyId?.length).toBe(20);
    expect(fields.authorityKeyId?.equals(fields.subjectKeyId!)).toBe(true);
    const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: signer.certPem, encoding: 'utf8' });
    expect(text).toMatch(/Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/);
    expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    expect(new Date(cert.validTo).getUTCFullYear() - new Date().getUTCFullYear()).toBe(31);
  });

  it('a device certificate: CN = identifier, AKI = signer SKI, clientAuth, 20-byte positive serial; openssl verify accepts it; the server lets it join', async () => {
    const device = await createDeviceCertificate({ signer, identifier: 'NH-PROV-OK' });
    const cert = new X509Certificate(device.certPem);
    expect(cert.subject).toBe('CN=NH-PROV-OK');
    expect(cert.issuer).toBe(new X509Certificate(signer.certPem).subject);
    expect(cert.ca).toBe(false);
    expect(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(device.keyPem))).toBe(true);
    expect(device.keyPem).toMatch(/^-----BEGIN EC PRIVATE KEY-----/);
    const fields = readCertificate(cert.raw);
    expect(fields.authorityKeyId?.equals(readCertificate(new X509Certificate(signer.certPem).raw).subjectKeyId!)).toBe(true);
    expect(fields.serial.length).toBe(20);
    expect(fields.serial[0]! & 0x80).toBe(0);
    expect(cert.serialNumber.toLowerCase()).toBe(device.serial);
    expect(opensslVerify(signer.certPem, device.certPem)).toMatchObject({ ok: true });
    server.registerDevice('NH-PROV-OK');
    expect(await tryJoin(device)).toBe('joined');
    expect(server.joinCount('NH-PROV-OK')).toBe(1);
  });

  it('refused: a certificate from another (unregistered) signer, an expired one, and one whose CN is not a registered device', async () => {
    const rogue = await createSignerCa({ commonName: 'Rogue signer' });
    server.registerDevice('NH-PROV-ROGUE');
    const wrongSigner = await createDeviceCertificate({ signer: rogue, identifier: 'NH-PROV-ROGUE' });
    expect(opensslVerify(signer.certPem, wrongSigner.certPem)).toMatchObject({ ok: false, output: expect.stringMatching(/unable to get local issuer certificate/) });
    expect(await tryJoin(wrongSigner)).toBe('NH_SOCKET_TLS_UNKNOWN_CA');

    server.registerDevice('NH-PROV-EXPIRED');
    const expired = await createDeviceCertificate({ signer, identifier: 'NH-PROV-EXPIRED', notBefore: new Date(Date.now() - 10 * 86400_000), notAfter: new Date(Date.now() - 86400_000) });
    expect(opensslVerify(signer.certPem, expired.certPem)).toMatchObject({ ok: false, output: expect.stringMatching(/certificate has expired/) });
    expect(await tryJoin(expired)).toBe('NH_SOCKET_CERT_EXPIRED');

    const wrongCn = await createDeviceCertificate({ signer, identifier: 'NH-PROV-NOT-REGISTERED' });
    expect(opensslVerify(signer.certPem, wrongCn.certPem)).toMatchObject({ ok: true });
    expect(await tryJoin(wrongCn)).toMatch(/^NH_SOCKET_/);
    for (const id of ['NH-PROV-ROGUE', 'NH-PROV-EXPIRED', 'NH-PROV-NOT-REGISTERED']) expect(server.joinCount(id), id).toBe(0);
    expect(server.tlsRejections.find((r) => r.commonName === 'NH-PROV-NOT-REGISTERED')?.reason).toBe('DEVICE_NOT_REGISTERED');
    expect(server.tlsRejections.find((r) => r.commonName === 'NH-PROV-EXPIRED')?.reason).toMatch(/EXPIRED/);
  });

  it('issues from a request or a public key: the key is the request\'s, no private key is returned', async () => {
    const other = await createDeviceCertificate({ signer, identifier: 'NH-PROV-KEY' });
    const publicKeyPem = new X509Certificate(other.certPem).publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const again = await createDeviceCertificate({ signer, identifier: 'NH-PROV-KEY', publicKeyPem });
    expect(again.keyPem).toBe('');
    expect(new X509Certificate(again.certPem).publicKey.export({ format: 'pem', type: 'spki' })).toBe(publicKeyPem);
  });

  it('refuses a bad signer (expired, not a CA, key of another certificate), a bad identifier, and a tampered or mismatched request', async () => {
    const old = await createSignerCa({ notBefore: new Date(Date.now() - 3 * 86400_000), notAfter: new Date(Date.now() - 86400_000) });
    await expect(createDeviceCertificate({ signer: old, identifier: 'X' })).rejects.toMatchObject({ code: 'NH_PROV_CERT_INVALID', message: expect.stringMatching(/not valid now/) });
    const leaf = await createDeviceCertificate({ signer, identifier: 'LEAF' });
    await expect(createDeviceCertificate({ signer: leaf, identifier: 'X' })).rejects.toMatchObject({ message: expect.stringMatching(/not a CA/) });
    const other = await createSignerCa();
    await expect(createDeviceCertificate({ signer: { certPem: signer.certPem, keyPem: other.keyPem }, identifier: 'X' })).rejects.toMatchObject({ message: expect.stringMatching(/does not belong/) });
    for (const identifier of ['', '  ', 'a\nb', 'x'.repeat(65)]) {
      await expect(createDeviceCertificate({ signer, identifier }), JSON.stringify(identifier)).rejects.toMatchObject({ code: 'NH_PROV_CERT_INVALID' });
    }
    // a request: openssl makes one for a software key
    const d = dir();
    execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(d, 'k.pem'), '-subj', '/CN=NH-PROV-CSR', '-out', join(d, 'r.csr')], { stdio: 'ignore' });
    const csr = readFileSync(join(d, 'r.csr'), 'utf8');
    const issued = await createDeviceCertificate({ signer, identifier: 'NH-PROV-CSR', csr });
    expect(new X509Certificate(issued.certPem).checkPrivateKey((await import('node:crypto')).createPrivateKey(readFileSync(join(d, 'k.pem'))))).toBe(true);
    await expect(createDeviceCertificate({ signer, identifier: 'NH-OTHER', csr })).rejects.toMatchObject({ code: 'NH_PROV_CERT_INVALID', message: expect.stringMatching(/CN 'NH-PROV-CSR', not the identifier 'NH-OTHER'/) });
    const der = fromPem('CERTIFICATE REQUEST', csr);
    der[der.length - 5]! ^= 0x01;
    await expect(createDeviceCertificate({ signer, identifier: 'NH-PROV-CSR', csr: toPem('CERTIFICATE REQUEST', der) })).rejects.toMatchObject({ code: 'NH_PROV_CERT_INVALID', message: expect.stringMatching(/signature does not verify|not usable/) });
  });

  it('files: key files 0600, nothing overwritten, a group-readable signer key refused', async () => {
    const d = dir();
    const s = await createSignerCaFiles(join(d, 'signer'));
    expect(statSync(s.keyFile!).mode & 0o777).toBe(0o600);
    await expect(createSignerCaFiles(join(d, 'signer'))).rejects.toMatchObject({ code: 'NH_PROV_FILE_EXISTS' });
    const dev = await createDeviceCertificateFiles({ signerCertFile: s.certFile, signerKeyFile: s.keyFile!, identifier: 'NH-FILES', outDir: d });
    expect(dev).toMatchObject({ certFile: join(d, 'NH-FILES-cert.pem'), keyFile: join(d, 'NH-FILES-key.pem') });
    expect(statSync(dev.keyFile!).mode & 0o777).toBe(0o600);
    const key = readFileSync(dev.keyFile!, 'utf8');
    await expect(createDeviceCertificateFiles({ signerCertFile: s.certFile, signerKeyFile: s.keyFile!, identifier: 'NH-FILES', outDir: d })).rejects.toMatchObject({ code: 'NH_PROV_FILE_EXISTS' });
    expect(readFileSync(dev.keyFile!, 'utf8')).toBe(key);
    chmodSync(s.keyFile!, 0o640);
    await expect(createDeviceCertificateFiles({ signerCertFile: s.certFile, signerKeyFile: s.keyFile!, identifier: 'NH-FILES-2', outDir: d })).rejects.toMatchObject({ code: 'NH_PROV_KEY_PERMISSIONS' });
    expect(existsSync(join(d, 'NH-FILES-2-cert.pem'))).toBe(false);
  });

  it('nerves-hub-link cert: signer create, device create (--signer NAME), refusals with exit 1, usage errors with exit 2', async () => {
    const d = dir();
    const s = await cli(['cert', 'signer', 'create', 'acme', '--organization', 'acme', '--years', '5'], { cwd: d });
    expect(s.code).toBe(0);
    expect(s.stdout).toMatch(/Created acme-cert.pem and acme-key.pem/);
    const cert = new X509Certificate(readFileSync(join(d, 'acme-cert.pem')));
    expect(cert.subject).toBe('O=acme\nCN=nerves-hub-link signer');
    const dev = await cli(['cert', 'device', 'create', '--signer', 'acme', '--identifier', 'NH-CLI-1'], { cwd: d });
    expect(dev.code).toBe(0);
    expect(dev.stdout).toContain('"auth": {"type":"certificate","certFile":"NH-CLI-1-cert.pem","keyFile":"NH-CLI-1-key.pem"}');
    expect(opensslVerify(readFileSync(join(d, 'acme-cert.pem'), 'utf8'), readFileSync(join(d, 'NH-CLI-1-cert.pem'), 'utf8')).ok).toBe(true);
    const twice = await cli(['cert', 'device', 'create', '--signer', 'acme', '--identifier', 'NH-CLI-1'], { cwd: d });
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/NH_PROV_FILE_EXISTS/);
    expect((await cli(['cert', 'device', 'create', '--identifier', 'NH-CLI-2'], { cwd: d })).code).toBe(2);
    expect((await cli(['cert', 'signer', 'create', 'x', '--years', 'ten'], { cwd: d })).code).toBe(2);
  });
});
