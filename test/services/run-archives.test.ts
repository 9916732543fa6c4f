import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AgentConfigError} from '../../src/cli/agent-config.js';
import { parseAgentConfig } from '../../src/cli/agent-config.js';
import { NervesHubTestServer } from '../../src/testing/server/nerves-hub-test-server.js';
import { pushArchive } from '../../src/testing/server/service-requests.js';
import { ROOT, registeredAgentDevice, runCli } from '../cli/agent-process.js';
import { until } from './helpers.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'fwup');
const KEY = readFileSync(join(FIXTURES, 'keys', 'fwup-key.pub'), 'utf8').trim();
const OTHER_KEY = readFileSync(join(FIXTURES, 'keys', 'other-key.pub'), 'utf8').trim();
const SIGNED = readFileSync(join(FIXTURES, 'fw', 'signed.fw'));
const OTHER_SIGNED = readFileSync(join(FIXTURES, 'fw', 'signed-other-key.fw'));
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

let server: NervesHubTestServer;
const cleanup: Array<() => void> = [];
beforeAll(async () => {
  // the org's archive key, sent only when a join asks for it
  server = await NervesHubTestServer.start({ archivePublicKeys: [KEY] });
});
afterAll(async () => server.close());
afterEach(() => {
  for (const c of cleanup.splice(0).reverse()) c();
});

const BASE = {
  url: 'wss://127.0.0.1:1',
  auth: { type: 'certificate', certFile: 'cert.pem', keyFile: 'key.pem' },
  firmware: { uuid: 'u', product: 'p', version: '1', platform: 'host', architecture: 'x86_64' },
  fwupPublicKeys: [OTHER_KEY],
  apply: { type: 'file', path: 'target.fw' },
  stateDir: 'state',
};

async function startAgent(overrides: Record<string, unknown>) {
  const config = { ...BASE, url: server.url, firmware: { ...BASE.firmware, uuid: randomUUID() }, fwupVersion: '1.16.0', extensions: { health: false, geo: false }, ...overrides };
  const { id, dir, configPath } = await registeredAgentDevice(server, 'NH-RUNARCH', config, { prefix: 'nhl-runarch-', cleanup });
  const agent = runCli(['run', '--config', configPath], { timeoutMs: 60_000, cleanup });
  await server.waitForJoin(id, { timeoutMs: 15_000 });
  return { id, dir, err: agent.err };
}

/** A command that appends "<path> <sha256 of the file>" to `log` (the path is its last argument). */
function recorder(log: string): string[] {
  const script = `const fs=require('fs');const p=process.argv.at(-1);fs.appendFileSync(${JSON.stringify(log)}, p+' '+require('crypto').createHash('sha256').update(fs.readFileSync(p)).digest('hex')+'\\n')`;
  return [process.execPath, '-e', script];
}

describe('nerves-hub-link run: archives', () => {
  it('hands every verified archive to archives.command (argv + path); a badly signed one never reaches it', async () => {
    const log = join(tmpdir(), `nhl-archive-cmd-${randomUUID()}`);
    cleanup.push(() => rmSync(log, { force: true }));
    // archive keys pinned in device.json; the fwup key (OTHER_KEY) must not verify archives
    const agent = await startAgent({ archivePublicKeys: [KEY], archives: { dir: 'archives', command: recorder(log) } });
    const archiveDir = join(agent.dir, 'archives');

    pushArchive(server, agent.id, { uuid: 'arch-evil', url: server.hostFirmware(`${agent.id}-evil.fw`, OTHER_SIGNED), size: OTHER_SIGNED.length });
    await until(() => agent.err().includes('NH_FW_BAD_SIGNATURE'), 15_000);
    expect(existsSync(log)).toBe(false);
    expect(readdirSync(archiveDir)).toEqual([]);

    pushArchive(server, agent.id, { uuid: 'arch-good', url: server.hostFirmware(`${agent.id}-good.fw`, SIGNED), size: SIGNED.length });
    await until(() => existsSync(log) && readFileSync(log, 'utf8').endsWith('\n'), 15_000);
    expect(readFileSync(log, 'utf8')).toBe(`${join(archiveDir, 'arch-good.fw')} ${sha256(SIGNED)}\n`);
    await until(() => agent.err().includes('archive command finished'), 10_000);
    expect(agent.err()).toMatch(/archive arch-good verified; running the archive command/);
    expect(server.connectedDevices()).toContain(agent.id);
  }, 60_000);

  it('without a command the verified archive stays in the dir; keys asked from the server with requestArchivePublicKeys', async () => {
    const agent = await startAgent({ requestArchivePublicKeys: true, archives: {} });
    const join_ = await server.waitForFrame((f) => f.identifier === agent.id && f.topic === 'device' && f.event === 'phx_join');
    expect(join_.payload).toMatchObject({ archive_public_keys: 'on_connect' });
    pushArchive(server, agent.id, { uuid: 'arch-kept', url: server.hostFirmware(`${agent.id}-kept.fw`, SIGNED), size: SIGNED.length });
    const kept = join(agent.dir, 'state', 'archives', 'arch-kept.fw');
    await until(() => agent.err().includes('arch-kept verified; kept at'), 15_000);
    expect(readFileSync(kept).equals(SIGNED)).toBe(true);
  }, 60_000);

  it('device.json: archives off unless configured; every archives problem is reported with the others', () => {
    const parse = (extra: Record<string, unknown>) => parseAgentConfig({ ...BASE, ...extra }, '/base');
    expect(parse({}).services.archives).toBeUndefined();
    expect(parse({}).archivePublicKeys).toBeUndefined();
    expect(parse({ archives: { dir: 'a', command: ['/usr/bin/install-bundle', '--quiet'] }, archivePublicKeys: [KEY] })).toMatchObject({
      archivePublicKeys: [KEY],
      services: { archives: { dir: '/base/a', command: ['/usr/bin/install-bundle', '--quiet'] } },
    });
    let error: AgentConfigError | undefined;
    try {
      parse({ archives: { dir: 'a', command: [] }, archivePublicKeys: ['short'], requestArchivePublicKeys: 'yes', console: { uploadDir: 'x' } });
    } catch (e) {
      error = e as AgentConfigError;
    }
    expect(error?.problems.map((p) => p.key).sort()).toEqual(['archivePublicKeys[0]', 'archives.command', 'console.enabled', 'requestArchivePublicKeys']);
    expect(() => parse({ archives: { dri: 'a' } })).toThrow(/archives\.dri/);
    expect(() => parse({ archives: true })).toThrow(/"archives": must be an object/);
  });
});
