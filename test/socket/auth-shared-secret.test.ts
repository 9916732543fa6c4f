import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSharedSecretHeaders } from '../../src/auth/shared-secret.js';
import { NervesHubSocket } from '../../src/socket/nerves-hub-socket.js';
import type { NervesHubSocketOptions } from '../../src/socket/options.js';
import { NervesHubTestServer } from '../../src/testing/index.js';
import { FAST, FIRMWARE, nextError, nextEvent, sleep } from './helpers.js';

let server: NervesHubTestServer;
beforeAll(async () => {
  server = await NervesHubTestServer.start();
  server.addProductKey('nhp_product', 'product-secret');
  server.addDeviceKey('nhd_device', 'device-secret', 'NH-SS-DEVICE');
});
afterAll(async () => {
  await server.close();
});

function nh1(key: string, secret: string, identifier: string, extra: Partial<NervesHubSocketOptions> = {}): NervesHubSocket {
  return new NervesHubSocket({
    url: server.url,
    auth: { type: 'shared-secret', key, secret, identifier },
    firmware: FIRMWARE,
    tls: { ca: server.serverCaPem },
    ...FAST,
    ...extra,
  });
}


describe('shared-secret auth (NH1 headers)', () => {
  it('a product key joins over /device-socket/websocket with the four x-nh headers and no client certificate', async () => {
    const socket = nh1('nhp_product', 'product-secret', 'NH-SS-PRODUCT');
    const connected = nextEvent(socket, 'connected');
    socket.connect();
    await connected;
    await socket.close();
    const up = server.upgrades.find((u) => u.identifier === 'NH-SS-PRODUCT');
    expect(up).toMatchObject({ status: 101, path: '/device-socket/websocket', query: { vsn: '2.0.0' }, authMethod: 'shared-secret' });
    const h = up?.headers ?? {};
    expect(h['x-nh-alg']).toBe('NH1-HMAC-sha256-1000-32');
    expect(h['x-nh-key']).toBe('nhp_product');
    // the exact signature the server accepted, recomputed independently from the recorded time
    expect(h['x-nh-signature']).toBe(
      createSharedSecretHeaders({ key: 'nhp_product', secret: 'product-secret', identifier: 'NH-SS-PRODUCT', signedAt: Number(h['x-nh-time']) })['x-nh-signature'],
    );
  });

  it('a device key joins for its own identifier and is refused (401) for another', async () => {
    const ok = nh1('nhd_device', 'device-secret', 'NH-SS-DEVICE');
    const connected = nextEvent(ok, 'connected');
    ok.connect();
    await connected;
    await ok.close();

    const n = server.upgrades.length;
    const bad = nh1('nhd_device', 'device-secret', 'NH-SS-SOMEONE-ELSE');
    bad.connect();
    const err = await nextError(bad, 'NH_SOCKET_UNAUTHORIZED');
    expect(err.message).toMatch(/key, secret and identifier/);
    await bad.close();
    expect(server.upgrades.slice(n).every((u) => u.status === 401 && u.refusal === 'bad_identifier')).toBe(true);
    expect(server.joinCount('NH-SS-SOMEONE-ELSE')).toBe(0);
  });

  it('a wrong secret → 401 bad_signature, retried with fresh headers each attempt, never joins', async () => {
    let t = Date.now();
    const n = server.upgrades.length;
    const socket = nh1('nhp_product', 'wrong-secret', 'NH-SS-BADSIG', { now: () => (t += 1000) });
    socket.connect();
    await nextError(socket, 'NH_SOCKET_UNAUTHORIZED');
    await nextError(socket, 'NH_SOCKET_UNAUTHORIZED');
    await socket.close();
    const attempts = server.upgrades.slice(n);
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    expect(attempts.every((u) => u.status === 401 && u.refusal === 'bad_signature')).toBe(true);
    const sigs = new Set(attempts.map((u) => u.headers['x-nh-signature']));
    expect(sigs.size).toBe(attempts.length);
    expect(server.joinCount('NH-SS-BADSIG')).toBe(0);
  });

  it('a device clock 10 min behind: first attempt refused as expired, then signs with the server Date and joins', async () => {
    const n = server.upgrades.length;
    const socket = nh1('nhp_product', 'product-secret', 'NH-SS-STALE', { now: () => Date.now() - 600_000 });
    const errors: string[] = [];
    socket.on('error', (e) => errors.push(e.code));
    const connected = nextEvent(socket, 'connected');
    socket.connect();
    await connected;
    await socket.close();
    const attempts = server.upgrades.slice(n).filter((u) => u.path === '/device-socket/websocket');
    expect(attempts[0]).toMatchObject({ status: 401, refusal: 'expired' });
    expect(attempts.at(-1)).toMatchObject({ status: 101, identifier: 'NH-SS-STALE' });
    expect(errors[0]).toBe('NH_SOCKET_UNAUTHORIZED');
    const signed = Number(attempts.at(-1)?.headers['x-nh-time']) * 1000;
    expect(Math.abs(signed - Date.now())).toBeLessThan(5000);
  });

  it('a device clock 5 min ahead: first attempt refused as future-dated, then signs with the server Date and joins', async () => {
    const n = server.upgrades.length;
    const socket = nh1('nhp_product', 'product-secret', 'NH-SS-FUTURE', { now: () => Date.now() + 300_000 });
    const connected = nextEvent(socket, 'connected');
    socket.connect();
    await connected;
    await socket.close();
    const attempts = server.upgrades.slice(n).filter((u) => u.path === '/device-socket/websocket');
    expect(attempts[0]).toMatchObject({ status: 401, refusal: 'future_dated' });
    expect(attempts.at(-1)).toMatchObject({ status: 101, identifier: 'NH-SS-FUTURE' });
    const signed = Number(attempts.at(-1)?.headers['x-nh-time']) * 1000;
    expect(signed).toBeLessThanOrEqual(Date.now());
    expect(Date.now() - signed).toBeLessThan(5000);
  });

  it('a server without shared secrets → 401; a deactivated key → 401', async () => {
    const off = await NervesHubTestServer.start({ sharedSecretsEnabled: false });
    off.addProductKey('nhp_product', 'product-secret');
    const a = new NervesHubSocket({ url: off.url, auth: { type: 'shared-secret', key: 'nhp_product', secret: 'product-secret', identifier: 'X' }, firmware: FIRMWARE, tls: { ca: off.serverCaPem }, ...FAST });
    a.connect();
    await nextError(a, 'NH_SOCKET_UNAUTHORIZED');
    await a.close();
    await off.close();

    server.addProductKey('nhp_gone', 'gone-secret');
    server.removeSharedSecretKey('nhp_gone');
    const b = nh1('nhp_gone', 'gone-secret', 'NH-SS-GONE');
    b.connect();
    await nextError(b, 'NH_SOCKET_UNAUTHORIZED');
    await b.close();
    await sleep(10);
    expect(server.joinCount('NH-SS-GONE')).toBe(0);
  });
});
