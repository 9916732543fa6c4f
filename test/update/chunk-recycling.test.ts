import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { Downloader } from '../../src/download/downloader.js';
import type * as LendingStreamModule from '../../src/download/lending-stream.js';
import { PART_SIZE_BYTES } from '../../src/download/sha256-parts.js';
import { FirmwareVerifier } from '../../src/firmware/firmware-verifier.js';
import { createFirmware } from '../../src/testing/create-firmware.js';
import { FileApplier } from '../../src/update/appliers/file-applier.js';
import { FwupApplier } from '../../src/update/appliers/fwup-applier.js';
import type { ApplyContext, FirmwareApplier } from '../../src/update/firmware-applier.js';
import { UpdateManager } from '../../src/update/update-manager.js';
import type { BuiltInStrategyName } from '../../src/update/update-strategy.js';
import { FWUP_FIXTURES, RecordingReporter, fixtureFirmware, fixtureKey, offerFor, useFirmwareHost } from './helpers/update-harness.js';

/**
 * The streaming and cached updates lend the download's (and the cache file's) 1 MiB buffers to
 * the SDK's FileApplier and take them back once written. These tests prove that this reuse
 * happens, and that it never happens behind the back of code that may still hold the chunks: an
 * applier that wraps the FileApplier, or a verifier other than the SDK's own.
 */
const hosting = useFirmwareHost();
const FAST_RETRY = { timeBetweenRetriesMs: 5, retryJitterRatio: 0, idleTimeoutMs: 2000 };
let firmware: Uint8Array;
let partials: string[];
let counter = 0;

beforeEach(() => {
  lent.done.length = 0;
});

beforeAll(async () => {
  const privateKey = readFileSync(join(FWUP_FIXTURES, 'keys', 'fwup-key.priv'), 'utf8');
  firmware = await createFirmware({ resources: { 'rootfs.img': randomBytes(8 * PART_SIZE_BYTES) }, meta: { product: 'fixture', version: '0.4.0' }, privateKey, compression: 0 });
  partials = [];
  for (let at = 0; at < firmware.length; at += PART_SIZE_BYTES) {
    partials.push(createHash('sha256').update(firmware.subarray(at, at + PART_SIZE_BYTES)).digest('hex').toUpperCase());
  }
});

/** What the consumers of the updates' lending downloads said they were done with (one list per download). */
const lent = vi.hoisted(() => ({ done: [] as number[][] }));
vi.mock('../../src/download/lending-stream.js', async (importOriginal) => {
  const original = await importOriginal<typeof LendingStreamModule>();
  return {
    ...original,
    lendingStream: (...args: Parameters<typeof original.lendingStream>) => {
      const stream = original.lendingStream(...args);
      const done: number[] = [];
      lent.done.push(done);
      return {
        chunks: stream.chunks,
        doneThrough: (offset: number) => {
          done.push(offset);
          stream.doneThrough(offset);
        },
      };
    },
  };
});

/** Wraps an applier and keeps every chunk it passes on, with a copy to compare at the end. */
class KeepingApplier implements FirmwareApplier {
  readonly kept: Array<{ chunk: Uint8Array; copy: Buffer }> = [];
  constructor(private readonly inner: FirmwareApplier) {}
  apply(source: AsyncIterable<Uint8Array>, context: ApplyContext): Promise<void> {
    const kept = this.kept;
    async function* passOn(): AsyncGenerator<Uint8Array> {
      for await (const chunk of source) {
        kept.push({ chunk, copy: Buffer.from(chunk) });
        yield chunk;
      }
    }
    return this.inner.apply(passOn(), context);
  }
  changedChunks(): number {
    return this.kept.filter(({ chunk, copy }) => !Buffer.from(chunk).equals(copy)).length;
  }
}

/** A verifier whose pass-through is not the SDK's own (it keeps what it yields). */
class KeepingVerifier extends FirmwareVerifier {
  readonly kept: Array<{ chunk: Uint8Array; copy: Buffer }> = [];
  override async *passThrough(source: AsyncIterable<Uint8Array>, options?: { signal?: AbortSignal }): AsyncGenerator<Uint8Array> {
    for await (const chunk of super.passThrough(source, options)) {
      this.kept.push({ chunk, copy: Buffer.from(chunk) });
      yield chunk;
    }
  }
}

/** A verifier whose verify() is not the SDK's own (it keeps the chunks it reads). */
class KeepingVerifyVerifier extends FirmwareVerifier {
  readonly kept: Array<{ chunk: Uint8Array; copy: Buffer }> = [];
  override verify(input: Parameters<FirmwareVerifier['verify']>[0], options?: { signal?: AbortSignal }): ReturnType<FirmwareVerifier['verify']> {
    const kept = this.kept;
    async function* keep(): AsyncGenerator<Uint8Array> {
      for await (const chunk of input as AsyncIterable<Uint8Array>) {
        kept.push({ chunk, copy: Buffer.from(chunk) });
        yield chunk;
      }
    }
    return super.verify(keep(), options);
  }
}

function run(strategy: BuiltInStrategyName, applierOf: (file: FileApplier) => FirmwareApplier, verifier?: FirmwareVerifier, faults?: Parameters<typeof hosting.fx.host.setFaults>[1]) {
  const dir = hosting.dirs.make();
  const target = join(dir, 'target.img');
  writeFileSync(target, 'previous\n');
  const downloader = new Downloader({ ca: hosting.fx.caPem, retry: FAST_RETRY });
  const manager = new UpdateManager({
    client: { updateAvailable: () => ({ action: 'apply' }), reboot: () => {} },
    reporter: new RecordingReporter(),
    applier: applierOf(new FileApplier({ path: target })),
    publicKeys: () => [fixtureKey()],
    downloader,
    strategy,
    ...(strategy === 'cached' ? { stateDir: join(dir, 'state') } : {}),
    ...(verifier ? { createVerifier: () => verifier } : {}),
    progressIntervalMs: 0,
  });
  const name = `fw-${++counter}.fw`;
  const url = hosting.fx.baseUrl + hosting.fx.host.add(name, firmware);
  if (faults) hosting.fx.host.setFaults(name, faults);
  const outcome = manager.handleUpdate(offerFor(url, firmware, { partialsChecksums: partials }));
  return { outcome, target, downloader: { get done(): number[] { return lent.done.flat(); } } };
}

describe.each(['streaming', 'cached'] as const)('%s update: lent buffers', (strategy) => {
  it('the FileApplier hands the download buffers back as it writes, and the file is the firmware', async () => {
    const { outcome, target, downloader } = run(strategy, (file) => file);
    expect((await outcome).status).toBe('completed');
    expect(readFileSync(target).equals(firmware)).toBe(true);
    expect(downloader.done.length).toBeGreaterThan(0);
    expect(downloader.done).toEqual([...downloader.done].sort((a, b) => a - b));
    expect(downloader.done.at(-1)).toBeGreaterThanOrEqual(firmware.length - PART_SIZE_BYTES);
  });

  it.each([
    ['a part that fails its SHA-256 is fetched again', { corruptByteAt: 3 * PART_SIZE_BYTES + 5, times: 1 }],
    ['a download cut inside a part resumes', { cutAfterBytes: 2 * PART_SIZE_BYTES + 300_000, times: 1 }],
  ] as const)('%s while buffers are lent: the file is still the firmware', async (_what, faults) => {
    const { outcome, target, downloader } = run(strategy, (file) => file, undefined, faults);
    expect((await outcome).status).toBe('completed');
    expect(readFileSync(target).equals(firmware)).toBe(true);
    expect(downloader.done.at(-1)).toBeGreaterThanOrEqual(firmware.length - PART_SIZE_BYTES);
    expect(hosting.fx.host.requests.filter((r) => r.path.endsWith(`fw-${counter}.fw`)).length).toBe(2);
  });

  it('an applier wrapping the FileApplier keeps its chunks unchanged: nothing is reused behind it', async () => {
    let keeping: KeepingApplier | undefined;
    const { outcome, target, downloader } = run(strategy, (file) => (keeping = new KeepingApplier(file)));
    expect((await outcome).status).toBe('completed');
    expect(readFileSync(target).equals(firmware)).toBe(true);
    expect(keeping!.kept.length).toBeGreaterThan(0);
    expect(Buffer.concat(keeping!.kept.map((k) => k.copy)).equals(firmware)).toBe(true);
    expect(keeping!.changedChunks()).toBe(0);
    // The streaming download lends to the applier only: wrapped, it lends nothing.
    if (strategy === 'streaming') expect(downloader.done).toEqual([]);
  });
});

describe('streaming update with a verifier other than the SDK’s', () => {
  it('lends nothing: the verifier’s kept chunks stay unchanged', async () => {
    const verifier = new KeepingVerifier({ publicKeys: [fixtureKey()] });
    const { outcome, target, downloader } = run('streaming', (file) => file, verifier);
    expect((await outcome).status).toBe('completed');
    expect(readFileSync(target).equals(firmware)).toBe(true);
    expect(downloader.done).toEqual([]);
    expect(verifier.kept.filter(({ chunk, copy }) => !Buffer.from(chunk).equals(copy))).toEqual([]);
    expect(Buffer.concat(verifier.kept.map((k) => k.copy)).equals(firmware)).toBe(true);
  });
});

describe('cached update with a verifier other than the SDK’s', () => {
  it('lends the download to nobody: the chunks the verifier kept stay unchanged', async () => {
    const verifier = new KeepingVerifyVerifier({ publicKeys: [fixtureKey()] });
    const { outcome, target, downloader } = run('cached', (file) => file, verifier);
    expect((await outcome).status).toBe('completed');
    expect(readFileSync(target).equals(firmware)).toBe(true);
    expect(downloader.done).toEqual([]);
    expect(verifier.kept.length).toBeGreaterThan(0);
    expect(verifier.kept.filter(({ chunk, copy }) => !Buffer.from(chunk).equals(copy))).toEqual([]);
  });
});

describe('streaming update into the FwupApplier (fwup stand-in)', () => {
  it('hands each chunk back once it is framed into fwup’s stdin (the packets are copies)', async () => {
    const signed = fixtureFirmware('signed.fw');
    const dir = hosting.dirs.make();
    const device = join(dir, 'device.img');
    const downloader = new Downloader({ ca: hosting.fx.caPem, retry: FAST_RETRY });
    const manager = new UpdateManager({
      client: { updateAvailable: () => ({ action: 'apply' }), reboot: () => {} },
      reporter: new RecordingReporter(),
      applier: new FwupApplier({ devicePath: device, task: 'complete', fwupPath: join(import.meta.dirname, '..', 'fixtures', 'bin', 'fwup') }),
      publicKeys: () => [fixtureKey()],
      downloader,
      progressIntervalMs: 0,
    });
    const url = hosting.fx.baseUrl + hosting.fx.host.add(`fwup-lent-${++counter}.fw`, signed);
    expect((await manager.handleUpdate(offerFor(url, signed))).status).toBe('completed');
    expect(readFileSync(device).equals(signed)).toBe(true); // the stand-in writes what it received
    const done = lent.done.flat();
    expect(done.length).toBeGreaterThan(0);
    expect(done).toEqual([...done].sort((a, b) => a - b));
    expect(done.at(-1)).toBe(signed.length);
  });
});
