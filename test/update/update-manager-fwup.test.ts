import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Downloader } from '../../src/download/downloader.js';
import { FwupApplier } from '../../src/update/appliers/fwup-applier.js';
import { UpdateManager } from '../../src/update/update-manager.js';
import type { FwupMessage } from '../../src/update/update-client.js';
import type { UpdateStrategyName } from '../../src/update/update-strategy.js';
import { createFirmware } from '../../src/testing/create-firmware.js';
import {
  FWUP_FIXTURES,
  RecordingReporter,
  fixtureFirmware,
  fixtureKey,
  offerFor,
  useFirmwareHost,
} from './helpers/update-harness.js';

/** fwup stand-in that replays fwup 1.16's recorded framing for the fixture archives (real fwup is rarely installed). */
const STANDIN_FWUP = join(import.meta.dirname, '..', 'fixtures', 'bin', 'fwup');
const SIGNED = fixtureFirmware('signed.fw');

const hosting = useFirmwareHost();
const dirs = hosting.dirs;

function setup(strategy: UpdateStrategyName) {
  const dir = dirs.make();
  const target = join(dir, 'device.img');
  const reporter = new RecordingReporter();
  const messages: FwupMessage[] = [];
  const progress: [string, number][] = [];
  const manager = new UpdateManager({
    client: {
      updateAvailable: () => ({ action: 'apply' }),
      onFwupMessage: (m) => void messages.push(m),
      onProgress: (stage, p) => void progress.push([stage, p]),
    },
    reporter,
    applier: new FwupApplier({ devicePath: target, task: 'complete', fwupPath: STANDIN_FWUP }),
    publicKeys: () => [fixtureKey()],
    downloader: new Downloader({ ca: hosting.fx.caPem, retry: { timeBetweenRetriesMs: 5, retryJitter: 0 } }),
    strategy,
    stateDir: join(dir, 'state'),
    progressIntervalMs: 0,
  });
  return { manager, reporter, messages, progress, target };
}

describe('UpdateManager with the FwupApplier (fwup stand-in)', () => {
  it.each(['streaming', 'cached'] as const)('%s: fwup progress becomes fwup_progress updating, completed', async (strategy) => {
    const { manager, reporter, messages, progress, target } = setup(strategy);
    const url = hosting.fx.baseUrl + hosting.fx.host.add(`fwup-${strategy}.fw`, SIGNED);
    const outcome = await manager.handleUpdate(offerFor(url, SIGNED));
    expect(outcome.status).toBe('completed');
    expect(readFileSync(target).equals(SIGNED)).toBe(true); // the stand-in writes what it received
    const updating = reporter.progress().filter((p) => p.stage === 'updating').map((p) => p.value);
    expect(updating.at(-1)).toBe(100);
    if (strategy === 'cached') {
      // fwup's PR packets (0, 33…) then the final 100
      expect(updating.slice(0, 2)).toEqual([0, 33]);
    } else {
      // streaming: one `updating` stage; the stand-in only reports after reading all its input, so the
      // download percent (capped at 99) got there first and fwup's lower values were not re-sent
      expect(updating).toEqual([...updating].sort((a, b) => a - b));
    }
    expect(messages.filter((m) => m.type === 'progress').length).toBeGreaterThanOrEqual(3);
    expect(messages.some((m) => m.type === 'warning' && m.message.includes('fixture: complete task starting'))).toBe(true);
    await expect.poll(() => progress.at(-1)).toEqual(['updating', 100]);
    expect(reporter.statuses().at(-1)).toBe('completed');
  });

  it('an fwup failure on a verified archive is reported as "FWUP error : …"', async () => {
    const { manager, reporter, target } = setup('streaming');
    // Validly signed with key A, but unknown to the stand-in, which then fails like fwup would.
    const fw = await createFirmware({
      resources: { 'rootfs.bin': new Uint8Array(5000).fill(7) },
      meta: { product: 'other', version: '9.9.9' },
      privateKey: readFileSync(join(FWUP_FIXTURES, 'keys', 'fwup-key.priv'), 'utf8'),
      tasks: [{ name: 'complete', onResource: { 'rootfs.bin': [['raw_write', 0]] } }],
    });
    const url = hosting.fx.baseUrl + hosting.fx.host.add('fwup-unknown.fw', fw);
    const outcome = await manager.handleUpdate(offerFor(url, fw));
    expect(outcome.status).toBe('failed');
    expect(outcome.reason).toMatch(/^FWUP error : .*does not know the archive/);
    expect(reporter.wire().at(-1)).toEqual({ status: 'failed', reason: outcome.reason });
    expect(existsSync(target)).toBe(false);
  });
});

describe('cached strategy with partial checksums on a multi-MiB firmware', () => {
  it('resumes from the last verified 1 MiB boundary and re-checks the whole file', async () => {
    const dir = dirs.make();
    const target = join(dir, 'target.img');
    writeFileSync(target, 'previous');
    const rootfs = new Uint8Array(2_600_000);
    for (let i = 0; i < rootfs.length; i++) rootfs[i] = (i * 2654435761) >>> 24;
    const fw = await createFirmware({
      resources: { 'rootfs.bin': rootfs },
      meta: { product: 'big', version: '2.0.0' },
      privateKey: readFileSync(join(FWUP_FIXTURES, 'keys', 'fwup-key.priv'), 'utf8'),
      compression: 0,
    });
    const { createHash } = await import('node:crypto');
    const MiB = 1024 * 1024;
    const parts: string[] = [];
    for (let at = 0; at < fw.length; at += MiB) parts.push(createHash('sha256').update(fw.subarray(at, at + MiB)).digest('hex'));
    const name = 'big-parts.fw';
    const url = hosting.fx.baseUrl + hosting.fx.host.add(name, fw);
    const info = offerFor(url, fw, { checksum: createHash('sha256').update(fw).digest('hex'), partialsChecksums: parts });
    const { FileApplier } = await import('../../src/update/appliers/file-applier.js');
    const make = (idleTimeoutMs: number, maxDisconnects: number) =>
      new UpdateManager({
        client: { updateAvailable: () => ({ action: 'apply' }) },
        reporter: new RecordingReporter(),
        applier: new FileApplier({ path: target }),
        publicKeys: () => [fixtureKey()],
        downloader: new Downloader({ ca: hosting.fx.caPem, retry: { timeBetweenRetriesMs: 5, retryJitter: 0, idleTimeoutMs, maxDisconnects } }),
        strategy: 'cached',
        stateDir: join(dir, 'state'),
        progressIntervalMs: 0,
      });
    hosting.fx.host.setFaults(name, { stallAfterBytes: Math.floor(1.5 * MiB), times: 1 });
    // 750 ms: a shorter idle timeout can fire mid-transfer on a loaded machine, before the first MiB is in
    expect((await make(750, 1).handleUpdate(info)).status).toBe('failed');
    hosting.fx.host.destroyOpenResponses();
    const outcome = await make(5000, 3).handleUpdate(info);
    expect(outcome).toEqual({ status: 'completed', uuid: info.firmwareMeta.uuid });
    const ranges = hosting.fx.host.requests.filter((r) => r.path.endsWith(`/${name}`)).map((r) => r.headers.range);
    expect(ranges).toEqual([undefined, `bytes=${MiB}-`]);
    expect(readFileSync(target).equals(Buffer.from(fw))).toBe(true);
  });
});
