import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NervesHubLink } from '../../src/link/nerves-hub-link.js';
import type { LogLevel } from '../../src/logging/logger.js';
import type { InvalidMessageInfo } from '../../src/socket/socket-events.js';
import { NervesHubTestServer } from '../../src/testing/index.js';
import { FileApplier } from '../../src/update/appliers/file-applier.js';
import type { UpdateOutcome } from '../../src/update/update-manager-options.js';
import { FAST, FIRMWARE, nextEvent, sleep, staticProvider } from './helpers.js';

const KEY = Buffer.alloc(32, 1).toString('base64');
// What NervesHub's UpdatePayload encodes when there is nothing to install (every other field nil).
const NO_UPDATE = { update_available: false, firmware_url: null, firmware_meta: null, size: null, checksum: null, partials_checksums: null, deployment_id: null };

let server: NervesHubTestServer;
let dir: string;
let link: NervesHubLink | undefined;
beforeEach(async () => {
  server = await NervesHubTestServer.start({ fwupPublicKeys: [KEY] });
  dir = mkdtempSync(join(tmpdir(), 'nhl-no-update-'));
});
afterEach(async () => {
  await link?.stop();
  link = undefined;
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('update with update_available: false', () => {
  it('is a "no update" answer: logged at info, no invalidMessage, no update started, still joined', async () => {
    const id = 'NH-NO-UPDATE-1';
    const cert = await server.issueDeviceCertificate(id);
    const target = join(dir, 'firmware.fw');
    writeFileSync(target, 'previous');
    const logs: Array<{ level: LogLevel; message: string }> = [];
    let asked = 0;
    link = new NervesHubLink({
      socket: { url: server.url, auth: { type: 'certificate', provider: staticProvider({ certificateChain: [cert.certPem], key: cert.keyPem }) }, firmware: FIRMWARE, fwupPublicKeys: [KEY], tls: { ca: server.serverCaPem }, ...FAST },
      client: { updateAvailable: () => ((asked += 1), { action: 'apply' }) },
      applier: new FileApplier({ path: target }),
      update: { stateDir: join(dir, 'state') },
      logger: { log: (level, message) => void logs.push({ level, message }) },
    });
    const invalid: InvalidMessageInfo[] = [];
    const outcomes: UpdateOutcome[] = [];
    link.socket.on('invalidMessage', (i) => invalid.push(i));
    link.onUpdateOutcome((o) => outcomes.push(o));
    const connected = nextEvent(link.socket, 'connected');
    link.start();
    await connected;

    const identified = nextEvent(link.socket, 'identify');
    server.push(id, 'update', NO_UPDATE);
    server.push(id, 'identify', {}); // frames are handled in order: the update before it is done
    await identified;
    await sleep(20);

    expect(invalid).toEqual([]);
    const info = logs.filter((l) => l.level === 'info' && /no update/i.test(l.message));
    expect(info).toHaveLength(1);
    expect(logs.some((l) => (l.level === 'warn' || l.level === 'error') && l.message.includes('update'))).toBe(false);
    expect(asked).toBe(0);
    expect(outcomes).toEqual([]);
    expect(server.frames.filter((f) => f.identifier === id && f.event === 'status_update')).toEqual([]);
    expect(readFileSync(target, 'utf8')).toBe('previous');
    expect(link.socket.joined).toBe(true);
    expect(server.connectedDevices()).toContain(id);
  });
});
