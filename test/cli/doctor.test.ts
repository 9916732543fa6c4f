import { randomUUID } from 'node:crypto';
import { copyFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/commands/doctor.js';
import { readFirmwareMetadata } from '../../src/firmware/read-firmware-metadata.js';
import { DOCTOR_STEPS, runDoctorChecks } from '../../src/cli/doctor-checks.js';
import { NervesHubTestServer } from '../../src/testing/server/nerves-hub-test-server.js';
import { TestCertificateAuthority } from '../../src/testing/test-ca.js';
import { NervesHubSocket } from '../../src/socket/nerves-hub-socket.js';
import { UpdateJournal } from '../../src/update/update-journal.js';
import { writeAgentDir } from './agent-process.js';
import { captureIo } from './cli-helpers.js';

const FWUP_KEY = Buffer.alloc(32, 9).toString('base64');
let server: NervesHubTestServer;
let otherCa: TestCertificateAuthority;
const cleanup: Array<() => void> = [];
beforeAll(async () => {
  [server, otherCa] = await Promise.all([NervesHubTestServer.start(), TestCertificateAuthority.create({ commonName: 'Unregistered CA' })]);
});
afterAll(async () => server.close());
afterEach(() => {
  for (const c of cleanup.splice(0).reverse()) c();
});

interface Device {
  id?: string;
  certPem: string;
  keyPem: string;
  serverCaPem?: string;
  url?: string;
}

async function registeredDevice(s: NervesHubTestServer = server): Promise<Device> {
  const id = `NH-DOC-${randomUUID().slice(0, 8)}`;
  return { id, ...(await s.issueDeviceCertificate(id)), serverCaPem: s.serverCaPem, url: s.url };
}

function writeConfig(d: Device, overrides: Record<string, unknown> = {}): string {
  const config = {
    url: d.url ?? server.url,
    firmware: { uuid: randomUUID(), product: 'fixture', version: '0.0.1', platform: 'host', architecture: 'x86_64' },
    fwupPublicKeys: [FWUP_KEY],
    apply: { type: 'file', path: 'target.fw' },
    ...overrides,
  };
  return writeAgentDir({ certPem: d.certPem, keyPem: d.keyPem, serverCaPem: d.serverCaPem ?? server.serverCaPem }, config, { prefix: 'nhl-doctor-', cleanup }).configPath;
}

async function doctorJson(configPath: string, extra: string[] = ['--join']) {
  const io = captureIo();
  const code = await run(['--config', configPath, '--json', ...extra], io);
  const report = JSON.parse(io.out()) as { ok: boolean; steps: Array<{ name: string; status: string; detail: string; fix?: string; code?: string; durationMs: number }> };
  const byName = Object.fromEntries(report.steps.map((s) => [s.name, s]));
  return { code, report, byName };
}

describe('nerves-hub-link doctor', () => {
  it('--join: passes every step against a test server, in order, with ✓ lines, and really joins', async () => {
    const d = await registeredDevice();
    const joinsBefore = server.joinCount(d.id!);
    const io = captureIo();
    const code = await run(['--config', writeConfig(d), '--join'], io);
    const out = io.out();
    expect(code).toBe(0);
    const marks = out.split('\n').filter((l) => /^ {2}[✓✗-] /.test(l));
    expect(marks.map((l) => l.slice(4, 11).trim())).toEqual([...DOCTOR_STEPS]);
    expect(marks.every((l) => l.startsWith('  ✓'))).toBe(true);
    expect(out).toContain(`device ${d.id}`);
    expect(out).toMatch(/tls +TLSv1\.2 .* verified, client certificate NH-DOC-\S+ accepted/);
    expect(out).toMatch(/auth +WebSocket upgrade on \/socket\/websocket answered 101/);
    expect(out).toContain('All checks passed.');
    expect(server.joinCount(d.id!)).toBe(joinsBefore + 1);
    expect(server.upgrades.filter((u) => u.identifier === d.id && u.status === 101)).toHaveLength(2); // auth probe + join
  });

  it('--json: {ok, steps[]} with every step, and ✗ at TLS with a fix when serverCaFile is the wrong CA', async () => {
    const d = await registeredDevice();
    const { code, report, byName } = await doctorJson(writeConfig({ ...d, serverCaPem: otherCa.certPem }));
    expect(code).toBe(1);
    expect(report.ok).toBe(false);
    expect(report.steps.map((s) => s.name)).toEqual([...DOCTOR_STEPS]);
    for (const s of report.steps) {
      expect(Object.keys(s).every((k) => ['name', 'status', 'detail', 'fix', 'code', 'durationMs'].includes(k))).toBe(true);
      expect(Number.isInteger(s.durationMs)).toBe(true);
    }
    expect(report.steps.slice(0, 4).map((s) => s.status)).toEqual(['pass', 'pass', 'pass', 'pass']);
    expect(byName.tls).toMatchObject({ status: 'fail', code: 'NH_SOCKET_SERVER_CERT_UNTRUSTED' });
    expect(byName.tls!.detail).toMatch(/server's certificate is not trusted/);
    expect(byName.tls!.fix).toMatch(/serverCaFile/);
    expect(byName.auth).toMatchObject({ status: 'skip', detail: 'skipped: the tls check did not pass' });
    expect(byName.join).toMatchObject({ status: 'skip' });
    expect(server.upgrades.some((u) => u.identifier === d.id)).toBe(false);
  });

  it('✗ at TLS with "is the signer CA registered" when the device certificate comes from an unregistered CA', async () => {
    const id = `NH-DOC-${randomUUID().slice(0, 8)}`;
    server.registerDevice(id);
    const cert = await otherCa.issueDeviceCertificate({ commonName: id });
    const rejectionsBefore = server.tlsRejections.length;
    const io = captureIo();
    const code = await run(['--config', writeConfig({ certPem: cert.certPem, keyPem: cert.keyPem })], io);
    expect(code).toBe(1);
    expect(io.out()).toMatch(/✗ tls +NervesHub closed the connection right after the TLS handshake, so it refused the device certificate/);
    expect(io.out()).toMatch(/fix: +is the signer CA registered with NervesHub/);
    expect(io.out()).toMatch(/- auth +skipped/);
    expect(io.out()).toMatch(/1 check failed/);
    expect(server.tlsRejections.length).toBeGreaterThan(rejectionsBefore);
  });

  it('✗ at auth with the 401 and its reason when the server refuses the upgrade', async () => {
    const strict = await NervesHubTestServer.start({ unregisteredDeviceRefusal: 'upgrade' });
    try {
      const cert = await strict.issueDeviceCertificate('NH-DOC-UNREGISTERED', { register: false });
      const { code, byName } = await doctorJson(writeConfig({ ...cert, serverCaPem: strict.serverCaPem, url: strict.url }));
      expect(code).toBe(1);
      expect(byName.tls!.status).toBe('pass');
      expect(byName.auth).toMatchObject({ status: 'fail', code: 'NH_SOCKET_UNAUTHORIZED' });
      expect(byName.auth!.detail).toMatch(/refused the device \(401\)/);
      expect(byName.join!.status).toBe('skip');
    } finally {
      await strict.close();
    }
  });

  it('passes with shared-secret auth (NH1 headers on /device-socket), and ✗ at auth with a wrong secret', async () => {
    const id = `NH-DOC-${randomUUID().slice(0, 8)}`;
    const key = `nhd_${randomUUID().replace(/-/g, '')}`;
    server.addDeviceKey(key, 'the-right-secret', id);
    const d = await registeredDevice();
    const good = await doctorJson(writeConfig(d, { auth: { type: 'shared-secret', key, secret: 'the-right-secret', identifier: id } }));
    expect(good.report.steps.map((s) => s.status)).toEqual(Array(DOCTOR_STEPS.length).fill('pass'));
    expect(good.byName.auth!.detail).toContain('/device-socket/websocket answered 101 (shared-secret accepted)');
    expect(good.code).toBe(0);

    const bad = await doctorJson(writeConfig(d, { auth: { type: 'shared-secret', key, secret: 'a-wrong-secret', identifier: id } }));
    expect(bad.code).toBe(1);
    expect(bad.byName.auth).toMatchObject({ status: 'fail', code: 'NH_SOCKET_UNAUTHORIZED' });
    expect(bad.byName.auth!.detail).toMatch(/check the shared-secret key, secret and identifier/);
    expect(JSON.stringify(bad.report)).not.toContain('a-wrong-secret');
  });

  it('names a device clock ahead of or behind the server (shared secret), and passes: the socket signs with the server clock', async () => {
    const id = `NH-DOC-${randomUUID().slice(0, 8)}`;
    const key = `nhd_${randomUUID().replace(/-/g, '')}`;
    server.addDeviceKey(key, 'the-right-secret', id);
    const d = await registeredDevice();
    const config = writeConfig(d, { auth: { type: 'shared-secret', key, secret: 'the-right-secret', identifier: id } });
    const ahead = await runDoctorChecks(config, { join: true, now: () => Date.now() + 120_000 });
    expect(ahead.every((s) => s.status === 'pass')).toBe(true);
    expect(ahead.find((s) => s.name === 'auth')!.detail).toMatch(/the device clock is 12[01] s ahead of NervesHub/);
    const behind = await runDoctorChecks(config, { join: true, now: () => Date.now() - 120_000 });
    expect(behind.every((s) => s.status === 'pass')).toBe(true);
    expect(behind.find((s) => s.name === 'auth')!.detail).toMatch(/the device clock is 1(19|20) s behind NervesHub/);
  });

  it('checks through an HTTP CONNECT proxy: DNS/TCP reach the proxy, TLS/auth/join are tunnelled', async () => {
    const tunnels: string[] = [];
    const open = new Set<Socket>();
    const proxy = createHttpServer((_req, res) => res.writeHead(405).end());
    proxy.on('connect', (req, client: Socket, head: Buffer) => {
      tunnels.push(req.url ?? '');
      const [host, port] = (req.url ?? '').split(':');
      const upstream = connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length) upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      for (const s of [client, upstream]) {
        open.add(s);
        s.once('close', () => open.delete(s));
        s.on('error', () => undefined);
      }
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const proxyPort = (proxy.address() as AddressInfo).port;
    try {
      const d = await registeredDevice();
      const { code, byName } = await doctorJson(writeConfig(d, { proxy: `http://127.0.0.1:${proxyPort}` }));
      expect(byName.tcp!.detail).toBe(`connected to the proxy at 127.0.0.1:${proxyPort}`);
      expect(byName.tls!.detail).toContain('through the proxy');
      expect(code).toBe(0);
      expect(tunnels).toEqual(Array(3).fill(`127.0.0.1:${server.port}`)); // tls, auth, join
    } finally {
      for (const s of open) s.destroy();
      await new Promise((r) => proxy.close(r));
    }
  });

  it('✗ at TCP for a closed port; TLS, auth and join are skipped', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const d = await registeredDevice();
    const { code, byName } = await doctorJson(writeConfig({ ...d, url: `wss://127.0.0.1:${port}` }));
    expect(code).toBe(1);
    expect(byName.dns!.status).toBe('pass');
    expect(byName.tcp).toMatchObject({ status: 'fail', code: 'NH_SOCKET_CONNECT' });
    expect(byName.tcp!.detail).toContain('ECONNREFUSED');
    expect(['tls', 'auth', 'join'].map((n) => byName[n]!.status)).toEqual(['skip', 'skip', 'skip']);
  });

  it('✗ at clock for a device clock in 1970 (network steps that need it are skipped); ✗ at config naming the key', async () => {
    const d = await registeredDevice();
    const steps = await runDoctorChecks(writeConfig(d), { join: true, now: () => Date.UTC(1970, 0, 1) });
    const clock = steps.find((s) => s.name === 'clock')!;
    expect(clock).toMatchObject({ status: 'fail', code: 'NH_SOCKET_CLOCK_NOT_SET' });
    expect(clock.detail).toContain('the device clock says 1970-01-01: set the time first');
    expect(steps.find((s) => s.name === 'tcp')!.status).toBe('pass');
    expect(steps.find((s) => s.name === 'tls')).toMatchObject({ status: 'skip', detail: 'skipped: the clock check did not pass' });

    const { code, byName } = await doctorJson(writeConfig(d, { strategy: 'sometimes' }));
    expect(code).toBe(1);
    expect(byName.config).toMatchObject({ status: 'fail', code: 'NH_CONFIG_INVALID' });
    expect(byName.config!.detail).toContain('config key "strategy"');
    expect(DOCTOR_STEPS.slice(1).map((n) => byName[n]!.status)).toEqual(Array(DOCTOR_STEPS.length - 1).fill('skip'));
  });

  it('by default never connects as the device: a running agent stays connected, auth and join are not run, exit 0', async () => {
    const d = await registeredDevice();
    const config = writeConfig(d);
    const agent = new NervesHubSocket({
      url: server.url,
      auth: { type: 'certificate', provider: { getTlsMaterial: async () => ({ certificateChain: [d.certPem], key: d.keyPem }) } },
      firmware: { uuid: randomUUID(), product: 'fixture', version: '0.0.1', platform: 'host', architecture: 'x86_64' },
      fwupPublicKeys: [FWUP_KEY],
      tls: { ca: server.serverCaPem },
    });
    const disconnects: unknown[] = [];
    agent.on('disconnected', (info) => disconnects.push(info));
    try {
      const connected = new Promise((resolve) => agent.once('connected', resolve));
      agent.connect();
      await connected;
      const upgradesBefore = server.upgrades.filter((u) => u.identifier === d.id).length;
      const joinsBefore = server.joinCount(d.id!);
      const io = captureIo();
      const code = await run(['--config', config], io);
      const out = io.out();
      expect(code).toBe(0);
      expect(out).toContain('(read-only: nothing connects as this device; add --join');
      expect(out).toMatch(/- auth +not run: it connects as this device, which disconnects a running agent with the same identity; stop the agent and run doctor with --join/);
      expect(out).toMatch(/- join +not run: /);
      expect(out).toMatch(/✓ keys +1 fwup public key configured/);
      expect(out).toContain('No check failed. Run with --join (agent stopped)');
      // the server saw no new upgrade or join from this identity, and the agent was not kicked
      expect(server.upgrades.filter((u) => u.identifier === d.id)).toHaveLength(upgradesBefore);
      expect(server.joinCount(d.id!)).toBe(joinsBefore);
      await new Promise((r) => setTimeout(r, 200));
      expect(disconnects).toEqual([]);
      expect(agent.joined).toBe(true);
    } finally {
      await agent.close();
    }
  });

  it('--join sends the in-flight update from the journal as currently_downloading_uuid, so NervesHub keeps it', async () => {
    const d = await registeredDevice();
    const config = writeConfig(d);
    const inFlight = randomUUID();
    const journal = new UpdateJournal({ stateDir: join(dirname(config), 'state') });
    await journal.update((state) => {
      state.pending = { uuid: inFlight, firmwareUrl: 'https://fw.example.com/a.fw?sig=secret', firmwareMeta: { uuid: inFlight }, strategy: 'cached', startedAt: new Date().toISOString(), attempts: 1 };
    });
    const { code, byName } = await doctorJson(config);
    expect(code).toBe(0);
    expect(byName.join!.detail).toContain(`kept the in-flight update ${inFlight}`);
    expect(server.lastJoinParams(d.id!)).toMatchObject({ currently_downloading_uuid: inFlight });
    expect(JSON.stringify(byName)).not.toContain('sig=secret');
  });

  it('keys: fails a device that can never update (none configured, none sent at the join); passes when NervesHub sends some', async () => {
    const d = await registeredDevice();
    const none = await doctorJson(writeConfig(d, { fwupPublicKeys: [] }));
    expect(none.code).toBe(1);
    expect(none.byName.join!.status).toBe('pass');
    expect(none.byName.keys).toMatchObject({ status: 'fail', code: 'NH_FW_NO_KEYS' });
    expect(none.byName.keys!.detail).toMatch(/no fwupPublicKeys configured and NervesHub sent none within \d+ ms of the join: this device can never apply an update/);
    expect(none.byName.keys!.fix).toMatch(/fwupPublicKeys/);

    // without --join the answer is unknown: said so, not failed
    const unknown = await doctorJson(writeConfig(d, { fwupPublicKeys: [] }), []);
    expect(unknown.code).toBe(0);
    expect(unknown.byName.keys!.status).toBe('pass');
    expect(unknown.byName.keys!.detail).toMatch(/no fwupPublicKeys configured: .*run doctor with --join to check that it sends some/);

    const withKeys = await NervesHubTestServer.start({ fwupPublicKeys: [FWUP_KEY] });
    try {
      const d2 = await registeredDevice(withKeys);
      const sent = await doctorJson(writeConfig({ ...d2, serverCaPem: withKeys.serverCaPem, url: withKeys.url }, { fwupPublicKeys: [] }));
      expect(sent.code).toBe(0);
      expect(sent.byName.keys).toMatchObject({ status: 'pass' });
      expect(sent.byName.keys!.detail).toContain('NervesHub sent 1 key at the join');
    } finally {
      await withKeys.close();
    }
  });
});

describe('nerves-hub-link doctor: can this device take delta firmware?', () => {
  it('a file applier: "deltas no", and the join carries no fwup_version even with fwupVersion configured', async () => {
    const d = await registeredDevice();
    const { byName } = await doctorJson(writeConfig(d, { fwupVersion: '1.16.0' }));
    expect(byName.deltas).toMatchObject({ status: 'pass' });
    expect(byName.deltas!.detail).toMatch(/^no: delta firmware needs fwup or a delta source/);
    expect(server.lastJoinParams(d.id!)).not.toHaveProperty('fwup_version');
  });

  it('fwup: "deltas yes", and the join reports fwup_version', async () => {
    const d = await registeredDevice();
    const standin = join(import.meta.dirname, '..', 'fixtures', 'bin', 'fwup');
    const { byName } = await doctorJson(writeConfig(d, { apply: { type: 'fwup', devicePath: 'device.img', task: 'upgrade', fwupPath: standin } }));
    expect(byName.deltas!.detail).toMatch(/^yes: the applier \(fwup\) applies delta firmware/);
    expect(server.lastJoinParams(d.id!)).toMatchObject({ fwup_version: '1.16.0' });
  });

  describe('with a deltaSource in device.json (the same answer run joins with)', () => {
    const V1 = join(import.meta.dirname, '..', 'fixtures', 'fwup-delta', 'fw', 'v1.fw');

    it('"file" holding the running firmware: "deltas yes" and the join reports fwup_version', async () => {
      const d = await registeredDevice();
      const { uuid } = await readFirmwareMetadata(V1);
      const config = writeConfig(d, { fwupVersion: '1.16.0', firmware: { uuid, product: 'delta-fixture', version: '2.0.1', platform: 'x86_64', architecture: 'x86_64' }, deltaSource: { type: 'file' } });
      copyFileSync(V1, join(dirname(config), 'target.fw'));
      const { code, byName } = await doctorJson(config);
      expect(code).toBe(0);
      expect(byName.deltas!.detail).toMatch(/^yes: the firmware archive the applier wrote last is the delta source/);
      expect(server.lastJoinParams(d.id!)).toMatchObject({ fwup_version: '1.16.0' });
    });

    it('"file" before the first update (no archive yet): "deltas no", no fwup_version', async () => {
      const d = await registeredDevice();
      const { byName } = await doctorJson(writeConfig(d, { fwupVersion: '1.16.0', deltaSource: { type: 'file' } }));
      expect(byName.deltas).toMatchObject({ status: 'pass' });
      expect(byName.deltas!.detail).toMatch(/^no: deltaSource "file": .*target\.fw holds no firmware archive yet/);
      expect(server.lastJoinParams(d.id!)).not.toHaveProperty('fwup_version');
    });

    it('an archive of other firmware than firmware.uuid: the step fails (every delta would), with the fix', async () => {
      const d = await registeredDevice();
      const config = writeConfig(d, { deltaSource: { type: 'archive', path: 'current.fw' } });
      copyFileSync(V1, join(dirname(config), 'current.fw'));
      const { code, byName } = await doctorJson(config, []);
      expect(code).toBe(1);
      expect(byName.deltas).toMatchObject({ status: 'fail', code: 'NH_DELTA_WRONG_SOURCE' });
      expect(byName.deltas!.detail).toContain('but firmware.uuid says the device runs');
      expect(byName.deltas!.fix).toContain('firmware.uuid');
    });

    it('a raw device that cannot be read: the step fails', async () => {
      const d = await registeredDevice();
      const { byName } = await doctorJson(writeConfig(d, { deltaSource: { type: 'raw', path: 'no-such-device' } }), []);
      expect(byName.deltas).toMatchObject({ status: 'fail', code: 'NH_DELTA_NO_SOURCE' });
      expect(byName.deltas!.detail).toMatch(/cannot read .*no-such-device \(ENOENT\)/);
    });
  });
});
