import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isNervesHubError } from '../../src/errors.js';
import { NervesHubTestServer } from '../../src/testing/index.js';
import { certificateSocket, nextEvent, sleep } from './helpers.js';

let server: NervesHubTestServer;
beforeAll(async () => {
  server = await NervesHubTestServer.start({ extensions: ['health', 'geo'] });
});
afterAll(async () => {
  await server.close();
});

describe('joinTopic (console / extensions over the same connection)', () => {
  it('joins with params, gets the join reply, pushes, requests, rejoins after a reconnect, leaves', async () => {
    const socket = await certificateSocket(server, 'NH-TOPIC-1');
    socket.connect();
    expect(() => socket.joinTopic('device')).toThrow(expect.objectContaining({ code: 'NH_INVALID_OPTIONS' }));
    let version = '0.0.1';
    const ext = socket.joinTopic('extensions', () => ({ health: version }));
    const joins: unknown[] = [];
    ext.onJoin((r) => joins.push(r));
    const checks: Array<Record<string, unknown>> = [];
    ext.on('health:check', (p) => {
      checks.push(p);
      throw new Error('listener bug must not matter');
    });
    await nextEvent(socket, 'connected');
    await server.waitForFrame((f) => f.identifier === 'NH-TOPIC-1' && f.topic === 'extensions' && f.event === 'phx_join');
    await sleep(20);
    expect(joins).toEqual([['health', 'geo']]);
    expect(ext.joined).toBe(true);

    expect(ext.push('health:report', { value: { ok: true } })).toBe(true);
    const report = await server.waitForFrame((f) => f.identifier === 'NH-TOPIC-1' && f.event === 'health:report');
    expect(report).toMatchObject({ topic: 'extensions', payload: { value: { ok: true } } });
    expect(await ext.request('geo:location:update', { latitude: 1 }, 50)).toEqual({ status: 'timeout', response: null });

    const joinFrame = server.frames.filter((f) => f.identifier === 'NH-TOPIC-1' && f.topic === 'extensions' && f.event === 'phx_join').at(-1);
    server.sendRaw('NH-TOPIC-1', JSON.stringify([joinFrame?.joinRef, null, 'extensions', 'health:check', {}]));
    await sleep(30);
    expect(checks).toEqual([{}]);

    version = '0.0.2';
    const again = nextEvent(socket, 'connected');
    server.dropConnections('NH-TOPIC-1');
    await again;
    const rejoin = await server.waitForFrame((f) => f.identifier === 'NH-TOPIC-1' && f.topic === 'extensions' && f.event === 'phx_join' && f.joinRef !== joinFrame?.joinRef);
    expect(rejoin.payload).toEqual({ health: '0.0.2' });
    await sleep(20);
    expect(joins).toHaveLength(2);

    ext.leave();
    expect(ext.joined).toBe(false);
    expect(ext.push('health:report', {})).toBe(false);
    await server.waitForFrame((f) => f.identifier === 'NH-TOPIC-1' && f.topic === 'extensions' && f.event === 'phx_leave');
    await socket.close();
  });

  it('joinTopic before connect() → NH_SOCKET_NOT_CONNECTED', async () => {
    const socket = await certificateSocket(server, 'NH-TOPIC-2');
    let err: unknown;
    try {
      socket.joinTopic('console');
    } catch (e) {
      err = e;
    }
    expect(isNervesHubError(err) && err.code).toBe('NH_SOCKET_NOT_CONNECTED');
  });
});
