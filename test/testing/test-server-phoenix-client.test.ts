import { Socket } from 'phoenix';
import WebSocket from 'ws';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NervesHubTestServer } from '../../src/testing/index.js';

/** The official phoenix JS client against the test server (what the SDK socket builds on). */
describe('NervesHubTestServer with the phoenix npm client', () => {
  let server: NervesHubTestServer;
  let socket: Socket | undefined;
  beforeEach(async () => {
    server = await NervesHubTestServer.start({ fwupPublicKeys: ['k1'] });
  });
  afterEach(async () => {
    socket?.disconnect();
    await server.close();
  });

  it('joins, heartbeats, receives pushes and rejoins after a dropped connection', async () => {
    const device = await server.issueDeviceCertificate('NH-PHX');
    const tls = { ca: server.serverCaPem, cert: device.certPem, key: device.keyPem };
    class MtlsWebSocket extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols, tls);
      }
    }
    socket = new Socket(`${server.url}/socket`, { transport: MtlsWebSocket, heartbeatIntervalMs: 50, reconnectAfterMs: () => 20 } as never);
    socket.connect();
    const channel = socket.channel('device', { device_api_version: '2.3.0', fwup_public_keys: 'on_connect' });
    const events: Array<[string, unknown]> = [];
    for (const name of ['fwup_public_keys', 'extensions:get', 'update']) {
      channel.on(name, (payload: unknown) => {
        events.push([name, payload]);
      });
    }
    const reply = await new Promise<unknown>((resolve, reject) => channel.join().receive('ok', resolve).receive('error', reject));
    expect(reply).toEqual({});
    expect(server.upgrades.at(-1)).toMatchObject({ path: '/socket/websocket', query: { vsn: '2.0.0' }, status: 101 });
    await server.waitForFrame((f) => f.event === 'heartbeat' && f.identifier === 'NH-PHX');
    const update = server.pushUpdate('NH-PHX', { firmwareUrl: server.hostFirmware('x.fw', new Uint8Array([1, 2, 3])), firmwareMeta: { uuid: 'u' } });
    await expect.poll(() => events.map(([name]) => name)).toEqual(['fwup_public_keys', 'extensions:get', 'update']);
    expect(events[0]![1]).toEqual({ keys: ['k1'] });
    expect(events[2]![1]).toEqual(update);
    channel.push('status_update', { status: 'received' });
    await server.waitForFrame((f) => f.event === 'status_update');
    server.dropConnections('NH-PHX');
    await server.waitForJoin('NH-PHX', { count: 2 });
    expect(server.joinCount('NH-PHX')).toBe(2);
  });
});
