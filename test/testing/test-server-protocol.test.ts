import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSharedSecretHeaders } from '../../src/auth/shared-secret.js';
import type { SharedSecretCredential } from '../../src/testing/index.js';
import { NervesHubTestServer, TestCertificateAuthority, verifyNh1Headers } from '../../src/testing/index.js';
import type { IssuedCertificate } from '../../src/testing/index.js';
import { connect } from './helpers.js';

describe('Phoenix routing details', () => {
  let server: NervesHubTestServer;
  let cert: IssuedCertificate;
  // A server per test; only the idle-timeout test runs with a short idle timeout (a loaded machine
  // can leave another test's connection silent for 300 ms).
  const startServer = async (options: { idleTimeoutMs?: number } = {}): Promise<void> => {
    server = await NervesHubTestServer.start(options);
    cert = await server.issueDeviceCertificate('NH-P');
  };
  beforeEach(() => startServer());
  afterEach(() => server.close());

  it('stamps the 101 answer with a Date header', async () => {
    const headers = await new Promise<Record<string, string | string[] | undefined>>((resolve, reject) => {
      const req = https.request(`${server.httpsUrl}/socket/websocket?vsn=2.0.0`, {
        ca: server.serverCaPem,
        cert: cert.certPem,
        key: cert.keyPem,
        agent: false,
        headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
      });
      req.on('upgrade', (res, socket) => {
        socket.destroy();
        resolve({ ...res.headers, status: String(res.statusCode) });
      });
      req.on('error', reject);
      req.end();
    });
    expect(headers.status).toBe('101');
    expect(Math.abs(Date.parse(String(headers.date)) - Date.now())).toBeLessThan(5000);
  });

  it('phx_leave is acknowledged and the topic is no longer joined', async () => {
    const client = await connect(server, { cert: cert.certPem, key: cert.keyPem });
    client.send(['1', '1', 'console', 'phx_join', {}]);
    await client.next((f) => f[1] === '1');
    // A message for an older join of the topic (stale join_ref) is dropped without a reply.
    client.send(['0', '9', 'console', 'phx_leave', {}]);
    await server.waitForFrame((f) => f.ref === '9');
    expect(server.connections().find((c) => c.identifier === 'NH-P')?.joinedTopics).toEqual(['console']);
    client.send(['1', '2', 'console', 'phx_leave', {}]);
    expect(await client.next((f) => f[1] === '2')).toEqual(['1', '2', 'console', 'phx_reply', { status: 'ok', response: {} }]);
    expect(client.received.some((f) => f[1] === '9')).toBe(false);
    expect(server.connections().find((c) => c.identifier === 'NH-P')?.joinedTopics).toEqual([]);
    client.send(['1', '3', 'console', 'up', { data: 'x' }]);
    expect(await client.next((f) => f[1] === '3')).toEqual(['1', '3', 'console', 'phx_reply', { status: 'error', response: { reason: 'unmatched topic' } }]);
    client.ws.terminate();
  });

  it('a non-object join payload crashes the join; a legacy null join_ref join works', async () => {
    const client = await connect(server, { cert: cert.certPem, key: cert.keyPem });
    client.send(['1', '1', 'device', 'phx_join', 'params?']);
    expect(await client.next((f) => f[1] === '1')).toEqual(['1', '1', 'device', 'phx_reply', { status: 'error', response: { reason: 'join crashed' } }]);
    const joins = server.joinCount('NH-P');
    client.send([null, '2', 'device', 'phx_join', {}]);
    expect(await client.next((f) => f[1] === '2')).toEqual([null, '2', 'device', 'phx_reply', { status: 'ok', response: {} }]);
    expect(server.joinCount('NH-P')).toBe(joins + 1);
    server.push('NH-P', 'reboot', {});
    expect(await client.next((f) => f[3] === 'reboot')).toEqual([null, null, 'device', 'reboot', {}]);
    client.ws.terminate();
  });

  it('closes a connection that stays silent past idleTimeoutMs', async () => {
    await server.close();
    await startServer({ idleTimeoutMs: 300 });
    const client = await connect(server, { cert: cert.certPem, key: cert.keyPem });
    const started = Date.now();
    const closed = await client.closed;
    expect(closed.code).toBe(1006);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('keeps TLS 1.2 only after a signer CA is hot-registered', async () => {
    server.registerSignerCa((await TestCertificateAuthority.create()).certPem);
    const protocol = await new Promise<string | null>((resolve, reject) => {
      https
        .get(`${server.httpsUrl}/status/alive`, { ca: server.serverCaPem, agent: false }, (res) => {
          resolve((res.socket as TLSSocket).getProtocol());
          res.resume();
        })
        .on('error', reject);
    });
    expect(protocol).toBe('TLSv1.2');
  });
});

describe('cross-check with the SDK signer (src/auth/shared-secret.ts)', () => {
  it('every header set the SDK produces verifies, for random inputs (seeded)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 30 }),
        fc.string({ minLength: 1, maxLength: 30 }),
        fc.constantFrom('sha256', 'sha512'),
        fc.integer({ min: 0, max: 4_000_000_000 }),
        async (identifier, secret, digest, signedAt) => {
          const cred: SharedSecretCredential = { key: 'nhp_x', secret, kind: 'product' };
          const headers = createSharedSecretHeaders({ key: 'nhp_x', secret, identifier, signedAt, digest });
          const verdict = await verifyNh1Headers({ ...headers }, { lookup: () => cred, nowMs: signedAt * 1000 + 1000, maxAgeSeconds: 90, enabled: true });
          expect(verdict).toMatchObject({ ok: true, identifier, signedAtMs: signedAt * 1000 });
        },
      ),
      { seed: 77, numRuns: 40 },
    );
  });
});
