import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { NervesHubTestServer } from '../../src/testing/server/nerves-hub-test-server.js';
import { pushArchive } from '../../src/testing/server/service-requests.js';
import type { ArchiveOutcome } from '../../src/archives/archive-manager.js';
import type { ArchiveInfo } from '../../src/protocol/archive-info.js';
import { startLinkDevice, until } from './helpers.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'fwup');
const KEY = readFileSync(join(FIXTURES, 'keys', 'fwup-key.pub'), 'utf8').trim();
const OTHER_KEY = readFileSync(join(FIXTURES, 'keys', 'other-key.pub'), 'utf8').trim();
const SIGNED = readFileSync(join(FIXTURES, 'fw', 'signed.fw'));
const OTHER_SIGNED = readFileSync(join(FIXTURES, 'fw', 'signed-other-key.fw'));

let server: NervesHubTestServer;
const cleanup: Array<() => Promise<void> | void> = [];
beforeAll(async () => {
  server = await NervesHubTestServer.start();
});
afterAll(async () => server.close());
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function archiveDevice(options: { keys?: string[]; decision?: 'download' | 'ignore'; dirSetup?: (dir: string) => void } = {}) {
  const asked: ArchiveInfo[] = [];
  const ready: Array<{ info: ArchiveInfo; path: string; bytes: Buffer }> = [];
  const outcomes: ArchiveOutcome[] = [];
  const archiveDir = join(mkdtempSync(join(tmpdir(), 'nhl-arch-')), 'archives');
  cleanup.push(() => rmSync(dirname(archiveDir), { recursive: true, force: true }));
  options.dirSetup?.(archiveDir);
  const device = await startLinkDevice(server, cleanup, {
    extensions: false,
    socket: { fwupPublicKeys: options.keys ?? [KEY] },
    archives: {
      dir: archiveDir,
      client: {
        archiveAvailable: (info) => (asked.push(info), options.decision ?? 'download'),
        archiveReady: (info, path) => void ready.push({ info, path, bytes: readFileSync(path) }),
      },
    },
  });
  device.link.onArchiveOutcome((o) => outcomes.push(o));
  return { ...device, asked, ready, outcomes, archiveDir };
}

describe('archives', () => {
  it('downloads, verifies with the archive keys and hands the verified path to the app', async () => {
    const d = await archiveDevice();
    const url = server.hostFirmware(`${d.id}-archive.fw`, SIGNED);
    pushArchive(server, d.id, { uuid: 'arch-1', url, size: SIGNED.length });
    await until(() => d.outcomes.length === 1);
    expect(d.outcomes[0]).toMatchObject({ status: 'ready', uuid: 'arch-1', path: join(d.archiveDir, 'arch-1.fw') });
    expect(d.asked[0]).toMatchObject({ uuid: 'arch-1', size: SIGNED.length, version: '1.0.0', uploadedAt: '2026-01-01T00:00:00' });
    expect(d.ready).toHaveLength(1);
    expect(d.ready[0]!.bytes.equals(SIGNED)).toBe(true);
    expect(readdirSync(d.archiveDir)).toEqual(['arch-1.fw']);
  });

  it('a bad signature: nothing is handed to the app and nothing stays on disk', async () => {
    const d = await archiveDevice();
    const url = server.hostFirmware(`${d.id}-evil.fw`, OTHER_SIGNED);
    pushArchive(server, d.id, { uuid: 'arch-evil', url, size: OTHER_SIGNED.length });
    await until(() => d.outcomes.length === 1);
    expect(d.outcomes[0]).toMatchObject({ status: 'failed', uuid: 'arch-evil', code: 'NH_FW_BAD_SIGNATURE' });
    expect(d.ready).toEqual([]);
    expect(readdirSync(d.archiveDir)).toEqual([]);
    expect(server.connectedDevices()).toContain(d.id);
  });

  it('without archive keys the offer is refused before the app is asked and nothing is downloaded', async () => {
    const d = await archiveDevice({ keys: [] });
    const url = server.hostFirmware(`${d.id}-nokeys.fw`, SIGNED);
    pushArchive(server, d.id, { uuid: 'arch-nokeys', url, size: SIGNED.length });
    await until(() => d.outcomes.length === 1);
    expect(d.outcomes[0]).toMatchObject({ status: 'refused', code: 'NH_ARCHIVE_NO_KEYS' });
    expect(d.asked).toEqual([]);
    expect(server.firmware.requests.some((r) => r.path.includes(`${d.id}-nokeys`))).toBe(false);
    expect(existsSync(d.archiveDir)).toBe(false);
  });

  it('keys pushed by the server without being asked are not trusted', async () => {
    const d = await archiveDevice({ keys: [OTHER_KEY] });
    server.push(d.id, 'archive_public_keys', { keys: [KEY] });
    await new Promise((r) => setTimeout(r, 50));
    const url = server.hostFirmware(`${d.id}-unsolicited.fw`, SIGNED);
    pushArchive(server, d.id, { uuid: 'arch-u', url, size: SIGNED.length });
    await until(() => d.outcomes.length === 1);
    expect(d.outcomes[0]).toMatchObject({ status: 'failed', code: 'NH_FW_BAD_SIGNATURE' });
    expect(d.ready).toEqual([]);
  });

  it('ignored archives are not downloaded', async () => {
    const d = await archiveDevice({ decision: 'ignore' });
    const url = server.hostFirmware(`${d.id}-ignored.fw`, SIGNED);
    pushArchive(server, d.id, { uuid: 'arch-ign', url });
    await until(() => d.outcomes.length === 1);
    expect(d.outcomes[0]).toMatchObject({ status: 'ignored' });
    expect(server.firmware.requests.some((r) => r.path.includes(`${d.id}-ignored`))).toBe(false);
  });

  it('a partial download left by a restart is resumed with Range', async () => {
    const half = Math.floor(SIGNED.length / 2);
    const d = await archiveDevice({
      dirSetup: (dir) => {
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'arch-resume.download'), SIGNED.subarray(0, half));
      },
    });
    const url = server.hostFirmware(`${d.id}-resume.fw`, SIGNED);
    pushArchive(server, d.id, { uuid: 'arch-resume', url, size: SIGNED.length });
    await until(() => d.outcomes.length === 1);
    expect(d.outcomes[0]).toMatchObject({ status: 'ready' });
    expect(d.ready[0]!.bytes.equals(SIGNED)).toBe(true);
    const request = server.firmware.requests.find((r) => r.path.includes(`${d.id}-resume`));
    expect(request?.headers.range).toBe(`bytes=${half}-`);
  });
});
