import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NervesHubTestServer } from '../../src/testing/index.js';
import type { RawClient } from './helpers.js';
import { connect, signNh1 } from './helpers.js';

const FLEET_SIZE = 60;

describe('NervesHubTestServer fleet mode', () => {
  // Each test owns its server: the re-offer test sets its own deployment instead of inheriting one.
  let server: NervesHubTestServer;
  let clients: RawClient[] = [];
  beforeEach(async () => {
    server = await NervesHubTestServer.start();
    server.addProductKey('nhp_fleet', 'fleet-secret');
  });
  afterEach(async () => {
    for (const c of clients) c.ws.terminate();
    clients = [];
    await server.close();
  });

  it(`connects ${FLEET_SIZE} shared-secret devices concurrently and offers a deployment to the ones that need it`, async () => {
    const started = Date.now();
    const now = Math.floor(Date.now() / 1000);
    await Promise.all(
      Array.from({ length: FLEET_SIZE }, async (_, i) => {
        const identifier = `fleet-${i}`;
        const client = await connect(server, { path: '/device-socket/websocket', headers: signNh1({ key: 'nhp_fleet', secret: 'fleet-secret', identifier, timeSeconds: now }) });
        clients.push(client);
        // every 3rd device already runs the target firmware, every 5th is mid-download
        const params = { nerves_fw_uuid: i % 3 === 0 ? 'target' : 'old', currently_downloading_uuid: i % 5 === 0 ? 'target' : null };
        client.send(['1', '1', 'device', 'phx_join', params]);
        await client.next((f) => f[3] === 'phx_reply');
      }),
    );
    const elapsedMs = Date.now() - started;
    expect(server.connectedDevices()).toHaveLength(FLEET_SIZE);
    const offer = { firmwareUrl: server.hostFirmware('target.fw', new Uint8Array([1])), firmwareMeta: { uuid: 'target' } };
    server.setDeployment(offer);
    const expected = Array.from({ length: FLEET_SIZE }, (_, i) => i).filter((i) => i % 3 !== 0 && i % 5 !== 0);
    await expect.poll(() => server.sentFrames.filter((f) => f.event === 'update').length).toBe(expected.length);
    const updated = server.sentFrames.filter((f) => f.event === 'update').map((f) => Number(f.identifier.slice('fleet-'.length)));
    expect(updated.sort((a, b) => a - b)).toEqual(expected);
    expect(server.sentFrames.find((f) => f.event === 'update')?.payload).toMatchObject({ update_available: true, deployment_id: 1, firmware_meta: { uuid: 'target' } });
    // Setting it again does not resend on the same connections; broadcast reaches everyone.
    server.setDeployment(offer);
    expect(server.broadcast('identify', {})).toBe(FLEET_SIZE);
    await expect.poll(() => server.sentFrames.filter((f) => f.event === 'update').length).toBe(expected.length);
    console.log(`fleet: ${FLEET_SIZE} NH1 connects + joins in ${elapsedMs} ms`);
  });

  it('re-offers the deployment after a reconnect unless the device now runs the target or is downloading', async () => {
    const now = Math.floor(Date.now() / 1000);
    const rejoin = async (identifier: string, params: Record<string, unknown>): Promise<RawClient> => {
      const client = await connect(server, { path: '/device-socket/websocket', headers: signNh1({ key: 'nhp_fleet', secret: 'fleet-secret', identifier, timeSeconds: now }) });
      clients.push(client);
      client.send(['1', '1', 'device', 'phx_join', params]);
      await client.next((f) => f[3] === 'phx_reply');
      return client;
    };
    server.setDeployment({ firmwareUrl: server.hostFirmware('target.fw', new Uint8Array([1])), firmwareMeta: { uuid: 'target' } });
    const stillOld = await rejoin('fleet-1', { nerves_fw_uuid: 'old' });
    expect((await stillOld.next((f) => f[3] === 'update'))[4]).toMatchObject({ firmware_meta: { uuid: 'target' } });
    const done = await rejoin('fleet-2', { nerves_fw_uuid: 'target' });
    const busy = await rejoin('fleet-4', { nerves_fw_uuid: 'old', currently_downloading_uuid: 'target' });
    await new Promise((r) => setTimeout(r, 50));
    expect(done.received.some((f) => f[3] === 'update')).toBe(false);
    expect(busy.received.some((f) => f[3] === 'update')).toBe(false);
    server.setDeployment(undefined);
    const after = await rejoin('fleet-7', { nerves_fw_uuid: 'old' });
    await new Promise((r) => setTimeout(r, 50));
    expect(after.received.some((f) => f[3] === 'update')).toBe(false);
  });
});
