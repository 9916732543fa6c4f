import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isNervesHubError } from '../../src/errors.js';
import { NervesHubTestServer } from '../../src/testing/index.js';
import type { IssuedCertificate } from '../../src/testing/index.js';
import type { RawClient } from './helpers.js';
import { connect, eventually, httpsGet } from './helpers.js';

const JOIN_PARAMS = {
  nerves_fw_uuid: '11111111-2222-3333-4444-555555555555',
  nerves_fw_product: 'demo',
  fwup_version: '1.16.0',
  device_api_version: '2.3.0',
  console_version: '2.0.0',
  fwup_public_keys: 'on_connect',
  currently_downloading_uuid: null,
};

describe('NervesHubTestServer channels', () => {
  // Each test owns its server and devices: no test depends on a connection an earlier one opened.
  let server: NervesHubTestServer;
  let cert: IssuedCertificate;
  let certB: IssuedCertificate;
  let open: RawClient[] = [];

  const device = async (c = cert): Promise<RawClient> => {
    const client = await connect(server, { cert: c.certPem, key: c.keyPem });
    open.push(client);
    return client;
  };
  const join = async (client: RawClient, params: Record<string, unknown> = JOIN_PARAMS, ref = '1'): Promise<unknown[]> => {
    client.send([ref, ref, 'device', 'phx_join', params]);
    return client.next((f) => f[1] === ref && f[3] === 'phx_reply');
  };

  /** NH-A, connected and joined with JOIN_PARAMS. */
  const joinedDevice = async (): Promise<RawClient> => {
    const client = await device();
    await join(client);
    return client;
  };

  beforeEach(async () => {
    server = await NervesHubTestServer.start({ fwupPublicKeys: ['pubkeyA='], extensions: ['health', 'geo'] });
    cert = await server.issueDeviceCertificate('NH-A');
    certB = await server.issueDeviceCertificate('NH-B');
  });
  afterEach(async () => {
    for (const c of open) c.ws.terminate();
    open = [];
    await server.close();
  });

  it('replies to the device join exactly and records the params', async () => {
    const client = await device();
    const reply = await join(client);
    expect(reply).toEqual(['1', '1', 'device', 'phx_reply', { status: 'ok', response: {} }]);
    expect(await server.waitForJoin('NH-A')).toEqual(JOIN_PARAMS);
    expect(server.joinCount('NH-A')).toBe(1);
    expect(server.frames.at(-1)).toMatchObject({ identifier: 'NH-A', joinRef: '1', ref: '1', topic: 'device', event: 'phx_join', payload: JOIN_PARAMS });
  });

  it('pushes the org fwup keys and extensions:get after the join, in that order and after the reply', async () => {
    const client = await joinedDevice();
    const keys = await client.next((f) => f[3] === 'fwup_public_keys');
    expect(keys).toEqual(['1', null, 'device', 'fwup_public_keys', { keys: ['pubkeyA='] }]);
    const ext = await client.next((f) => f[3] === 'extensions:get');
    expect(ext).toEqual(['1', null, 'device', 'extensions:get', {}]);
    const events = client.received.map((f) => f[3]);
    expect(events.indexOf('phx_reply')).toBeLessThan(events.indexOf('fwup_public_keys'));
    expect(events.indexOf('fwup_public_keys')).toBeLessThan(events.indexOf('extensions:get'));
    expect(events).not.toContain('archive_public_keys');
  });

  it('answers heartbeats on the phoenix topic', async () => {
    const client = await joinedDevice();
    client.send([null, '7', 'phoenix', 'heartbeat', {}]);
    expect(await client.next((f) => f[1] === '7')).toEqual([null, '7', 'phoenix', 'phx_reply', { status: 'ok', response: {} }]);
  });

  it('answers the extensions join with the configured names, console with {}, unknown topics with an error', async () => {
    const client = await joinedDevice();
    client.send(['2', '2', 'extensions', 'phx_join', { health: '0.0.1', geo: '0.0.1' }]);
    expect(await client.next((f) => f[1] === '2')).toEqual(['2', '2', 'extensions', 'phx_reply', { status: 'ok', response: ['health', 'geo'] }]);
    client.send(['3', '3', 'console', 'phx_join', { console_version: '2.0.0' }]);
    expect(await client.next((f) => f[1] === '3')).toEqual(['3', '3', 'console', 'phx_reply', { status: 'ok', response: {} }]);
    client.send(['4', '4', 'room:lobby', 'phx_join', {}]);
    expect(await client.next((f) => f[1] === '4')).toEqual(['4', '4', 'room:lobby', 'phx_reply', { status: 'error', response: { reason: 'unmatched topic' } }]);
    client.send([null, '5', 'nojoin', 'something', {}]);
    expect(await client.next((f) => f[1] === '5')).toEqual([null, '5', 'nojoin', 'phx_reply', { status: 'error', response: { reason: 'unmatched topic' } }]);
  });

  it('round-trips a push: server push reaches the device, device events are recorded without a reply', async () => {
    const client = await joinedDevice();
    server.push('NH-A', 'identify', {});
    expect(await client.next((f) => f[3] === 'identify')).toEqual(['1', null, 'device', 'identify', {}]);
    const before = client.received.length;
    client.send(['1', '9', 'device', 'status_update', { status: 'received' }]);
    client.send(['1', '10', 'device', 'made_up_event', { x: 1 }]);
    const frame = await server.waitForFrame((f) => f.event === 'made_up_event');
    expect(frame).toMatchObject({ identifier: 'NH-A', topic: 'device', payload: { x: 1 } });
    expect(server.frames.some((f) => f.event === 'status_update' && (f.payload as { status: string }).status === 'received')).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(client.received.slice(before).filter((f) => f[1] === '9' || f[1] === '10')).toEqual([]);
    expect(server.sentFrames.some((f) => f.event === 'identify' && f.identifier === 'NH-A')).toBe(true);
  });

  it('pushUpdate sends the exact update_payload shape', async () => {
    const client = await joinedDevice();
    const payload = server.pushUpdate('NH-A', {
      firmwareUrl: 'https://example.invalid/fw',
      firmwareMeta: { uuid: 'u-1', product: 'demo', version: '1.2.3', platform: 'rpi4', architecture: 'arm' },
      size: 10,
      checksum: 'AB',
    });
    const expected = {
      update_available: true,
      firmware_url: 'https://example.invalid/fw',
      firmware_meta: { uuid: 'u-1', product: 'demo', version: '1.2.3', platform: 'rpi4', architecture: 'arm', author: null, description: null, vcs_identifier: null, misc: null },
      size: 10,
      checksum: 'AB',
      partials_checksums: null,
      deployment_id: null,
    };
    expect(payload).toEqual(expected);
    expect(await client.next((f) => f[3] === 'update')).toEqual(['1', null, 'device', 'update', expected]);
  });

  it('throws a typed error when pushing to a device that has not joined', () => {
    let caught: unknown;
    try {
      server.push('NH-NOT-HERE', 'reboot', {});
    } catch (err) {
      caught = err;
    }
    expect(isNervesHubError(caught) && caught.code).toBe('NH_TEST_DEVICE_NOT_JOINED');
  });

  it('a newer connection of the same device closes the older one', async () => {
    const older = await joinedDevice();
    const newer = await device();
    const closed = await older.closed;
    expect(closed.code).toBe(1000);
    await join(newer, { ...JOIN_PARAMS, fwup_public_keys: undefined });
    expect(server.connectedDevices()).toEqual(['NH-A']);
    expect(server.joinCount('NH-A')).toBe(2);
    expect(newer.ws.readyState).toBe(newer.ws.OPEN);
  });

  it('queues an update for a device that is not joined and sends it after its next join', async () => {
    const payload = server.pushUpdate('NH-B', { firmwareUrl: 'https://example.invalid/b', firmwareMeta: { uuid: 'u-b' }, deploymentId: 7 });
    const client = await device(certB);
    await join(client, { device_api_version: '2.0.0' });
    expect(await client.next((f) => f[3] === 'update')).toEqual(['1', null, 'device', 'update', payload]);
    expect(client.received.map((f) => f[3])).not.toContain('extensions:get');
    client.ws.terminate();
    await server.waitForDisconnect('NH-B');
    const again = await device(certB);
    await join(again, {});
    await new Promise((r) => setTimeout(r, 50));
    expect(again.received.map((f) => f[3])).not.toContain('update');
    again.ws.terminate();
  });

  it('malformed frames are recorded and close that connection with 1011; the server keeps serving', async () => {
    for (const bad of ['not json', '{"a":1}', '[1,2,3]', '[null,null,5,"x",{}]']) {
      const client = await device(certB);
      client.ws.send(bad);
      expect((await client.closed).code).toBe(1011);
      expect(server.malformedFrames.at(-1)?.data).toBe(bad);
    }
    const client = await device(certB);
    client.ws.send(Buffer.from([0, 1, 2]), { binary: true });
    expect((await client.closed).code).toBe(1011);
    const ok = await device(certB);
    expect(await join(ok, {})).toEqual(['1', '1', 'device', 'phx_reply', { status: 'ok', response: {} }]);
    ok.ws.terminate();
  });

  it('sendRaw delivers arbitrary text; stall stops answers and pushes; dropConnections destroys the socket', async () => {
    const client = await device(certB);
    await join(client, {});
    expect(server.sendRaw('NH-B', 'garbage{')).toBe(true);
    await eventually(() => client.unparsed.includes('garbage{'));
    server.stall('NH-B');
    client.send([null, '20', 'phoenix', 'heartbeat', {}]);
    await server.waitForFrame((f) => f.ref === '20');
    server.push('NH-B', 'reboot', {});
    await new Promise((r) => setTimeout(r, 50));
    expect(client.received.some((f) => f[1] === '20' || f[3] === 'reboot')).toBe(false);
    server.unstall('NH-B');
    client.send([null, '21', 'phoenix', 'heartbeat', {}]);
    await client.next((f) => f[1] === '21');
    expect(server.dropConnections('NH-B')).toBe(1);
    const closed = await client.closed;
    expect(closed.code).toBe(1006);
    await server.waitForDisconnect('NH-B');
  });

  it('hosts firmware on the same listener', async () => {
    const bytes = createHash('sha256').update('fw').digest();
    const url = server.hostFirmware('app.fw', bytes);
    expect(url.startsWith(`${server.httpsUrl}/firmware/app.fw?`)).toBe(true);
    const res = await httpsGet(server, url.slice(server.httpsUrl.length));
    expect(res.status).toBe(200);
    expect(res.body.equals(bytes)).toBe(true);
    expect(server.firmware.requests.at(-1)).toMatchObject({ path: '/firmware/app.fw', status: 200 });
  });

  it('waitForFrame times out with a typed error', async () => {
    const err = await server.waitForFrame(() => false, { timeoutMs: 30 }).catch((e: unknown) => e);
    expect(isNervesHubError(err) && err.code).toBe('NH_TEST_SERVER_TIMEOUT');
  });
});

describe('NervesHubTestServer lifecycle', () => {
  it('restart keeps the port and the state; devices reconnect to the same URL', async () => {
    const server = await NervesHubTestServer.start();
    try {
      const cert = await server.issueDeviceCertificate('NH-R');
      const port = server.port;
      const client = await connect(server, { cert: cert.certPem, key: cert.keyPem });
      client.send(['1', '1', 'device', 'phx_join', {}]);
      await server.waitForJoin('NH-R');
      await server.restart();
      expect((await client.closed).code).toBe(1012);
      expect(server.port).toBe(port);
      const again = await connect(server, { cert: cert.certPem, key: cert.keyPem });
      again.send(['1', '1', 'device', 'phx_join', {}]);
      await server.waitForJoin('NH-R', { count: 2 });
      expect(server.joinCount('NH-R')).toBe(2);
      again.ws.terminate();
    } finally {
      await server.close();
    }
  });

  it('close() leaves no sockets, servers or timers behind and fails pending waits', async () => {
    const NETWORK = ['TCPServerWrap', 'TCPSocketWrap', 'TLSWrap', 'Timeout'];
    const network = (): string[] => process.getActiveResourcesInfo().filter((r) => NETWORK.includes(r)).sort();
    const before = network();
    const server = await NervesHubTestServer.start();
    const cert = await server.issueDeviceCertificate('NH-C');
    const client = await connect(server, { cert: cert.certPem, key: cert.keyPem });
    client.send(['1', '1', 'device', 'phx_join', { device_api_version: '2.3.0' }]);
    await server.waitForJoin('NH-C');
    server.stall('NH-C');
    const pending = server.waitForFrame(() => false, { timeoutMs: 60_000 }).catch((e: unknown) => e);
    const during = network();
    expect(during.length).toBeGreaterThan(before.length);
    await server.close();
    const err = await pending;
    expect(isNervesHubError(err) && err.code).toBe('NH_TEST_SERVER_CLOSED');
    await client.closed;
    await new Promise((r) => setImmediate(r));
    // Nothing the server opened survives (earlier tests' client sockets may still be closing).
    const count = (list: string[], type: string): number => list.filter((r) => r === type).length;
    const after = network();
    for (const type of NETWORK) expect(count(after, type)).toBeLessThanOrEqual(count(before, type));
    expect(count(during, 'TCPServerWrap')).toBe(count(before, 'TCPServerWrap') + 1);
    await server.close(); // idempotent
  });
});
