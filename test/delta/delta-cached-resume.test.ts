// Issue 14 item 4: the cached strategy resumes a delta download like a full one (size and
// checksums describe the delta file), and never resumes bytes of the full firmware into the delta
// of the same target UUID (or the other way round).
import { copyFileSync, existsSync, readFileSync, statSync } from 'node:fs';
import { createHash, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Downloader } from '../../src/download/downloader.js';
import { FwupApplier } from '../../src/update/appliers/fwup-applier.js';
import { cachePaths } from '../../src/update/cached-strategy.js';
import { UpdateManager } from '../../src/update/update-manager.js';
import type { UpdateInfo } from '../../src/protocol/update-info.js';
import { RecordingReporter, useFirmwareHost } from '../update/helpers/update-harness.js';
import { DELTA_KEY, deltaFixture } from './delta-fixtures.js';

const STANDIN_FWUP = join(import.meta.dirname, '..', 'fixtures', 'bin', 'fwup');
const DELTA = readFileSync(deltaFixture('fw/delta-1-to-2.fw'));
const FULL = readFileSync(deltaFixture('fw/v2.fw'));
const AFTER = readFileSync(deltaFixture('expected/after-delta-upgrade.img'));
const hosting = useFirmwareHost();

let counter = 0;
function publish(bytes: Uint8Array): { name: string; url: string } {
  const name = `delta-cached-${++counter}.fw`;
  return { name, url: hosting.fx.baseUrl + hosting.fx.host.add(name, bytes) };
}
/** The offer; `checksum: false` leaves it out (with one, the downloader holds a < 1 MiB file back until its end, so an interruption leaves no partial bytes). */
function offer(url: string, bytes: Uint8Array, uuid: string, checksum = true): UpdateInfo {
  return {
    firmwareUrl: new URL(url),
    firmwareMeta: { uuid, product: 'delta-fixture', version: '2.0.2' },
    size: bytes.length,
    ...(checksum ? { checksum: createHash('sha256').update(bytes).digest('hex') } : {}),
    raw: {},
  };
}
function rangesOf(name: string): Array<string | undefined> {
  return hosting.fx.host.requests.filter((r) => r.path.endsWith(`/${name}`)).map((r) => r.headers.range as string | undefined);
}

function device() {
  const dir = hosting.dirs.make();
  const image = join(dir, 'device.img');
  copyFileSync(deltaFixture('expected/source-after-v1-complete.img'), image);
  const cacheDir = join(dir, 'cache');
  const make = (idleTimeoutMs = 2000, maxDisconnects = 10) => {
    const reporter = new RecordingReporter();
    const m = new UpdateManager({
      client: { updateAvailable: () => ({ action: 'apply' }) },
      reporter,
      applier: new FwupApplier({ devicePath: image, task: 'upgrade', fwupPath: STANDIN_FWUP }),
      publicKeys: () => [DELTA_KEY],
      downloader: new Downloader({ ca: hosting.fx.caPem, retry: { timeBetweenRetriesMs: 5, retryJitterRatio: 0, idleTimeoutMs, maxDisconnects } }),
      strategy: 'cached',
      stateDir: join(dir, 'state'),
      cacheDir,
      progressIntervalMs: 0,
    });
    return { m, reporter };
  };
  return { image, cacheDir, make };
}

describe('cached strategy with delta firmware', () => {
  it('an interrupted delta download resumes with Range from the partial file, is verified as a delta, and fwup applies it', async () => {
    const d = device();
    const { name, url } = publish(DELTA);
    const uuid = randomUUID();
    hosting.fx.host.setFaults(name, { stallAfterBytes: 3000, times: 1 });
    const first = await d.make(750, 1).m.handleUpdate(offer(url, DELTA, uuid, false));
    expect(first.status).toBe('failed');
    hosting.fx.host.destroyOpenResponses();
    expect(statSync(cachePaths(d.cacheDir, uuid).partial).size).toBe(3000);

    // the re-offer carries the delta file's checksum: the resumed file is proven against it as a whole
    const info = offer(url, DELTA, uuid);
    const { m, reporter } = d.make();
    expect(await m.handleUpdate(info)).toMatchObject({ status: 'completed' });
    expect(rangesOf(name)).toEqual([undefined, 'bytes=3000-']);
    expect(readFileSync(d.image).equals(AFTER)).toBe(true);
    expect(reporter.statuses()).toEqual(['received', 'started', 'completed']);
    expect(existsSync(cachePaths(d.cacheDir, info.firmwareMeta.uuid).partial)).toBe(false);
  });

  it('a partial of the full firmware is not resumed into the delta of the same target UUID: the delta starts at byte 0', async () => {
    const d = device();
    const uuid = randomUUID();
    const full = publish(FULL);
    hosting.fx.host.setFaults(full.name, { stallAfterBytes: 5000, times: 1 });
    expect((await d.make(750, 1).m.handleUpdate(offer(full.url, FULL, uuid, false))).status).toBe('failed');
    hosting.fx.host.destroyOpenResponses();
    expect(statSync(cachePaths(d.cacheDir, uuid).partial).size).toBe(5000);

    // the device now reports fwup_version: NervesHub offers the same target as a delta
    const delta = publish(DELTA);
    const { m } = d.make();
    expect(await m.handleUpdate(offer(delta.url, DELTA, uuid))).toMatchObject({ status: 'completed' });
    expect(rangesOf(delta.name)).toEqual([undefined]);
    expect(readFileSync(d.image).equals(AFTER)).toBe(true);
  });
});
