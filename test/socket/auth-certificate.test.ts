import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NervesHubSocket } from '../../src/socket/nerves-hub-socket.js';
import { NervesHubTestServer, TestCertificateAuthority } from '../../src/testing/index.js';
import { FAST, FIRMWARE, certificateSocket, nextError, nextEvent, staticProvider } from './helpers.js';

let server: NervesHubTestServer;
let tlsRefusingServer: NervesHubTestServer;
beforeAll(async () => {
  server = await NervesHubTestServer.start({ unregisteredDeviceRefusal: 'upgrade' });
  tlsRefusingServer = await NervesHubTestServer.start(); // default: refused in the handshake, like nerves_hub_web
});
afterAll(async () => {
  await server.close();
  await tlsRefusingServer.close();
});

function socketWith(s: NervesHubTestServer, certPem: string, keyPem: string, extra: Partial<ConstructorParameters<typeof NervesHubSocket>[0]> = {}): NervesHubSocket {
  return new NervesHubSocket({
    url: s.url,
    auth: { type: 'certificate', provider: staticProvider({ certificateChain: [certPem], key: keyPem }) },
    firmware: FIRMWARE,
    tls: { ca: s.serverCaPem },
    ...FAST,
    ...extra,
  });
}

describe('certificate auth (mTLS on 127.0.0.1)', () => {
  it('a registered device certificate joins over /socket/websocket with vsn=2.0.0', async () => {
    const socket = await certificateSocket(server, 'NH-CERT-OK');
    const connected = nextEvent(socket, 'connected');
    socket.connect();
    expect((await connected)[0]).toEqual({ joinCount: 1 });
    expect(socket.joined).toBe(true);
    const upgrade = server.upgrades.find((u) => u.identifier === 'NH-CERT-OK');
    expect(upgrade).toMatchObject({ status: 101, path: '/socket/websocket', query: { vsn: '2.0.0' }, authMethod: 'certificate' });
    expect(Object.keys(upgrade?.headers ?? {}).filter((h) => h.startsWith('x-nh-'))).toEqual([]);
    await socket.close();
    expect(socket.joined).toBe(false);
  });

  it('sends the signer certificate in the chain (intermediate signer registered only as its own CA)', async () => {
    const root = await TestCertificateAuthority.create({ commonName: 'Other Root' });
    // the server trusts `root` only; the device certificate comes from it directly but we add the root as "signer"
    server.registerSignerCa(root.certPem);
    const dev = await root.issueDeviceCertificate({ commonName: 'NH-CERT-SIGNER' });
    server.registerDevice('NH-CERT-SIGNER');
    const socket = new NervesHubSocket({
      url: server.url,
      auth: { type: 'certificate', provider: staticProvider({ certificateChain: [dev.certPem, root.certPem], key: dev.keyPem }) },
      firmware: FIRMWARE,
      tls: { ca: server.serverCaPem },
      ...FAST,
    });
    const connected = nextEvent(socket, 'connected');
    socket.connect();
    await connected;
    await socket.close();
  });

  it('a certificate from an unregistered CA → NH_SOCKET_TLS_UNKNOWN_CA, never joins, keeps retrying', async () => {
    const rogue = await TestCertificateAuthority.create({ commonName: 'Rogue CA' });
    const dev = await rogue.issueDeviceCertificate({ commonName: 'NH-CERT-ROGUE' });
    const socket = socketWith(server, dev.certPem, dev.keyPem);
    const errors: string[] = [];
    socket.on('error', (e) => errors.push(e.code));
    const before = server.tlsRejections.length;
    socket.connect();
    const err = await nextError(socket, 'NH_SOCKET_TLS_UNKNOWN_CA');
    expect(err.message).toMatch(/signer CA registered/);
    await nextEvent(socket, 'reconnecting');
    await nextError(socket, 'NH_SOCKET_TLS_UNKNOWN_CA');
    await socket.close();
    expect(socket.joined).toBe(false);
    expect(server.joinCount('NH-CERT-ROGUE')).toBe(0);
    expect(server.tlsRejections.length).toBeGreaterThanOrEqual(before + 2);
    expect(new Set(errors)).toEqual(new Set(['NH_SOCKET_TLS_UNKNOWN_CA']));
  });

  it('the same over TLS 1.3 (the refusal comes after the client finished its handshake)', async () => {
    const tls13 = await NervesHubTestServer.start({ enableTls13: true });
    const rogue = await TestCertificateAuthority.create({ commonName: 'Rogue CA 13' });
    const dev = await rogue.issueDeviceCertificate({ commonName: 'NH-CERT-ROGUE13' });
    const socket = socketWith(tls13, dev.certPem, dev.keyPem, { tls: { ca: tls13.serverCaPem, minVersion: 'TLSv1.3' } });
    socket.connect();
    await nextError(socket, 'NH_SOCKET_TLS_UNKNOWN_CA');
    await socket.close();
    expect(tls13.tlsRejections.some((r) => r.commonName === 'NH-CERT-ROGUE13')).toBe(true);
    const ok = await tls13.issueDeviceCertificate('NH-CERT-OK13');
    const good = socketWith(tls13, ok.certPem, ok.keyPem, { tls: { ca: tls13.serverCaPem, minVersion: 'TLSv1.3' } });
    const connected = nextEvent(good, 'connected');
    good.connect();
    await connected;
    await good.close();
    await tls13.close();
  });

  it('an expired device certificate → NH_SOCKET_CERT_EXPIRED', async () => {
    const dev = await server.issueDeviceCertificate('NH-CERT-EXPIRED', { notBefore: new Date(Date.now() - 10 * 86400_000), notAfter: new Date(Date.now() - 86400_000) });
    const socket = socketWith(server, dev.certPem, dev.keyPem);
    socket.connect();
    const err = await nextError(socket, 'NH_SOCKET_CERT_EXPIRED');
    expect(err.message).toMatch(/expired on \d{4}-\d\d-\d\d: renew/);
    await socket.close();
    expect(server.joinCount('NH-CERT-EXPIRED')).toBe(0);
    expect(server.tlsRejections.some((r) => r.commonName === 'NH-CERT-EXPIRED')).toBe(true);
  });

  it('a wrong device clock (1970) with a refused certificate → NH_SOCKET_CLOCK_NOT_SET', async () => {
    const dev = await server.issueDeviceCertificate('NH-CERT-CLOCK', { notBefore: new Date(Date.now() + 86400_000), notAfter: new Date(Date.now() + 2 * 86400_000) });
    const socket = socketWith(server, dev.certPem, dev.keyPem, { now: () => 5_000 });
    socket.connect();
    const err = await nextError(socket, 'NH_SOCKET_CLOCK_NOT_SET');
    expect(err.message).toContain('the device clock says 1970-01-01: set the time first');
    await socket.close();
  });

  it('CN not registered → 401 at the upgrade (NH_SOCKET_UNAUTHORIZED) or a TLS refusal (NH_SOCKET_TLS_UNKNOWN_CA)', async () => {
    const dev = await server.issueDeviceCertificate('NH-CERT-UNREG', { register: false });
    const a = socketWith(server, dev.certPem, dev.keyPem);
    a.connect();
    const e1 = await nextError(a, 'NH_SOCKET_UNAUTHORIZED');
    expect(e1.message).toMatch(/401/);
    await a.close();
    expect(server.upgrades.filter((u) => u.status === 401 && u.refusal === 'device_not_registered').length).toBeGreaterThan(0);

    const dev2 = await tlsRefusingServer.issueDeviceCertificate('NH-CERT-UNREG2', { register: false });
    const b = socketWith(tlsRefusingServer, dev2.certPem, dev2.keyPem);
    b.connect();
    await nextError(b, 'NH_SOCKET_TLS_UNKNOWN_CA');
    await b.close();
    expect(tlsRefusingServer.joinCount('NH-CERT-UNREG2')).toBe(0);
  });

  it("a server certificate we don't trust → NH_SOCKET_SERVER_CERT_UNTRUSTED (custom CA and default roots)", async () => {
    const other = await TestCertificateAuthority.create({ commonName: 'Unrelated CA' });
    const dev = await server.issueDeviceCertificate('NH-CERT-UNTRUSTED');
    const a = socketWith(server, dev.certPem, dev.keyPem, { tls: { ca: other.certPem } });
    a.connect();
    const err = await nextError(a, 'NH_SOCKET_SERVER_CERT_UNTRUSTED');
    expect(err.message).toMatch(/serverCa/);
    await a.close();
    const b = socketWith(server, dev.certPem, dev.keyPem, { tls: {} });
    b.connect();
    await nextError(b, 'NH_SOCKET_SERVER_CERT_UNTRUSTED');
    await b.close();
    expect(server.joinCount('NH-CERT-UNTRUSTED')).toBe(0);
  });

  it('wrong servername → NH_SOCKET_SERVER_NAME_MISMATCH', async () => {
    const dev = await server.issueDeviceCertificate('NH-CERT-SNI');
    const s = socketWith(server, dev.certPem, dev.keyPem, { tls: { ca: server.serverCaPem, servername: 'devices.example.com' } });
    s.connect();
    await nextError(s, 'NH_SOCKET_SERVER_NAME_MISMATCH');
    await s.close();
  });

  it('503 with the reason header → NH_SOCKET_SERVICE_UNAVAILABLE, then joins once the server recovers', async () => {
    server.refuseUpgrades({ status: 503, count: 2 });
    const socket = await certificateSocket(server, 'NH-CERT-503');
    const errors: string[] = [];
    socket.on('error', (e) => errors.push(e.message));
    const connected = nextEvent(socket, 'connected');
    socket.connect();
    await connected;
    await socket.close();
    expect(errors).toHaveLength(2);
    expect(errors[0]).toContain('(503)');
    expect(errors[0]).toContain('the platform could not be reached to authenticate this device');
  });

  it('asks the provider at every attempt; a failing provider → NH_SOCKET_CERT_PROVIDER and retries', async () => {
    const dev = await server.issueDeviceCertificate('NH-CERT-PROVIDER');
    let calls = 0;
    const socket = new NervesHubSocket({
      url: server.url,
      auth: {
        type: 'certificate',
        provider: {
          async getTlsMaterial() {
            calls++;
            if (calls <= 2) throw new Error('secure element busy');
            return { certificateChain: [dev.certPem], key: dev.keyPem };
          },
        },
      },
      firmware: FIRMWARE,
      tls: { ca: server.serverCaPem },
      ...FAST,
    });
    const errors: string[] = [];
    socket.on('error', (e) => errors.push(`${e.code} ${e.message}`));
    const connected = nextEvent(socket, 'connected');
    socket.connect();
    await connected;
    await socket.close();
    expect(calls).toBe(3);
    expect(errors).toEqual([
      'NH_SOCKET_CERT_PROVIDER the certificate provider failed: secure element busy',
      'NH_SOCKET_CERT_PROVIDER the certificate provider failed: secure element busy',
    ]);
  });

  it('a wrong path is redirected (followed, ≤ 2) to a non-socket page → NH_SOCKET_HTTP_STATUS; wss → ws redirects are refused', async () => {
    const redirecting = await NervesHubTestServer.start({ redirectLocation: '/status/alive' });
    const dev = await redirecting.issueDeviceCertificate('NH-CERT-REDIRECT');
    const a = socketWith(redirecting, dev.certPem, dev.keyPem, { url: `${redirecting.url}/not-a-socket/websocket` });
    a.connect();
    const e = await nextError(a, 'NH_SOCKET_HTTP_STATUS');
    expect(e.message).toContain('HTTP 200');
    await a.close();
    await redirecting.close();

    const insecure = await NervesHubTestServer.start({ redirectLocation: 'ws://127.0.0.1:9/socket/websocket' });
    const dev2 = await insecure.issueDeviceCertificate('NH-CERT-REDIRECT2');
    const b = socketWith(insecure, dev2.certPem, dev2.keyPem, { url: `${insecure.url}/elsewhere` });
    b.connect();
    await nextError(b, 'NH_SOCKET_INSECURE_REDIRECT');
    await b.close();
    await insecure.close();
  });

  it('TCP refused → NH_SOCKET_CONNECT; unresolvable host → NH_SOCKET_DNS', async () => {
    const dev = await server.issueDeviceCertificate('NH-CERT-NET');
    const closed = await NervesHubTestServer.start();
    const port = closed.port;
    await closed.close();
    const a = socketWith(server, dev.certPem, dev.keyPem, { url: `wss://127.0.0.1:${port}` });
    a.connect();
    const e = await nextError(a, 'NH_SOCKET_CONNECT');
    expect(e.message).toContain('ECONNREFUSED');
    await a.close();
    const b = socketWith(server, dev.certPem, dev.keyPem, { url: 'wss://nerves-hub-link-test.invalid' });
    b.connect();
    await nextError(b, 'NH_SOCKET_DNS', 10_000);
    await b.close();
  });
});
