// Issue 14, "done when": a NervesHub delta firmware (the fwup-delta fixture, made the way the server
// makes them) updates a device through the real `nerves-hub-link run` agent, both ways: fwup
// applies the patches (the recorded-framing stand-in, or a real fwup where installed), or the SDK
// rebuilds the full firmware against device.json's deltaSource and verifies it before a file
// applier gets a byte. A tampered delta fails with the target untouched.
import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FirmwareVerifier } from '../../src/firmware/firmware-verifier.js';
import { NervesHubTestServer } from '../../src/testing/server/nerves-hub-test-server.js';
import { ROOT, registeredAgentDevice, runCli } from '../cli/agent-process.js';
import { DELTA_KEY, deltaFixture } from './delta-fixtures.js';
import { zipEntries } from './helpers.js';

const STANDIN_FWUP = join(ROOT, 'test', 'fixtures', 'bin', 'fwup');
function realFwup(): string | undefined {
  try {
    execFileSync('fwup', ['--version'], { stdio: 'ignore' });
    return 'fwup';
  } catch {
    return undefined;
  }
}
const FWUP = realFwup() ?? STANDIN_FWUP;
const DELTA = readFileSync(deltaFixture('fw/delta-1-to-2.fw'));
const TAMPERED = readFileSync(deltaFixture('fw/delta-1-to-2-tampered.fw'));
const V1 = readFileSync(deltaFixture('fw/v1.fw'));
const V2 = readFileSync(deltaFixture('fw/v2.fw'));
const BEFORE_IMAGE = deltaFixture('expected/source-after-v1-complete.img');
const AFTER_IMAGE = readFileSync(deltaFixture('expected/after-delta-upgrade.img'));
const TARGET_META = { uuid: randomUUID(), product: 'delta-fixture', version: '2.0.2', platform: 'x86_64', architecture: 'x86_64' };

let server: NervesHubTestServer;
const cleanup: Array<() => void> = [];
beforeAll(async () => {
  server = await NervesHubTestServer.start({ fwupPublicKeys: [DELTA_KEY] });
});
afterAll(async () => server.close());
afterEach(() => {
  for (const c of cleanup.splice(0).reverse()) c();
});

/** A registered device with a device.json in its own directory; `files` are written there first. */
async function device(overrides: Record<string, unknown>, files: Record<string, Uint8Array> = {}) {
  const config = {
    firmware: { uuid: randomUUID(), product: 'delta-fixture', version: '2.0.1', platform: 'x86_64', architecture: 'x86_64' },
    fwupPublicKeys: [DELTA_KEY],
    reboot: { type: 'exit', code: 42 },
    ...overrides,
  };
  return registeredAgentDevice(server, 'NH-DRUN', config, { prefix: 'nhl-delta-run-', files, cleanup });
}

function startAgent(configPath: string) {
  return runCli(['run', '--config', configPath], { cleanup });
}

function offer(id: string, bytes: Uint8Array): void {
  const url = server.hostFirmware(`${id}-${randomUUID().slice(0, 4)}.fw`, bytes);
  server.pushUpdate(id, { firmwareUrl: url, firmwareMeta: TARGET_META, size: bytes.length, checksum: createHash('sha256').update(bytes).digest('hex').toUpperCase() });
}

function statusesOf(id: string): string[] {
  return server.frames.filter((f) => f.identifier === id && f.event === 'status_update').map((f) => String((f.payload as { status?: unknown }).status));
}

async function resources(archive: Uint8Array): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await zipEntries(archive)) if (e.name.startsWith('data/') && e.name !== 'data/') out[e.name] = Buffer.from(e.data).toString('hex');
  return out;
}

describe(`nerves-hub-link run takes a NervesHub delta (fwup: ${FWUP === STANDIN_FWUP ? 'recorded-framing stand-in' : 'real'})`, () => {
  it('apply.type "fwup": the join carries fwup_version (asked from fwup), fwup applies the delta, the image becomes what real fwup made, status completed', async () => {
    const image = join(mkdtempSync(join(tmpdir(), 'nhl-delta-run-img-')), 'device.img');
    cleanup.push(() => rmSync(join(image, '..'), { recursive: true, force: true }));
    copyFileSync(BEFORE_IMAGE, image);
    // apply.devicePath is taken as given (a device node), not relative to device.json
    const d = await device({ apply: { type: 'fwup', devicePath: image, task: 'upgrade', fwupPath: FWUP } });
    const agent = startAgent(d.configPath);
    const params = await server.waitForJoin(d.id, { timeoutMs: 15_000 });
    expect(params.fwup_version).toMatch(/^\d+\.\d+\.\d+/);
    offer(d.id, DELTA);
    expect((await agent.exited).code).toBe(42);
    expect(statusesOf(d.id)).toEqual(['received', 'started', 'completed']);
    expect(readFileSync(image).equals(AFTER_IMAGE)).toBe(true);
  });

  it('apply.type "file" + deltaSource "file": fwup_version is reported, the delta is rebuilt against the last firmware, the target is the full new firmware, verified, status completed', async () => {
    const d = await device({ fwupVersion: '1.16.0', apply: { type: 'file', path: 'current.fw' }, deltaSource: { type: 'file' } }, { 'current.fw': V1 });
    const agent = startAgent(d.configPath);
    expect(await server.waitForJoin(d.id, { timeoutMs: 15_000 })).toMatchObject({ fwup_version: '1.16.0' });
    offer(d.id, DELTA);
    expect((await agent.exited).code).toBe(42);
    expect(statusesOf(d.id)).toEqual(['received', 'started', 'completed']);
    const written = readFileSync(join(d.dir, 'current.fw'));
    expect(await resources(written)).toEqual(await resources(V2));
    expect(await new FirmwareVerifier({ publicKeys: [DELTA_KEY] }).verify(written)).toMatchObject({ valid: true });
  });

  it('apply.type "file" + deltaSource "raw": the ranges meta.conf names are read from the device image; the target is the full new firmware', async () => {
    // no fwupVersion given: with a delta source and no fwup, the agent reports the fwup version the SDK reads archives as
    const d = await device({ apply: { type: 'file', path: 'next.fw' }, deltaSource: { type: 'raw', path: 'device.img', task: 'upgrade' } });
    copyFileSync(BEFORE_IMAGE, join(d.dir, 'device.img'));
    const agent = startAgent(d.configPath);
    expect(await server.waitForJoin(d.id, { timeoutMs: 15_000 })).toMatchObject({ fwup_version: '1.16.0' });
    offer(d.id, DELTA);
    expect((await agent.exited).code).toBe(42);
    expect(statusesOf(d.id)).toEqual(['received', 'started', 'completed']);
    expect(await resources(readFileSync(join(d.dir, 'next.fw')))).toEqual(await resources(V2));
  });

  it('apply.type "file" + deltaSource "file", tampered delta: status failed, the target is untouched, the agent stays connected', async () => {
    const d = await device({ fwupVersion: '1.16.0', apply: { type: 'file', path: 'current.fw' }, deltaSource: { type: 'file' } }, { 'current.fw': V1 });
    const agent = startAgent(d.configPath);
    await server.waitForJoin(d.id, { timeoutMs: 15_000 });
    offer(d.id, TAMPERED);
    const failed = await server.waitForFrame((f) => f.identifier === d.id && f.event === 'status_update' && (f.payload as { status?: string }).status === 'failed', { timeoutMs: 15_000 });
    expect((failed.payload as { reason?: string }).reason).toMatch(/^Update failed : /);
    expect(statusesOf(d.id)).not.toContain('completed');
    expect(readFileSync(join(d.dir, 'current.fw')).equals(V1)).toBe(true);
    expect(server.connectedDevices()).toContain(d.id);
    expect(agent.err()).toMatch(/NH_(DELTA|FW)_/);
    agent.child.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
    expect(readFileSync(join(d.dir, 'current.fw')).equals(V1)).toBe(true);
  });
});
