import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../../src/cli/agent-config.js';
import { NervesHubTestServer } from '../../src/testing/server/nerves-hub-test-server.js';
import { consoleInput, requestHealthCheck, requestLocation, waitForConsoleOutput } from '../../src/testing/server/service-requests.js';
import { ROOT, registeredAgentDevice, runCli } from '../cli/agent-process.js';
import { until } from './helpers.js';

const KEY = readFileSync(join(ROOT, 'test', 'fixtures', 'fwup', 'keys', 'fwup-key.pub'), 'utf8').trim();

let server: NervesHubTestServer;
const cleanup: Array<() => void> = [];
beforeAll(async () => {
  server = await NervesHubTestServer.start({ extensions: ['health', 'geo'] });
});
afterAll(async () => server.close());
afterEach(() => {
  for (const c of cleanup.splice(0).reverse()) c();
});

const BASE = {
  url: 'wss://127.0.0.1:1',
  auth: { type: 'certificate', certFile: 'cert.pem', keyFile: 'key.pem' },
  firmware: { uuid: 'u', product: 'p', version: '1', platform: 'host', architecture: 'x86_64' },
  fwupPublicKeys: [KEY],
  apply: { type: 'file', path: 'target.fw' },
  stateDir: 'state',
};

async function startAgent(overrides: Record<string, unknown>) {
  const config = { ...BASE, url: server.url, firmware: { ...BASE.firmware, uuid: randomUUID() }, fwupVersion: '1.16.0', ...overrides };
  const { id, dir, configPath } = await registeredAgentDevice(server, 'NH-RUNSVC', config, { prefix: 'nhl-runsvc-', cleanup });
  const agent = runCli(['run', '--config', configPath], { timeoutMs: 60_000, cleanup });
  await server.waitForJoin(id, { timeoutMs: 15_000 });
  return { id, dir, err: agent.err };
}

describe('nerves-hub-link run: device services', () => {
  it('the default config answers extensions:get, reports health, answers geo, refuses scripts; console off; identify runs the command', async () => {
    const marker = join(tmpdir(), `nhl-identify-${randomUUID()}`);
    cleanup.push(() => rmSync(marker, { force: true }));
    const agent = await startAgent({ identify: { argv: [process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, 'blink')`] } });
    const id = agent.id;
    const join_ = await server.waitForFrame((f) => f.identifier === id && f.topic === 'extensions' && f.event === 'phx_join', { timeoutMs: 10_000 });
    expect(join_.payload).toEqual({ health: '0.0.1', geo: '0.0.1' });
    await server.waitForFrame((f) => f.identifier === id && f.event === 'geo:attached', { timeoutMs: 10_000 });
    const report = await requestHealthCheck(server, id, { timeoutMs: 10_000 });
    expect(report.metrics).toHaveProperty('cpu_usage_percent');
    expect(report.metrics).toHaveProperty('disk_total_kb');
    expect(await requestLocation(server, id)).toMatchObject({ error_code: 'NO_RESOLVER' });
    server.push(id, 'scripts/run', { text: 'IO.puts(1)', ref: 'r' });
    const script = await server.waitForFrame((f) => f.identifier === id && f.event === 'scripts/run');
    expect(script.payload).toEqual({ ref: 'r', result: 'error', reason: 'unsupported', output: '', return: '' });
    expect(server.frames.some((f) => f.identifier === id && f.topic === 'console')).toBe(false);
    server.push(id, 'identify', {});
    await until(() => existsSync(marker) && readFileSync(marker, 'utf8') === 'blink', 10_000);
    await until(() => agent.err().includes('identify'));
  }, 60_000);

  it('device.json turns health and geo off or sets the disk mount; console.enabled gives a working REPL', async () => {
    const agent = await startAgent({ extensions: { health: { diskMount: '/tmp' }, geo: false }, console: { enabled: true, timeoutSeconds: 60 } });
    const id = agent.id;
    const join_ = await server.waitForFrame((f) => f.identifier === id && f.topic === 'extensions' && f.event === 'phx_join', { timeoutMs: 10_000 });
    expect(join_.payload).toEqual({ health: '0.0.1' });
    await server.waitForFrame((f) => f.identifier === id && f.event === 'health:attached', { timeoutMs: 10_000 });
    const s = statfsSync('/tmp');
    expect((await requestHealthCheck(server, id, { timeoutMs: 10_000 })).metrics).toMatchObject({ disk_total_kb: Math.floor((s.blocks * s.bsize) / 1024) });
    await server.waitForFrame((f) => f.identifier === id && f.topic === 'console' && f.event === 'phx_join', { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 100));
    consoleInput(server, id, '[1, 2, 3].map((n) => n * 2).join("-")\r');
    await waitForConsoleOutput(server, id, '2-4-6', { timeoutMs: 10_000 });
  }, 60_000);

  it('validates the services keys of device.json', () => {
    const parse = (extra: Record<string, unknown>) => parseAgentConfig({ ...BASE, ...extra }, '/base');
    expect(parse({}).services).toEqual({ extensions: { health: {}, geo: true } });
    expect(parse({ extensions: { health: false, geo: false } }).services.extensions).toEqual({ health: false, geo: false });
    expect(parse({ console: { enabled: false, uploadDir: 'up' } }).services.console).toBeUndefined();
    expect(parse({ console: { enabled: true, uploadDir: 'up', shell: ['/bin/sh', '-l'] } }).services.console).toEqual({ uploadDir: '/base/up', shell: ['/bin/sh', '-l'] });
    expect(() => parse({ console: { uploadDir: 'up' } })).toThrow(/console\.enabled/);
    expect(() => parse({ extensions: { health: { diskMount: 'data' } } })).toThrow(/extensions\.health\.diskMount/);
    expect(() => parse({ extensions: { logging: true } })).toThrow(/extensions\.logging/);
    expect(() => parse({ identify: { argv: [] } })).toThrow(/identify\.argv/);
  });
});
