import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NervesHubTestServer } from '../../src/testing/server/nerves-hub-test-server.js';
import { startLinkDevice, until } from './helpers.js';

let server: NervesHubTestServer;
const cleanup: Array<() => Promise<void> | void> = [];
beforeAll(async () => {
  server = await NervesHubTestServer.start();
});
afterAll(async () => server.close());
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe('identify, reboot, scripts/run, firmware validation', () => {
  it('identify reaches the client hook', async () => {
    let identified = 0;
    const { id } = await startLinkDevice(server, cleanup, { client: { updateAvailable: () => ({ action: 'ignore' }), identify: () => void (identified += 1) } });
    server.push(id, 'identify', {});
    await until(() => identified === 1);
  });

  it('reboot pushes rebooting {} and calls the reboot hook', async () => {
    let rebooted = 0;
    const { id } = await startLinkDevice(server, cleanup, { client: { updateAvailable: () => ({ action: 'ignore' }), reboot: () => void (rebooted += 1) } });
    server.push(id, 'reboot', {});
    const frame = await server.waitForFrame((f) => f.identifier === id && f.event === 'rebooting');
    expect(JSON.stringify(frame.payload)).toBe('{}');
    await until(() => rebooted === 1);
  });

  it('scripts/run is refused byte-exact without a handler', async () => {
    const { id } = await startLinkDevice(server, cleanup);
    server.push(id, 'scripts/run', { text: 'System.halt()', ref: 'abc=' });
    const f = await server.waitForFrame((x) => x.identifier === id && x.event === 'scripts/run');
    expect(JSON.stringify(f.payload)).toBe('{"ref":"abc=","result":"error","reason":"unsupported","output":"","return":""}');
  });

  it("scripts/run is answered by the app's handler; a throwing handler is reported, never crashes", async () => {
    let calls = 0;
    const { id } = await startLinkDevice(server, cleanup, {
      scripts: (request) => {
        calls += 1;
        if (request.text === 'boom') throw new Error('boom');
        return { result: 'completed', output: 'uptime 3d', returnValue: ':ok' };
      },
    });
    server.push(id, 'scripts/run', { text: 'uptime', ref: 'r1' });
    const ok = await server.waitForFrame((x) => x.identifier === id && x.event === 'scripts/run');
    expect(JSON.stringify(ok.payload)).toBe('{"ref":"r1","result":"completed","output":"uptime 3d","return":":ok"}');
    server.push(id, 'scripts/run', { text: 'boom', ref: 'r2' });
    const failed = await server.waitForFrame((x) => x.identifier === id && x.event === 'scripts/run' && (x.payload as { ref: string }).ref === 'r2');
    expect(failed.payload).toEqual({ ref: 'r2', result: 'error', reason: 'exception', output: '', return: '' });
    expect(calls).toBe(2);
  });

  it('an unvalidated firmware joins with firmware_validated false and pushes firmware_validated {} once it turns true', async () => {
    let valid = false;
    const { id } = await startLinkDevice(server, cleanup, {
      client: { updateAvailable: () => ({ action: 'ignore' }), firmwareValidated: () => valid },
      socket: { firmwareValidationPollMs: 30 },
    });
    expect((server.lastJoinParams(id)?.meta as { firmware_validated?: boolean }).firmware_validated).toBe(false);
    await new Promise((r) => setTimeout(r, 120));
    expect(server.frames.some((f) => f.identifier === id && f.event === 'firmware_validated')).toBe(false);
    valid = true;
    const f = await server.waitForFrame((x) => x.identifier === id && x.event === 'firmware_validated');
    expect(JSON.stringify(f.payload)).toBe('{}');
    await new Promise((r) => setTimeout(r, 150));
    expect(server.frames.filter((x) => x.identifier === id && x.event === 'firmware_validated')).toHaveLength(1);
  });
});
