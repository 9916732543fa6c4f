import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NervesHubSocket } from '../../src/socket/nerves-hub-socket.js';
import type { DisconnectedInfo } from '../../src/socket/socket-events.js';
import { NervesHubTestServer } from '../../src/testing/index.js';
import { FAST, FIRMWARE, certificateSocket, nextError, nextEvent, sleep } from './helpers.js';

let server: NervesHubTestServer;
beforeAll(async () => {
  server = await NervesHubTestServer.start();
});
afterAll(async () => {
  await server.close();
});

describe('reconnect', () => {
  it('after a server drop: reports the disconnect, reconnects, rejoins with re-read params', async () => {
    let downloading: string | null = null;
    let version = 1;
    const socket = await certificateSocket(server, 'NH-RC-DROP', {
      currentlyDownloadingUuid: () => downloading,
      firmware: () => ({ ...FIRMWARE, version: `1.0.${version}` }),
    });
    const first = nextEvent(socket, 'connected');
    socket.connect();
    await first;
    expect(server.lastJoinParams('NH-RC-DROP')).toMatchObject({ currently_downloading_uuid: null, nerves_fw_version: '1.0.1' });
    downloading = 'fw-uuid-2';
    version = 2;
    const disconnected = nextEvent(socket, 'disconnected');
    const second = nextEvent(socket, 'connected');
    expect(server.dropConnections('NH-RC-DROP')).toBe(1);
    const [d] = await disconnected;
    expect(d.reason).toBe('closed by the server (code 1006)');
    expect(d.willRetryInMs).toBeGreaterThanOrEqual(FAST.reconnectBaseMs);
    expect(d.willRetryInMs).toBeLessThanOrEqual(FAST.reconnectBaseMs * 1.5);
    expect((await second)[0]).toEqual({ joinCount: 2 });
    expect(server.lastJoinParams('NH-RC-DROP')).toMatchObject({ currently_downloading_uuid: 'fw-uuid-2', nerves_fw_version: '1.0.2' });
    expect(server.joinCount('NH-RC-DROP')).toBe(2);
    await socket.close();
  });

  it('after a server restart (close 1012, downtime): retries with backoff and rejoins', async () => {
    const socket = await certificateSocket(server, 'NH-RC-RESTART');
    const first = nextEvent(socket, 'connected');
    socket.connect();
    await first;
    const reasons: DisconnectedInfo[] = [];
    socket.on('disconnected', (d) => reasons.push(d));
    const again = nextEvent(socket, 'connected');
    await server.restart({ downtimeMs: 300 });
    await again;
    expect(server.joinCount('NH-RC-RESTART')).toBe(2);
    expect(reasons.length).toBeGreaterThanOrEqual(2); // the close, then refused attempts during downtime
    expect(reasons[0]?.reason).toBe('closed by the server (code 1012: server restart)');
    expect(reasons.some((r) => r.reason === 'NH_SOCKET_CONNECT')).toBe(true);
    expect(reasons.every((r) => r.willRetryInMs !== null && r.willRetryInMs >= FAST.minReconnectDelayMs)).toBe(true);
    await socket.close();
  });

  it('a failing firmware callback: NH_SOCKET_FIRMWARE_METADATA until it works; later failures reuse the last value', async () => {
    let calls = 0;
    const socket = await certificateSocket(server, 'NH-RC-FW', {
      firmware: async () => {
        calls++;
        if (calls === 1 || calls === 3) throw new Error('KV not readable');
        return { ...FIRMWARE, version: `v${calls}` };
      },
    });
    const connected = nextEvent(socket, 'connected');
    socket.connect();
    const err = await nextError(socket, 'NH_SOCKET_FIRMWARE_METADATA');
    expect(err.message).toContain('KV not readable');
    await connected;
    expect(server.lastJoinParams('NH-RC-FW')).toMatchObject({ nerves_fw_version: 'v2' });
    const again = nextEvent(socket, 'connected');
    server.dropConnections('NH-RC-FW');
    await again;
    expect(calls).toBe(3);
    expect(server.lastJoinParams('NH-RC-FW')).toMatchObject({ nerves_fw_version: 'v2' });
    await socket.close();
  });

  it('a stalled server (no heartbeat replies) → NH_SOCKET_HEARTBEAT_TIMEOUT, then reconnects', async () => {
    const socket = await certificateSocket(server, 'NH-RC-HB', { heartbeatIntervalMs: 100 });
    const first = nextEvent(socket, 'connected');
    socket.connect();
    await first;
    server.stall('NH-RC-HB');
    const t0 = Date.now();
    const err = await nextError(socket, 'NH_SOCKET_HEARTBEAT_TIMEOUT');
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(err.message).toContain('100 ms');
    const [d] = await nextEvent(socket, 'disconnected');
    expect(d.reason).toBe('NH_SOCKET_HEARTBEAT_TIMEOUT');
    await nextEvent(socket, 'connected');
    // at least one rejoin; on a loaded machine a 100 ms heartbeat can also time out on the new connection
    expect(server.joinCount('NH-RC-HB')).toBeGreaterThanOrEqual(2);
    await socket.close();
  });

  it('the server closing the device topic (phx_close) → a fresh join after rejoinAfterMs', async () => {
    const socket = await certificateSocket(server, 'NH-RC-TOPIC');
    const first = nextEvent(socket, 'connected');
    socket.connect();
    await first;
    const join = server.frames.filter((f) => f.identifier === 'NH-RC-TOPIC' && f.event === 'phx_join').at(-1);
    const again = nextEvent(socket, 'connected');
    server.sendRaw('NH-RC-TOPIC', JSON.stringify([join?.joinRef, null, 'device', 'phx_close', {}]));
    await again;
    expect(server.joinCount('NH-RC-TOPIC')).toBe(2);
    expect(socket.joined).toBe(true);
    await socket.close();
  });

  it('two sockets with the same identity kicking each other back off (no tight loop)', async () => {
    const opts = { reconnectBaseMs: 40, reconnectMaxMs: 640, reconnectJitterRatio: 0, minReconnectDelayMs: 40, stableConnectionMs: 5_000 };
    const a = await certificateSocket(server, 'NH-RC-DUP', opts);
    const cert = await server.issueDeviceCertificate('NH-RC-DUP');
    const b = new NervesHubSocket({
      url: server.url,
      auth: { type: 'certificate', provider: { getTlsMaterial: async () => ({ certificateChain: [cert.certPem], key: cert.keyPem }) } },
      firmware: FIRMWARE,
      tls: { ca: server.serverCaPem },
      ...FAST,
      ...opts,
    });
    const delays: number[] = [];
    for (const s of [a, b]) s.on('disconnected', (d) => d.willRetryInMs !== null && delays.push(d.willRetryInMs));
    a.connect();
    b.connect();
    await sleep(1500);
    await Promise.all([a.close(), b.close()]);
    const joins = server.joinCount('NH-RC-DUP');
    // a naive reset-on-join would rejoin every ~60 ms per socket (≈ 50 joins); the backoff grows instead
    expect(joins).toBeLessThan(20);
    expect(Math.max(...delays)).toBeGreaterThanOrEqual(160);
  });

  it('reconnectBackoff() decides each cycle; the minimum delay still applies', async () => {
    let hookCalls = 0;
    const socket = await certificateSocket(server, 'NH-RC-HOOK', {
      reconnectBackoff: () => {
        hookCalls++;
        return [0, 77];
      },
      minReconnectDelayMs: 33,
    });
    const first = nextEvent(socket, 'connected');
    socket.connect();
    await first;
    server.refuseUpgrades({ status: 503, count: 2 });
    const delays: number[] = [];
    socket.on('disconnected', (d) => delays.push(d.willRetryInMs ?? -1));
    const again = nextEvent(socket, 'connected');
    server.dropConnections('NH-RC-HOOK');
    await again;
    expect(delays).toEqual([33, 77, 77]);
    expect(hookCalls).toBe(1);
    await socket.close();
  });
});
