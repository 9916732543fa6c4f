import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { createFirmware, createFwupKeyPair } from '../../src/testing/create-firmware.js';
import { join } from 'node:path';
import { Downloader } from '../../src/download/downloader.js';
import { FileApplier } from '../../src/update/appliers/file-applier.js';
import { UpdateManager } from '../../src/update/update-manager.js';
import type { UpdateManagerOptions } from '../../src/update/update-manager-options.js';
import type { FirmwareApplier } from '../../src/update/firmware-applier.js';
import type { RetryOptions } from '../../src/download/retry-options.js';
import { cachePaths } from '../../src/update/cached-strategy.js';
import { UpdateJournal } from '../../src/update/update-journal.js';
import type { UpdateInfo } from '../../src/protocol/update-info.js';
import {
  RecordingReporter,
  fixtureFirmware,
  fixtureKey,
  offerFor,
  recordingLogger,
  useFirmwareHost,
} from './helpers/update-harness.js';

const FAST_RETRY: Partial<RetryOptions> = { timeBetweenRetriesMs: 5, retryJitterRatio: 0, idleTimeoutMs: 2000, maxDisconnects: 10 };
const PREVIOUS = Buffer.from('previous firmware image\n');
const SIGNED = fixtureFirmware('signed.fw');

const hosting = useFirmwareHost();
const dirs = hosting.dirs;

let counter = 0;
function publish(bytes: Uint8Array): { name: string; url: string } {
  const name = `cached-${++counter}.fw`;
  return { name, url: hosting.fx.baseUrl + hosting.fx.host.add(name, bytes) };
}

function requestsFor(name: string): { range: string | undefined; status: number }[] {
  return hosting.fx.host.requests.filter((r) => r.path.endsWith(`/${name}`)).map((r) => ({ range: r.headers.range as string | undefined, status: r.status }));
}

/** Wraps a FileApplier and records every byte it is handed. */
class SpyApplier implements FirmwareApplier {
  calls = 0;
  seen = 0;
  constructor(readonly inner: FileApplier) {}
  async apply(source: AsyncIterable<Uint8Array>, ctx: Parameters<FirmwareApplier['apply']>[1]): Promise<void> {
    this.calls += 1;
    const count = (n: number): void => void (this.seen += n);
    async function* counted(): AsyncGenerator<Uint8Array> {
      for await (const c of source) {
        count(c.length);
        yield c;
      }
    }
    await this.inner.apply(counted(), ctx);
  }
}

interface Env {
  stateDir: string;
  cacheDir: string;
  target: string;
}

function env(): Env {
  const dir = dirs.make();
  const target = join(dir, 'target.img');
  writeFileSync(target, PREVIOUS);
  return { stateDir: join(dir, 'state'), cacheDir: join(dir, 'cache'), target };
}

function manager(e: Env, overrides: Partial<UpdateManagerOptions> & { retry?: Partial<RetryOptions> } = {}) {
  const reporter = new RecordingReporter();
  const logger = recordingLogger();
  const applier = new SpyApplier(new FileApplier({ path: e.target }));
  const { retry, ...rest } = overrides;
  const m = new UpdateManager({
    client: { updateAvailable: () => ({ action: 'apply' }) },
    reporter,
    applier,
    publicKeys: () => [fixtureKey()],
    downloader: new Downloader({ ca: hosting.fx.caPem, retry: { ...FAST_RETRY, ...retry }, logger }),
    strategy: 'cached',
    stateDir: e.stateDir,
    cacheDir: e.cacheDir,
    progressIntervalMs: 0,
    logger,
    ...rest,
  });
  return { m, reporter, logger, applier };
}

/** Fails the first download after `bytes` bytes (stall + idle timeout, one attempt). */
async function interruptedFirstAttempt(e: Env, name: string, info: UpdateInfo, bytes: number): Promise<void> {
  hosting.fx.host.setFaults(name, { stallAfterBytes: bytes, times: 1 });
  // generous idle timeout: a shorter one can fire during the TLS handshake on a loaded machine,
  // before the host served (and recorded) the interrupted first attempt.
  const { m, reporter } = manager(e, { retry: { idleTimeoutMs: 750, maxDisconnects: 1 } });
  const outcome = await m.handleUpdate(info);
  expect(outcome.status).toBe('failed');
  expect(reporter.statuses()).toEqual(['received', 'started', 'failed']);
  hosting.fx.host.destroyOpenResponses();
}

describe('UpdateManager, cached strategy', () => {
  it('happy path: downloading then updating progress, completed, cache and journal cleaned', async () => {
    const e = env();
    const { url } = publish(SIGNED);
    const { m, reporter, applier } = manager(e);
    const outcome = await m.handleUpdate(offerFor(url, SIGNED));
    expect(outcome.status).toBe('completed');
    expect(readFileSync(e.target).equals(SIGNED)).toBe(true);
    expect(applier.seen).toBe(SIGNED.length);
    const stages = reporter.progress().map((p) => p.stage);
    expect(stages[0]).toBe('downloading');
    expect(stages.at(-1)).toBe('updating');
    expect(stages.indexOf('updating')).toBeGreaterThan(stages.lastIndexOf('downloading'));
    expect(reporter.trace().slice(-2)).toEqual(['progress:updating:100', 'completed']);
    expect(readdirSync(e.cacheDir)).toEqual([]);
    expect((await new UpdateJournal({ stateDir: e.stateDir }).load()).pending).toBeNull();
  });

  it('a corrupted byte: the applier never sees a byte, the cached file is deleted, failure remembered', async () => {
    const e = env();
    const { name, url } = publish(SIGNED);
    hosting.fx.host.setFaults(name, { corruptByteAt: 2477 });
    const info = offerFor(url, SIGNED);
    for (let attempt = 1; attempt <= 3; attempt++) {
      const { m, applier, reporter } = manager(e);
      const outcome = await m.handleUpdate(info);
      expect(outcome.status).toBe('failed');
      expect(outcome.reason).toMatch(/^Update failed : firmware verification failed \(NH_FW_/);
      expect(reporter.statuses()).toEqual(['received', 'started', ...reporter.statuses().slice(2, -1), 'failed']);
      expect(applier.calls).toBe(0);
      expect(readdirSync(e.cacheDir)).toEqual([]);
      expect(readFileSync(e.target).equals(PREVIOUS)).toBe(true);
    }
    expect(requestsFor(name)).toHaveLength(3);
    const journal = await new UpdateJournal({ stateDir: e.stateDir }).load();
    expect(journal.failures).toMatchObject([{ uuid: info.firmwareMeta.uuid, kind: 'verification', count: 3 }]);

    // The 4th offer of the same firmware is answered from local memory, without downloading.
    const { m, reporter } = manager(e);
    const outcome = await m.handleUpdate(info);
    expect(outcome.status).toBe('failed');
    expect(outcome.reason).toMatch(/^Update failed : firmware .* failed verification 3 times on this device/);
    expect(reporter.statuses()).toEqual(['failed']);
    expect(requestsFor(name)).toHaveLength(3);
  });

  it('a wrongly signed archive stops the download at its start (verified as it arrives): nothing cached, nothing applied', async () => {
    const e = env();
    // 16 MiB signed by a key the device does not trust: the signature fails on the first bytes.
    const stranger = createFwupKeyPair();
    const fw = await createFirmware({ resources: { 'rootfs.img': randomBytes(16 * 1024 * 1024) }, meta: { product: 'fixture', version: '0.3.0' }, privateKey: stranger.privateKey, compression: 0 });
    const { url } = publish(fw);
    const { m, applier, reporter } = manager(e);
    const outcome = await m.handleUpdate(offerFor(url, fw));
    expect(outcome.status).toBe('failed');
    expect(outcome.reason).toMatch(/^Update failed : firmware verification failed \(NH_FW_/);
    expect(applier.calls).toBe(0);
    expect(readdirSync(e.cacheDir)).toEqual([]);
    expect(readFileSync(e.target).equals(PREVIOUS)).toBe(true);
    // The download was stopped long before its end (16 MiB; the verifier runs at most 2 MiB behind).
    const downloaded = Math.max(0, ...reporter.progress().filter((p) => p.stage === 'downloading').map((p) => p.value));
    expect(downloaded).toBeLessThan(50);
  });

  it('a re-offer of an interrupted firmware resumes from the partial file with Range, bytes identical', async () => {
    const e = env();
    const { name, url } = publish(SIGNED);
    const info = offerFor(url, SIGNED);
    await interruptedFirstAttempt(e, name, info, 1800);
    const partial = cachePaths(e.cacheDir, info.firmwareMeta.uuid).partial;
    expect(statSync(partial).size).toBe(1800);

    const { m, reporter } = manager(e);
    const outcome = await m.handleUpdate(info);
    expect(outcome.status).toBe('completed');
    expect(requestsFor(name).slice(1)).toEqual([{ range: 'bytes=1800-', status: 206 }]);
    expect(readFileSync(e.target).equals(SIGNED)).toBe(true);
    expect(reporter.progress()[0]).toMatchObject({ stage: 'downloading' });
    expect(existsSync(partial)).toBe(false);
  });

  it('resume against a server that ignores Range: prefix skipped, bytes identical', async () => {
    const e = env();
    const { name, url } = publish(SIGNED);
    const info = offerFor(url, SIGNED);
    await interruptedFirstAttempt(e, name, info, 2100);
    hosting.fx.host.setFaults(name, { ignoreRange: true, times: 1 });
    const { m } = manager(e);
    expect((await m.handleUpdate(info)).status).toBe('completed');
    expect(requestsFor(name).slice(1)).toEqual([{ range: 'bytes=2100-', status: 200 }]);
    expect(readFileSync(e.target).equals(SIGNED)).toBe(true);
  });

  it('a partial file corrupted on disk is caught: by the checksum when the server sent one, else by the verifier', async () => {
    for (const withChecksum of [true, false]) {
      const e = env();
      const { name, url } = publish(SIGNED);
      const checksum = createHash('sha256').update(SIGNED).digest('hex');
      const firstOffer = offerFor(url, SIGNED);
      // (with a checksum the downloader would hold a < 1 MiB file back until its end, leaving no partial bytes)
      await interruptedFirstAttempt(e, name, firstOffer, 2000);
      const info = withChecksum ? { ...firstOffer, checksum } : firstOffer;
      const partial = cachePaths(e.cacheDir, info.firmwareMeta.uuid).partial;
      const bytes = readFileSync(partial);
      expect(bytes.length).toBe(2000);
      bytes[1500] = (bytes[1500] ?? 0) ^ 0x55;
      writeFileSync(partial, bytes);
      const { m, applier } = manager(e);
      const outcome = await m.handleUpdate(info);
      expect(outcome.status).toBe('failed');
      expect(outcome.reason).toMatch(withChecksum ? /^Download failed : NH_DOWNLOAD_CHECKSUM_MISMATCH/ : /^Update failed : firmware verification failed/);
      expect(applier.calls).toBe(0);
      expect(readdirSync(e.cacheDir)).toEqual([]);
      expect(readFileSync(e.target).equals(PREVIOUS)).toBe(true);
    }
  });

  it('the journal stores the URL (mode 0600) but logs never show its query', async () => {
    const e = env();
    const { name, url } = publish(SIGNED);
    hosting.fx.host.setFaults(name, { stallAfterBytes: 500 });
    const { m, logger } = manager(e, { retry: { idleTimeoutMs: 10_000 } });
    const info = offerFor(url, SIGNED);
    const running = m.handleUpdate(info);
    const journalPath = join(e.stateDir, 'update-journal.json');
    await expect.poll(() => existsSync(journalPath) && readFileSync(journalPath, 'utf8').includes('X-Amz-Signature')).toBe(true);
    expect(statSync(journalPath).mode & 0o777).toBe(0o600);
    await m.close();
    expect((await running).status).toBe('aborted');
    expect(logger.text()).not.toContain('X-Amz-Signature');
    // closed mid-download: the journal still names the update, for resumeFromJournal()
    expect((await new UpdateJournal({ stateDir: e.stateDir }).load()).pending?.uuid).toBe(info.firmwareMeta.uuid);
  });

  it('resumeFromJournal with an expired stored URL fails with a clear reason and keeps the partial file', async () => {
    const e = env();
    const { name, url } = publish(SIGNED);
    hosting.fx.host.setFaults(name, { stallAfterBytes: 1200 });
    const info = offerFor(url, SIGNED);
    const first = manager(e, { retry: { idleTimeoutMs: 10_000 } });
    const running = first.m.handleUpdate(info);
    const partial = cachePaths(e.cacheDir, info.firmwareMeta.uuid).partial;
    await expect.poll(() => (existsSync(partial) ? statSync(partial).size : 0)).toBe(1200);
    await first.m.close();
    await running;
    hosting.fx.host.destroyOpenResponses();

    hosting.fx.host.setFaults(name, { expired: true });
    const second = manager(e);
    const outcome = await second.m.resumeFromJournal();
    expect(outcome?.status).toBe('failed');
    expect(outcome?.reason).toMatch(/^Download failed : NH_DOWNLOAD_URL_EXPIRED/);
    expect(second.reporter.statuses()).toEqual(['started', 'failed']);
    expect(requestsFor(name).at(-1)).toEqual({ range: 'bytes=1200-', status: 403 });
    expect(statSync(partial).size).toBe(1200);
    expect(await second.m.resumeFromJournal()).toBeNull(); // the failure ended the pending entry
  });

  it('the cached strategy needs a directory', () => {
    expect(() => new UpdateManager({
      client: { updateAvailable: () => ({ action: 'apply' }) },
      reporter: new RecordingReporter(),
      applier: new FileApplier({ path: '/tmp/x' }),
      publicKeys: () => [fixtureKey()],
      strategy: 'cached',
    })).toThrow(expect.objectContaining({ code: 'NH_INVALID_OPTIONS' }));
  });
});

describe('resumeFromJournal without keys yet', () => {
  it('keeps the journal entry and reports nothing, then resumes once keys are known', async () => {
    const e = env();
    const { name, url } = publish(SIGNED);
    hosting.fx.host.setFaults(name, { stallAfterBytes: 900 });
    const info = offerFor(url, SIGNED);
    const first = manager(e, { retry: { idleTimeoutMs: 10_000 } });
    const running = first.m.handleUpdate(info);
    const partial = cachePaths(e.cacheDir, info.firmwareMeta.uuid).partial;
    await expect.poll(() => (existsSync(partial) ? statSync(partial).size : 0)).toBe(900);
    await first.m.close();
    await running;
    hosting.fx.host.destroyOpenResponses();
    hosting.fx.host.setFaults(name, undefined);

    let keys: string[] = [];
    const second = manager(e, { publicKeys: () => keys });
    expect(await second.m.resumeFromJournal()).toMatchObject({ status: 'refused' });
    expect(second.reporter.events).toEqual([]);
    keys = [fixtureKey()];
    expect(await second.m.resumeFromJournal()).toMatchObject({ status: 'completed' });
    expect(requestsFor(name).at(-1)).toEqual({ range: 'bytes=900-', status: 206 });
    expect(readFileSync(e.target).equals(SIGNED)).toBe(true);
  });
});

describe('cache files', () => {
  it('a partial file larger than the offered size is not trusted: the download starts over', async () => {
    const e = env();
    const { name, url } = publish(SIGNED);
    const info = offerFor(url, SIGNED);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(e.cacheDir, { recursive: true });
    writeFileSync(cachePaths(e.cacheDir, info.firmwareMeta.uuid).partial, Buffer.alloc(SIGNED.length + 10, 1));
    writeFileSync(join(e.cacheDir, 'other-firmware.fw.partial'), 'stale');
    writeFileSync(join(e.cacheDir, 'notes.txt'), 'not ours');
    const { m } = manager(e);
    expect((await m.handleUpdate(info)).status).toBe('completed');
    expect(requestsFor(name)).toEqual([{ range: undefined, status: 200 }]);
    expect(readFileSync(e.target).equals(SIGNED)).toBe(true);
    expect(readdirSync(e.cacheDir)).toEqual(['notes.txt']); // other firmware pruned, foreign files kept
  });

  it('cache file names never escape the cache directory', () => {
    expect(cachePaths('/c', '3c5b-uuid').complete).toBe('/c/3c5b-uuid.fw');
    const odd = cachePaths('/c', '../../etc/passwd');
    expect(odd.complete).toMatch(/^\/c\/[0-9a-f]{64}\.fw$/);
    expect(odd.partial).toBe(`${odd.complete}.partial`);
  });
});
