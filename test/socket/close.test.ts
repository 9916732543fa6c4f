import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CertificateProvider } from '../../src/auth/certificate-provider.js';
import { NervesHubSocket } from '../../src/socket/nerves-hub-socket.js';
import { NervesHubTestServer } from '../../src/testing/index.js';
import { FAST, FIRMWARE, certificateSocket, nextEvent, openHandles, sleep, trackResources } from './helpers.js';

// Own file, so the handle baseline is not disturbed by other tests' leftovers.
let server: NervesHubTestServer;
beforeAll(async () => {
  server = await NervesHubTestServer.start();
});
afterAll(async () => {
  await server.close();
});

describe('close()', () => {
  async function settle(): Promise<void> {
    await sleep(50);
  }

  it('leaves no socket or timer behind: joined, mid-backoff, mid-provider, mid-handshake', async () => {
    await settle();
    const resources = await trackResources();

    // joined (with heartbeats, validation poll and a pending push)
    const joined = await certificateSocket(server, 'NH-CL-1', { firmwareValidated: () => false, firmwareValidationPollMs: 10 });
    const c = nextEvent(joined, 'connected');
    joined.connect();
    const consoleTopic = joined.joinTopic('console', () => ({ console_version: '2.0.0' }));
    await c;
    await server.waitForFrame((f) => f.identifier === 'NH-CL-1' && f.topic === 'console' && f.event === 'phx_join');
    void consoleTopic.request('ping', {}, 60_000);
    joined.sendStatus({ status: 'received' });
    const closedEvent = nextEvent(joined, 'disconnected');
    await joined.close();
    expect((await closedEvent)[0]).toEqual({ reason: 'closed by the app', willRetryInMs: null });
    expect(joined.joined).toBe(false);

    // waiting in backoff after refusals
    server.refuseUpgrades({ status: 503 });
    const backoff = await certificateSocket(server, 'NH-CL-2', { reconnectBaseMs: 5_000, reconnectMaxMs: 5_000 });
    backoff.connect();
    await nextEvent(backoff, 'disconnected');
    await backoff.close();
    server.acceptUpgrades();

    // provider never answers
    const hanging: CertificateProvider = { getTlsMaterial: () => new Promise(() => undefined) };
    const pending = new NervesHubSocket({ url: server.url, auth: { type: 'certificate', provider: hanging }, firmware: FIRMWARE, ...FAST });
    pending.connect();
    await sleep(20);
    await pending.close();

    // closed right after connect() (TCP/TLS handshake in flight)
    const racing = await certificateSocket(server, 'NH-CL-3');
    racing.connect();
    await sleep(1);
    await racing.close();

    await server.waitForDisconnect('NH-CL-1');
    await settle();
    // a fired timer's destroy hook runs a tick after its callback (our own settle() timer)
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    resources.stop();
    expect(resources.alive()).toEqual([]);
    expect(openHandles().filter((h) => /TLS|TCPSocket/.test(h))).toEqual([]);
  });

  it('connect() after close() works, and close() twice is harmless', async () => {
    const socket = await certificateSocket(server, 'NH-CL-AGAIN');
    for (let i = 1; i <= 2; i++) {
      const c = nextEvent(socket, 'connected');
      socket.connect();
      socket.connect();
      await c;
      await socket.close();
      await socket.close();
    }
    expect(server.joinCount('NH-CL-AGAIN')).toBe(2);
  });
});
