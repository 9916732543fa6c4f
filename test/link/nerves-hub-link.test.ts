import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { NervesHubLink } from '../../src/link/nerves-hub-link.js';
import { NervesHubTestServer } from '../../src/testing/server/nerves-hub-test-server.js';
import { FileApplier } from '../../src/update/appliers/file-applier.js';
import { Downloader } from '../../src/download/downloader.js';
import type { UpdateOutcome } from '../../src/update/update-manager-options.js';
import type { UpdateClient } from '../../src/update/update-client.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'fwup');
const KEY = readFileSync(join(FIXTURES, 'keys', 'fwup-key.pub'), 'utf8').trim();
const SIGNED = readFileSync(join(FIXTURES, 'fw', 'signed.fw'));
const FAST = { heartbeatIntervalMs: 2000, reconnectBaseMs: 20, reconnectMaxMs: 80, minReconnectDelayMs: 5, rejoinAfterMs: 50, closeTimeoutMs: 200 };

let server: NervesHubTestServer;
const cleanup: Array<() => Promise<void> | void> = [];
beforeAll(async () => {
  server = await NervesHubTestServer.start({ fwupPublicKeys: [KEY] });
});
afterAll(async () => server.close());
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function startDevice(client: UpdateClient, keys: string[] = []) {
  const id = `NH-LINK-${randomUUID().slice(0, 8)}`;
  const cert = await server.issueDeviceCertificate(id);
  const dir = mkdtempSync(join(tmpdir(), 'nhl-link-'));
  const target = join(dir, 'firmware.fw');
  writeFileSync(target, 'previous');
  const link = new NervesHubLink({
    socket: {
      url: server.url,
      auth: { type: 'certificate', provider: { getTlsMaterial: async () => ({ certificateChain: [cert.certPem], key: cert.keyPem }) } },
      firmware: { uuid: randomUUID(), product: 'fixture', version: '0.0.1', platform: 'host', architecture: 'x86_64' },
      fwupVersion: '1.16.0',
      fwupPublicKeys: keys,
      tls: { ca: server.serverCaPem },
      ...FAST,
    },
    client,
    applier: new FileApplier({ path: target }),
    update: { stateDir: join(dir, 'state'), downloader: new Downloader({ ca: server.serverCaPem, retry: { timeBetweenRetriesMs: 5 } }) },
  });
  const outcomes: UpdateOutcome[] = [];
  link.onUpdateOutcome((o) => outcomes.push(o));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanup.push(() => link.stop());
  link.start();
  return { id, link, target, outcomes };
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('NervesHubLink composition', () => {
  it('applies an update end to end with keys sent by the server, reports completed, then reboots', async () => {
    let reboots = 0;
    let connected = 0;
    const { id, target, outcomes } = await startDevice({
      updateAvailable: () => ({ action: 'apply' }),
      reboot: () => void (reboots += 1),
      connected: () => void (connected += 1),
    });
    const params = await server.waitForJoin(id);
    expect(params.fwup_public_keys).toBe('on_connect');
    await until(() => connected === 1);
    const url = server.hostFirmware(`${id}.fw`, SIGNED);
    await server.pushUpdate(id, { firmwareUrl: url, firmwareMeta: { uuid: '1004c0a7-a4e7-5094-9409-8ce6ffaa3993', product: 'fwup fixture', version: '0.1.0' } });
    await until(() => outcomes.length === 1);
    expect(outcomes[0]).toMatchObject({ status: 'completed' });
    expect(readFileSync(target).equals(SIGNED)).toBe(true);
    expect(reboots).toBe(1);
    const statuses = server.frames.filter((f) => f.identifier === id && f.event === 'status_update').map((f) => (f.payload as { status?: string }).status);
    expect(statuses).toEqual(['received', 'started', 'completed']);
    // The connection's interface (loopback here) is reported after the join and in `started`.
    const iface = server.frames.find((f) => f.identifier === id && f.event === 'report_network_interface')?.payload as { interface?: string } | undefined;
    expect(typeof iface?.interface).toBe('string');
    const started = server.frames.find((f) => f.identifier === id && f.event === 'status_update' && (f.payload as { status?: string }).status === 'started');
    expect(started?.payload).toEqual({ status: 'started', downloader_network_interface: iface?.interface });
  });

  it('answers identify and reboot through guarded hooks, even when they throw', async () => {
    let identified = 0;
    const { id } = await startDevice(
      {
        updateAvailable: () => ({ action: 'ignore' }),
        identify: () => {
          identified += 1;
          throw new Error('LED broke');
        },
        reboot: () => new Promise(() => {}), // hangs: must not wedge anything
      },
      [KEY],
    );
    await server.waitForJoin(id);
    server.push(id, 'identify', {});
    await until(() => identified === 1);
    server.push(id, 'reboot', {});
    await server.waitForFrame((f) => f.identifier === id && f.event === 'rebooting');
    server.push(id, 'identify', {});
    await until(() => identified === 2);
    expect(server.connectedDevices()).toContain(id);
  });

  it('reports an async firmwareValidated=false in the join meta and stop() leaves nothing running', async () => {
    const before = new Set(process.getActiveResourcesInfo());
    const { id, link } = await startDevice({ updateAvailable: () => ({ action: 'apply' }), firmwareValidated: async () => false }, [KEY]);
    const params = await server.waitForJoin(id);
    expect(params.meta).toEqual({ firmware_validated: false, firmware_auto_revert_detected: false });
    await link.stop();
    await new Promise((r) => setTimeout(r, 50));
    const after = process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'TLSWrap' || r === 'TCPSocketWrap');
    const beforeCount = [...before].filter((r) => r === 'Timeout' || r === 'TLSWrap' || r === 'TCPSocketWrap').length;
    expect(after.length).toBeLessThanOrEqual(beforeCount);
  });
});

describe('NervesHubLink lifecycle', () => {
  it('refuses a second start() with a typed error and stop() is idempotent', async () => {
    const { link } = await startDevice({ updateAvailable: () => ({ action: 'ignore' }) }, [KEY]);
    expect(() => link.start()).toThrow(expect.objectContaining({ code: 'NH_LINK_ALREADY_STARTED' }));
    await link.stop();
    await expect(link.stop()).resolves.toBeUndefined();
  });
});

describe('NervesHubLink resume after a restart', () => {
  it('resumes an interrupted cached download once the keys the server sends after the join arrive', async () => {
    const id = `NH-LINK-${randomUUID().slice(0, 8)}`;
    const cert = await server.issueDeviceCertificate(id);
    const dir = mkdtempSync(join(tmpdir(), 'nhl-link-resume-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const target = join(dir, 'firmware.fw');
    const name = `${id}.fw`;
    const url = server.hostFirmware(name, SIGNED);
    const build = (keys: string[]) =>
      new NervesHubLink({
        socket: {
          url: server.url,
          auth: { type: 'certificate', provider: { getTlsMaterial: async () => ({ certificateChain: [cert.certPem], key: cert.keyPem }) } },
          firmware: { uuid: randomUUID(), product: 'fixture', version: '0.0.1', platform: 'host', architecture: 'x86_64' },
          fwupPublicKeys: keys,
          tls: { ca: server.serverCaPem },
          ...FAST,
        },
        client: { updateAvailable: () => ({ action: 'apply' }) },
        applier: new FileApplier({ path: target }),
        update: { strategy: 'cached', stateDir: join(dir, 'state'), downloader: new Downloader({ ca: server.serverCaPem, retry: { timeBetweenRetriesMs: 5, idleTimeoutMs: 30_000 } }) },
      });

    // First run: keys configured, the download stalls after 2000 bytes, then the process "restarts".
    server.firmware.setFaults(name, { stallAfterBytes: 2000, times: 1 });
    const first = build([KEY]);
    first.start();
    await server.waitForJoin(id);
    await server.pushUpdate(id, { firmwareUrl: url, firmwareMeta: { uuid: '1004c0a7-a4e7-5094-9409-8ce6ffaa3993' } });
    await until(() => server.firmware.requests.some((r) => r.path.includes(name)));
    await new Promise((r) => setTimeout(r, 200));
    await first.stop();
    server.firmware.destroyOpenResponses();

    // Second run: no configured keys, so they come from the server after the join — and late: the
    // org's key list is empty at first, the key is pushed a moment after the join.
    const requestsBefore = server.firmware.requests.length;
    server.setOrgFwupPublicKeys([]);
    cleanup.push(() => server.setOrgFwupPublicKeys([KEY]));
    const second = build([]);
    const outcomes: UpdateOutcome[] = [];
    second.onUpdateOutcome((o) => outcomes.push(o));
    cleanup.push(() => second.stop());
    second.start();
    await server.waitForJoin(id, { count: 2 });
    await new Promise((r) => setTimeout(r, 100));
    expect(outcomes).toEqual([]); // nothing resumed without keys
    server.push(id, 'fwup_public_keys', { keys: [KEY] });
    await until(() => outcomes.length === 1, 10_000);
    expect(outcomes[0]).toMatchObject({ status: 'completed' });
    expect(readFileSync(target).equals(SIGNED)).toBe(true);
    const resumed = server.firmware.requests.slice(requestsBefore).find((r) => r.path.includes(name));
    expect(resumed?.headers.range).toBe('bytes=2000-');
  });
});
