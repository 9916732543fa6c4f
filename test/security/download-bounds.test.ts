import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Downloader, type DownloaderOptions } from '../../src/download/downloader.js';
import { FirmwareHost, type ListeningFirmwareHost } from '../../src/testing/firmware-host.js';
import { TestCertificateAuthority } from '../../src/testing/test-ca.js';
import { FileApplier } from '../../src/update/appliers/file-applier.js';
import { cachePaths } from '../../src/update/cached-strategy.js';
import { UpdateManager } from '../../src/update/update-manager.js';
import type { DownloadOptions } from '../../src/download/download-options.js';
import type { FirmwareDownloadSource } from '../../src/update/update-ports.js';
import type { UpdateInfo } from '../../src/protocol/update-info.js';
import { collect, randomFirmware, rejection } from '../download/helpers.js';
import { RecordingReporter, fixtureFirmware, fixtureKey, offerFor, tempDirs } from '../update/helpers/update-harness.js';

// ARCHITECTURE decision 9 (a body never runs past the announced size) and issue 8 item 5
// (a partial that is not a prefix of the file is discarded and the download starts over once).

const SIGNED = fixtureFirmware('signed.fw');
const PREVIOUS = Buffer.from('previous firmware image\n');
const ANNOUNCED = 256 * 1024;
/** What a lying server would stream: far more than announced (the test would time out if it were read). */
const LIE_BYTES = 512 * 1024 * 1024;
const RETRY = { timeBetweenRetriesMs: 20, retryJitterRatio: 0, idleTimeoutMs: 2000, maxDisconnects: 10 };

let caPem: string;
let fx: ListeningFirmwareHost;
const dirs = tempDirs();
let counter = 0;

beforeAll(async () => {
  const ca = await TestCertificateAuthority.create();
  caPem = ca.certPem;
  const cert = await ca.issueServerCertificate();
  fx = await FirmwareHost.listen({ cert: cert.certPem, key: cert.keyPem });
});

afterAll(async () => {
  await fx.close();
});

afterEach(() => {
  fx.host.destroyOpenResponses();
  dirs.cleanup();
});

function publish(bytes: Uint8Array): { name: string; url: string } {
  const name = `bounds-${++counter}.fw`;
  return { name, url: fx.baseUrl + fx.host.add(name, bytes) };
}

function downloader(options: DownloaderOptions = {}): Downloader {
  return new Downloader({ ca: caPem, ...options, retry: { ...RETRY, ...options.retry } });
}

function requestsFor(name: string): string[] {
  return fx.host.requests.filter((r) => r.path.endsWith(`/${name}`)).map((r) => `${r.status} ${(r.headers.range as string | undefined) ?? '-'}`);
}

/** Wraps a download source and records the size of the cache file each time the strategy asks for the next chunk. */
function watchingPartial(inner: FirmwareDownloadSource, partial: string, sizes: number[]): FirmwareDownloadSource {
  return {
    async *stream(url: string | URL, options?: DownloadOptions) {
      for await (const chunk of inner.stream(url, options)) {
        yield chunk;
        if (existsSync(partial)) sizes.push(statSync(partial).size); // the previous chunk is written by now
      }
    },
  };
}

function cachedUpdate(source: FirmwareDownloadSource) {
  const dir = dirs.make('nhl-bounds-');
  const target = join(dir, 'target.img');
  writeFileSync(target, PREVIOUS);
  const cacheDir = join(dir, 'cache');
  const reporter = new RecordingReporter();
  const manager = new UpdateManager({
    client: { updateAvailable: () => ({ action: 'apply' }) },
    reporter,
    applier: new FileApplier({ path: target }),
    publicKeys: () => [fixtureKey()],
    downloader: source,
    strategy: 'cached',
    stateDir: join(dir, 'state'),
    cacheDir,
    progressIntervalMs: 0,
  });
  const cacheFiles = (): string[] => (existsSync(cacheDir) ? readdirSync(cacheDir) : []);
  return { manager, reporter, target, cacheDir, cacheFiles };
}

describe('the body stops at the announced size', () => {
  it('a chunked body running past expectedSize is cut: NH_DOWNLOAD_BODY_TOO_LONG, nothing handed on past the size, no retry', async () => {
    const body = randomFirmware(ANNOUNCED);
    const { name, url } = publish(body);
    fx.host.setFaults(name, { chunkedBodyBytes: LIE_BYTES });
    const error = await rejection(() => collect(downloader().stream(url, { expectedSize: ANNOUNCED })));
    expect(error.code).toBe('NH_DOWNLOAD_BODY_TOO_LONG');
    expect(error.received?.length).toBeLessThanOrEqual(ANNOUNCED);
    expect(error.received?.equals(body.subarray(0, error.received.length))).toBe(true);
    expect(requestsFor(name)).toEqual(['200 -']);
  });

  it('with no size announced at all, maxBytesWhenSizeUnknown bounds a chunked body (NH_DOWNLOAD_TOO_LARGE)', async () => {
    const { name, url } = publish(randomFirmware(64 * 1024));
    fx.host.setFaults(name, { chunkedBodyBytes: LIE_BYTES });
    const error = await rejection(() => collect(downloader({ maxBytesWhenSizeUnknown: 1024 * 1024 }).stream(url)));
    expect(error.code).toBe('NH_DOWNLOAD_TOO_LARGE');
    expect(error.received?.length).toBeLessThanOrEqual(1024 * 1024);
    expect(requestsFor(name)).toHaveLength(1);
  });

  it('with no size announced, a Content-Length above the maximum is refused before the first byte', async () => {
    const { url } = publish(randomFirmware(2 * 1024 * 1024));
    const error = await rejection(() => collect(downloader({ maxBytesWhenSizeUnknown: 1024 * 1024 }).stream(url)));
    expect(error.code).toBe('NH_DOWNLOAD_TOO_LARGE');
    expect(error.received?.length).toBe(0);
    expect(() => new Downloader({ maxBytesWhenSizeUnknown: 0 })).toThrow(/maxBytesWhenSizeUnknown/);
  });

  it('cached strategy: the cache file never exceeds the size, the update fails typed, nothing kept, target untouched', async () => {
    const { name, url } = publish(SIGNED);
    fx.host.setFaults(name, { chunkedBodyBytes: LIE_BYTES });
    const sizes: number[] = [];
    const info = offerFor(url, SIGNED);
    const { manager, reporter, target, cacheDir, cacheFiles } = cachedUpdate({ stream: (u, o) => source.stream(u, o) });
    const source = watchingPartial(downloader(), cachePaths(cacheDir, info.firmwareMeta.uuid).partial, sizes);
    const outcome = await manager.handleUpdate(info);
    expect(outcome.status).toBe('failed');
    expect(outcome.reason).toMatch(/^Download failed : NH_DOWNLOAD_BODY_TOO_LONG/);
    expect(Math.max(0, ...sizes)).toBeLessThanOrEqual(SIGNED.length);
    expect(reporter.statuses()).toEqual(['received', 'started', 'failed']);
    expect(cacheFiles()).toEqual([]);
    expect(readFileSync(target).equals(PREVIOUS)).toBe(true);
  });

  it('cached strategy: a download source without its own bound still cannot grow the cache file past the size', async () => {
    const lying: FirmwareDownloadSource = {
      async *stream() {
        yield SIGNED;
        for (let i = 0; i < 10_000; i += 1) yield Buffer.alloc(64 * 1024, 0x5a); // 640 MB if it were all written
      },
    };
    const sizes: number[] = [];
    const info = offerFor('https://firmware.invalid/fw.fw', SIGNED);
    const { manager, target, cacheDir, cacheFiles } = cachedUpdate({ stream: (u, o) => watched.stream(u, o) });
    const watched = watchingPartial(lying, cachePaths(cacheDir, info.firmwareMeta.uuid).partial, sizes);
    const outcome = await manager.handleUpdate(info);
    expect(outcome.reason).toMatch(/NH_DOWNLOAD_BODY_TOO_LONG/);
    expect(Math.max(0, ...sizes)).toBeLessThanOrEqual(SIGNED.length);
    expect(cacheFiles()).toEqual([]);
    expect(readFileSync(target).equals(PREVIOUS)).toBe(true);
  });
});

describe('a partial that does not belong to the file is discarded and the download starts over once', () => {
  /** Puts `bytes` in the cache as the partial download of `info`. */
  function seedPartial(cacheDir: string, info: UpdateInfo, bytes: Uint8Array): string {
    mkdirSync(cacheDir, { recursive: true });
    const { partial } = cachePaths(cacheDir, info.firmwareMeta.uuid);
    writeFileSync(partial, bytes);
    return partial;
  }

  const junk = Buffer.concat([SIGNED, Buffer.alloc(4096, 0x5a)]);

  it('an oversized partial with no announced size: 416 → discarded, restarted from 0, completed', async () => {
    const { name, url } = publish(SIGNED);
    const info = offerFor(url, SIGNED, { size: undefined });
    const { manager, reporter, target, cacheDir, cacheFiles } = cachedUpdate(downloader());
    seedPartial(cacheDir, info, junk);
    const outcome = await manager.handleUpdate(info);
    expect(outcome.status).toBe('completed');
    expect(requestsFor(name)).toEqual([`416 bytes=${junk.length}-`, '200 -']);
    expect(reporter.statuses()).toEqual(['received', 'started', 'started', 'completed']);
    expect(readFileSync(target).equals(SIGNED)).toBe(true);
    expect(cacheFiles()).toEqual([]);
  });

  it('an oversized partial with the size announced: discarded up front, one request from 0, completed', async () => {
    const { name, url } = publish(SIGNED);
    const info = offerFor(url, SIGNED);
    const { manager, target, cacheDir } = cachedUpdate(downloader());
    seedPartial(cacheDir, info, junk);
    expect((await manager.handleUpdate(info)).status).toBe('completed');
    expect(requestsFor(name)).toEqual(['200 -']);
    expect(readFileSync(target).equals(SIGNED)).toBe(true);
  });

  it('a server answering 416 to the Range: restarted once from 0, completed', async () => {
    const { name, url } = publish(SIGNED);
    fx.host.setFaults(name, { rangeNotSatisfiable: true, times: 1 });
    const info = offerFor(url, SIGNED);
    const { manager, target, cacheDir } = cachedUpdate(downloader());
    seedPartial(cacheDir, info, SIGNED.subarray(0, 1000));
    expect((await manager.handleUpdate(info)).status).toBe('completed');
    expect(requestsFor(name)).toEqual(['416 bytes=1000-', '200 -']);
    expect(readFileSync(target).equals(SIGNED)).toBe(true);
  });

  it('a server that answers 416 again after the restart: typed failure, no loop, partial removed, target untouched', async () => {
    const { name, url } = publish(SIGNED);
    // Every ranged request is refused; the restart from 0 drops after 2000 bytes, so its own resume is refused too.
    fx.host.setFaults(name, { rangeNotSatisfiable: true, cutAfterBytes: 2000 });
    const info = offerFor(url, SIGNED);
    const { manager, reporter, target, cacheDir, cacheFiles } = cachedUpdate(downloader());
    seedPartial(cacheDir, info, SIGNED.subarray(0, 1000));
    const outcome = await manager.handleUpdate(info);
    expect(outcome.status).toBe('failed');
    expect(outcome.reason).toMatch(/^Download failed : NH_DOWNLOAD_RANGE_NOT_SATISFIABLE/);
    expect(requestsFor(name)).toEqual(['416 bytes=1000-', '200 -', '416 bytes=2000-']);
    expect(reporter.statuses().at(-1)).toBe('failed');
    expect(cacheFiles()).toEqual([]);
    expect(readFileSync(target).equals(PREVIOUS)).toBe(true);
  });

  it('a server answering 416 to everything: two requests, typed failure, nothing left in the cache', async () => {
    const { name, url } = publish(SIGNED);
    fx.host.setFaults(name, { status: { code: 416 } });
    const info = offerFor(url, SIGNED);
    const { manager, target, cacheDir, cacheFiles } = cachedUpdate(downloader());
    seedPartial(cacheDir, info, SIGNED.subarray(0, 1000));
    const outcome = await manager.handleUpdate(info);
    expect(outcome.status).toBe('failed');
    expect(outcome.reason).toMatch(/NH_DOWNLOAD_(RANGE_NOT_SATISFIABLE|HTTP_STATUS)/);
    expect(requestsFor(name)).toEqual(['416 bytes=1000-', '416 -']);
    expect(cacheFiles()).toEqual([]);
    expect(readFileSync(target).equals(PREVIOUS)).toBe(true);
  });
});
