import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/commands/run.js';
import { NervesHubTestServer } from '../../src/testing/server/nerves-hub-test-server.js';
import { ROOT, registeredAgentDevice, runCli } from './agent-process.js';
import { captureIo } from './cli-helpers.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'fwup');
const KEY = readFileSync(join(FIXTURES, 'keys', 'fwup-key.pub'), 'utf8').trim();
const SIGNED = readFileSync(join(FIXTURES, 'fw', 'signed.fw'));
const SIGNED_META = { uuid: '1004c0a7-a4e7-5094-9409-8ce6ffaa3993', product: 'fwup fixture', version: '0.1.0' };

let server: NervesHubTestServer;
const cleanup: Array<() => void> = [];
beforeAll(async () => {
  server = await NervesHubTestServer.start();
});
afterAll(async () => server.close());
afterEach(() => {
  for (const c of cleanup.splice(0).reverse()) c();
});

/** Writes a device.json (relative paths) for a fresh registered device; returns its paths. */
async function device(overrides: Record<string, unknown> = {}) {
  const config = {
    firmware: { uuid: randomUUID(), product: 'fixture', version: '0.0.1', platform: 'host', architecture: 'x86_64' },
    fwupVersion: '1.16.0',
    fwupPublicKeys: [KEY],
    apply: { type: 'file', path: 'target.fw' },
    reboot: { type: 'exit', code: 42 },
    ...overrides,
  };
  const d = await registeredAgentDevice(server, 'NH-RUN', config, { prefix: 'nhl-run-', files: { 'target.fw': 'previous firmware' }, cleanup });
  return { ...d, target: join(d.dir, 'target.fw') };
}

function startAgent(configPath: string, args: string[] = []) {
  return runCli(['run', '--config', configPath, ...args], { cleanup });
}

function statusesOf(id: string): string[] {
  return server.frames.filter((f) => f.identifier === id && f.event === 'status_update').map((f) => (f.payload as { status: string }).status);
}

describe('nerves-hub-link run', () => {
  it('applies a pushed update, reports received/started/completed, logs JSON lines and exits with the reboot code', async () => {
    const d = await device();
    const agent = startAgent(d.configPath, ['--log-format', 'json', '--log-level', 'debug']);
    const params = await server.waitForJoin(d.id, { timeoutMs: 10_000 });
    expect(params.nerves_fw_version).toBe('0.0.1');
    // a file applier cannot take delta firmware: fwup_version (which makes NervesHub send deltas) is left out
    expect(params).not.toHaveProperty('fwup_version');
    server.pushUpdate(d.id, { firmwareUrl: server.hostFirmware(`${d.id}.fw`, SIGNED), firmwareMeta: SIGNED_META, size: SIGNED.length });
    const { code } = await agent.exited;
    expect(code).toBe(42);
    expect(statusesOf(d.id)).toEqual(['received', 'started', 'completed']);
    expect(readFileSync(d.target).equals(SIGNED)).toBe(true);

    const lines = agent.err().trim().split('\n');
    const records = lines.map((l) => JSON.parse(l) as { time: string; level: string; message: string; device?: string });
    for (const r of records) {
      expect(typeof r.time).toBe('string');
      expect(['error', 'warn', 'info', 'debug']).toContain(r.level);
    }
    expect(records[0]).toMatchObject({ level: 'info', device: d.id });
    expect(records[0]!.message).toContain(`device ${d.id}`);
    expect(records.some((r) => r.message.includes('exiting with code 42'))).toBe(true);
    // never a secret in the logs
    expect(agent.err()).not.toContain('PRIVATE KEY');
    expect(agent.err()).not.toContain(d.keyPem.split('\n')[1]!);
    expect(agent.out()).toBe('');
  });

  it('stops cleanly on SIGTERM: exit 0, promptly, and the server sees the device leave', async () => {
    const d = await device();
    const agent = startAgent(d.configPath);
    await server.waitForJoin(d.id, { timeoutMs: 10_000 });
    const t0 = Date.now();
    agent.child.kill('SIGTERM');
    const { code } = await agent.exited;
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(3000);
    await server.waitForDisconnect(d.id, { timeoutMs: 2000 });
    expect(agent.err()).toMatch(/INFO {2}SIGTERM: stopping/);
    expect(agent.err()).toMatch(/INFO {2}stopped/);
    expect(statusesOf(d.id)).toEqual([]);
  });

  it('runs with the empty metadata of a real device and sends the empty strings as given in the join', async () => {
    const firmware = { uuid: randomUUID(), product: 'fixture', version: '0.0.1', platform: 'host', architecture: 'x86_64', author: '', description: '', vcs_identifier: '', misc: '' };
    const d = await device({ firmware });
    const agent = startAgent(d.configPath);
    const params = await server.waitForJoin(d.id, { timeoutMs: 10_000 });
    expect(params).toMatchObject({ nerves_fw_uuid: firmware.uuid, nerves_fw_author: '', nerves_fw_description: '', nerves_fw_vcs_identifier: '', nerves_fw_misc: '' });
    agent.child.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  });

  it('runs the reboot command (no shell) after a completed update, then stops', async () => {
    const d = await device();
    const marker = join(d.dir, 'rebooted');
    const config = JSON.parse(readFileSync(d.configPath, 'utf8')) as Record<string, unknown>;
    config.reboot = { type: 'command', argv: [process.execPath, '-e', `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'yes')`] };
    writeFileSync(d.configPath, JSON.stringify(config));
    const agent = startAgent(d.configPath);
    await server.waitForJoin(d.id, { timeoutMs: 10_000 });
    server.push(d.id, 'reboot', {});
    const { code } = await agent.exited;
    expect(code).toBe(0);
    expect(readFileSync(marker, 'utf8')).toBe('yes');
    expect(server.frames.some((f) => f.identifier === d.id && f.event === 'rebooting')).toBe(true);
  });

  it('refuses a bad config with exit 2 naming the key, and pkcs11 in a process without the OpenSSL engine', async () => {
    const bad = await device({ reboot: { type: 'exit', code: 300 } });
    let io = captureIo();
    expect(await run(['--config', bad.configPath], io)).toBe(2);
    expect(io.err()).toContain('config key "reboot.code"');

    const pkcs11 = await device({ auth: { type: 'pkcs11', uri: 'pkcs11:token=dev;object=key', certFile: 'cert.pem', modulePath: '/usr/lib/softhsm/libsofthsm2.so' } });
    io = captureIo();
    expect(await run(['--config', pkcs11.configPath], io)).toBe(2);
    // in-process (no CLI script to restart): says how to start Node, before any connection
    expect(io.err()).toMatch(/OpenSSL pkcs11 engine .*(--openssl-config=\S+openssl-pkcs11\.cnf|is not installed)/);
    expect(server.frames.some((f) => f.identifier === pkcs11.id)).toBe(false);

    const socks = await device({ proxy: 'socks5://127.0.0.1:1080' });
    io = captureIo();
    expect(await run(['--config', socks.configPath], io)).toBe(2);
    expect(io.err()).toContain('config key "proxy"');

    const several = await device({ strategy: 'cache', reboot: { type: 'exit', code: 300 }, serverCAFile: 'ca.pem' });
    io = captureIo();
    expect(await run(['--config', several.configPath], io)).toBe(2);
    expect(io.err()).toBe(
      `nerves-hub-link run: 3 problems in ${several.configPath}:\n` +
        '  config key "reboot.code": must be an integer 0..255\n' +
        '  config key "strategy": must be one of "streaming", "cached" (did you mean "cached"?)\n' +
        '  config key "serverCAFile": is not a known key (did you mean "serverCaFile"?)\n',
    );

    io = captureIo();
    expect(await run(['--config', join(bad.dir, 'missing.json')], io)).toBe(2);
    expect(io.err()).toMatch(/cannot read .*missing\.json/);
  });

  it('exits 2 for bad options, through the real CLI', async () => {
    const d = await device();
    const agent = startAgent(d.configPath, ['--log-format', 'xml']);
    const { code } = await agent.exited;
    expect(code).toBe(2);
    expect(agent.err()).toContain('--log-format must be text or json');
    expect(server.upgrades.some((u) => u.identifier === d.id)).toBe(false);
  });
});
