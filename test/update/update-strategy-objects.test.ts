import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Downloader } from '../../src/download/downloader.js';
import { FileApplier } from '../../src/update/appliers/file-applier.js';
import { UpdateManager } from '../../src/update/update-manager.js';
import type { UpdateManagerOptions } from '../../src/update/update-manager-options.js';
import { streamingStrategy } from '../../src/update/streaming-strategy.js';
import { cachedStrategy } from '../../src/update/cached-strategy.js';
import type { StrategyContext, UpdateStrategy } from '../../src/update/update-strategy.js';
import { UpdateJournal } from '../../src/update/update-journal.js';
import { RecordingReporter, fixtureFirmware, fixtureKey, offerFor, useFirmwareHost } from './helpers/update-harness.js';

const PREVIOUS = Buffer.from('previous firmware image\n');
const SIGNED = fixtureFirmware('signed.fw');
const hosting = useFirmwareHost();

let counter = 0;
function publish(bytes: Uint8Array): string {
  return hosting.fx.baseUrl + hosting.fx.host.add(`strategy-${++counter}.fw`, bytes);
}

function env() {
  const dir = hosting.dirs.make();
  const target = join(dir, 'target.img');
  writeFileSync(target, PREVIOUS);
  return { stateDir: join(dir, 'state'), target, dir };
}

function manager(e: { stateDir: string; target: string }, overrides: Partial<UpdateManagerOptions> = {}) {
  const reporter = new RecordingReporter();
  const m = new UpdateManager({
    client: { updateAvailable: () => ({ action: 'apply' }) },
    reporter,
    applier: new FileApplier({ path: e.target }),
    publicKeys: () => [fixtureKey()],
    downloader: new Downloader({ ca: hosting.fx.caPem, retry: { timeBetweenRetriesMs: 5, retryJitterRatio: 0 } }),
    stateDir: e.stateDir,
    progressIntervalMs: 0,
    ...overrides,
  });
  return { m, reporter };
}

/** Waits until `signal` aborts, then throws its reason (a strategy stuck mid-download). */
function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason as Error);
    signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
  });
}

describe('strategies are objects', () => {
  it('runs an app-defined strategy, journals its name and resumes it after a restart because it is resumable', async () => {
    const e = env();
    const url = publish(SIGNED);
    const info = offerFor(url, SIGNED);
    const seen: string[] = [];
    let interrupt = true;
    const custom: UpdateStrategy = {
      name: 'app-parts',
      resumable: true,
      async run(ctx: StrategyContext) {
        seen.push(ctx.info.firmwareUrl.toString());
        if (interrupt) return untilAborted(ctx.signal); // the process "dies" mid-download
        return streamingStrategy().run(ctx);
      },
    };
    const first = manager(e, { strategy: custom });
    const running = first.m.handleUpdate(info);
    await expect.poll(() => seen.length).toBe(1);
    await first.m.close();
    expect((await running).status).toBe('aborted');
    const pending = (await new UpdateJournal({ stateDir: e.stateDir }).load()).pending;
    expect(pending).toMatchObject({ uuid: info.firmwareMeta.uuid, strategy: 'app-parts' });

    // A manager with another strategy (even a resumable one) leaves the entry alone.
    const other = manager(e, { strategy: cachedStrategy({ cacheDir: join(e.dir, 'cache') }) });
    expect(await other.m.resumeFromJournal()).toBeNull();

    interrupt = false;
    const second = manager(e, { strategy: custom });
    const outcome = await second.m.resumeFromJournal();
    expect(outcome).toMatchObject({ status: 'completed', uuid: info.firmwareMeta.uuid });
    expect(seen).toEqual([url, url]);
    expect(readFileSync(e.target).equals(SIGNED)).toBe(true);
    expect(second.reporter.statuses()).toEqual(['started', 'completed']);
  });

  it('a non-resumable strategy is not resumed from the journal', async () => {
    const e = env();
    const info = offerFor(publish(SIGNED), SIGNED);
    let runs = 0;
    const custom: UpdateStrategy = { name: 'app-once', resumable: false, run: (ctx) => (runs++, untilAborted(ctx.signal)) };
    const first = manager(e, { strategy: custom });
    const running = first.m.handleUpdate(info);
    await expect.poll(() => runs).toBe(1);
    await first.m.close();
    await running;
    expect(await manager(e, { strategy: custom }).m.resumeFromJournal()).toBeNull();
    expect(runs).toBe(1);
    expect(readFileSync(e.target).equals(PREVIOUS)).toBe(true);
  });

  it('downloadsBeforeApply reports download progress as its own `downloading` stage', async () => {
    const e = env();
    const custom: UpdateStrategy = {
      name: 'app-download-first',
      resumable: false,
      downloadsBeforeApply: true,
      async run(ctx) {
        ctx.onDownloadProgress(40);
        await streamingStrategy().run(ctx);
      },
    };
    const { m, reporter } = manager(e, { strategy: custom });
    expect((await m.handleUpdate(offerFor(publish(SIGNED), SIGNED))).status).toBe('completed');
    expect(reporter.events).toContainEqual(expect.objectContaining({ kind: 'progress', stage: 'downloading', value: 40 }));
  });

  it('refuses something that is not a strategy with NH_INVALID_OPTIONS', () => {
    const e = env();
    expect(() => manager(e, { strategy: { name: 'x' } as unknown as UpdateStrategy })).toThrow(expect.objectContaining({ code: 'NH_INVALID_OPTIONS' }));
    expect(() => manager(e, { strategy: 'parts' as 'cached' })).toThrow(expect.objectContaining({ code: 'NH_INVALID_OPTIONS' }));
    expect(() => cachedStrategy({ cacheDir: '' })).toThrow(expect.objectContaining({ code: 'NH_INVALID_OPTIONS' }));
  });
});

describe('UpdateManager.setStrategy / setApplier', () => {
  it('take effect for the next update and are refused with NH_UPDATE_BUSY while one runs', async () => {
    const e = env();
    const ran: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const gated: UpdateStrategy = {
      name: 'gated',
      resumable: false,
      async run(ctx) {
        ran.push('gated');
        await held;
        await streamingStrategy().run(ctx);
      },
    };
    const { m } = manager(e, { strategy: gated });
    const first = m.handleUpdate(offerFor(publish(SIGNED), SIGNED));
    await expect.poll(() => ran.length).toBe(1);
    const secondTarget = join(e.dir, 'second.img');
    expect(() => m.setStrategy('streaming')).toThrow(expect.objectContaining({ code: 'NH_UPDATE_BUSY' }));
    expect(() => m.setApplier(new FileApplier({ path: secondTarget }))).toThrow(expect.objectContaining({ code: 'NH_UPDATE_BUSY' }));
    expect(m.strategy).toBe(gated);
    release();
    expect((await first).status).toBe('completed');

    const counting: UpdateStrategy = { name: 'counting', resumable: false, run: (ctx) => (ran.push('counting'), streamingStrategy().run(ctx)) };
    m.setStrategy(counting);
    m.setApplier(new FileApplier({ path: secondTarget }));
    expect(() => m.setApplier({} as never)).toThrow(expect.objectContaining({ code: 'NH_INVALID_OPTIONS' }));
    expect((await m.handleUpdate(offerFor(publish(SIGNED), SIGNED))).status).toBe('completed');
    expect(ran).toEqual(['gated', 'counting']);
    expect(readFileSync(secondTarget).equals(SIGNED)).toBe(true);
    m.setStrategy('cached'); // the shorthand resolves with the manager's stateDir
    expect(m.strategy.name).toBe('cached');
  });
});
