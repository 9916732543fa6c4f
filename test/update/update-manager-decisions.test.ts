import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Downloader } from '../../src/download/downloader.js';
import { FileApplier } from '../../src/update/appliers/file-applier.js';
import { UpdateManager } from '../../src/update/update-manager.js';
import type { UpdateClient } from '../../src/update/update-client.js';
import { createDefaultUpdateClient } from '../../src/update/default-update-client.js';
import {
  RecordingReporter,
  fixtureFirmware,
  fixtureKey,
  offerFor,
  recordingLogger,
  useFirmwareHost,
} from './helpers/update-harness.js';

const SIGNED = fixtureFirmware('signed.fw');
const PREVIOUS = Buffer.from('previous\n');

const hosting = useFirmwareHost();
const dirs = hosting.dirs;

function setup(client: UpdateClient, options: { decisionTimeoutMs?: number; callbackTimeoutMs?: number } = {}) {
  const target = join(dirs.make(), 'target.img');
  writeFileSync(target, PREVIOUS);
  const reporter = new RecordingReporter();
  const logger = recordingLogger();
  const manager = new UpdateManager({
    client,
    reporter,
    applier: new FileApplier({ path: target }),
    publicKeys: () => [fixtureKey()],
    downloader: new Downloader({ ca: hosting.fx.caPem, retry: { timeBetweenRetriesMs: 5, retryJitterRatio: 0 } }),
    logger,
    ...options,
  });
  const url = hosting.fx.baseUrl + hosting.fx.host.add(`d-${Math.random().toString(36).slice(2)}.fw`, SIGNED);
  return { manager, reporter, logger, target, offer: () => offerFor(url, SIGNED) };
}

describe('UpdateManager decisions and wire payloads', () => {
  it.each([
    [{ action: 'ignore' }, { status: 'ignored', reason: '' }],
    [{ action: 'ignore', reason: 'battery low' }, { status: 'ignored', reason: 'battery low' }],
    [{ action: 'reschedule', delayMinutes: 1 }, { status: 'rescheduled', delay_for: 5 }],
    [{ action: 'reschedule', delayMinutes: 120, reason: 'night only' }, { status: 'rescheduled', delay_for: 120, reason: 'night only' }],
  ] as const)('%j → exactly %j after received', async (decision, payload) => {
    const { manager, reporter, target } = setup({ updateAvailable: () => decision });
    const info = offerFor('https://127.0.0.1:1/never.fw?sig=x', SIGNED);
    const outcome = await manager.handleUpdate(info);
    expect(outcome.status).toBe(payload.status);
    expect(reporter.wire()).toEqual([{ status: 'received' }, payload]);
    expect(reporter.progress()).toEqual([]);
    expect(readFileSync(target).equals(PREVIOUS)).toBe(true);
    expect(manager.busy).toBe(false);
  });

  it('a throwing updateAvailable → ignored + error logged + onError, manager idle and usable again', async () => {
    let throwNow = true;
    const errors: Error[] = [];
    const { manager, reporter, logger, target, offer } = setup({
      updateAvailable: () => {
        if (throwNow) throw new Error('app bug');
        return { action: 'apply' };
      },
      onError: (e) => void errors.push(e),
    });
    const first = await manager.handleUpdate(offer());
    expect(first).toMatchObject({ status: 'ignored', reason: 'update client error (NH_CALLBACK_THREW)' });
    expect(reporter.wire()).toEqual([{ status: 'received' }, { status: 'ignored', reason: 'update client error (NH_CALLBACK_THREW)' }]);
    expect(logger.records.some((r) => r.level === 'error' && r.message.includes('app bug'))).toBe(true);
    await expect.poll(() => errors.length).toBe(1);
    expect(manager.status).toBe('idle');
    throwNow = false;
    expect((await manager.handleUpdate(offer())).status).toBe('completed');
    expect(readFileSync(target).equals(SIGNED)).toBe(true);
  });

  it('a hanging updateAvailable → ignored after decisionTimeoutMs, manager idle and usable again', async () => {
    let hang = true;
    const { manager, reporter, logger, offer } = setup(
      { updateAvailable: () => (hang ? new Promise<never>(() => undefined) : { action: 'apply' }) },
      { decisionTimeoutMs: 50 },
    );
    const started = performance.now();
    const first = await manager.handleUpdate(offer());
    expect(performance.now() - started).toBeLessThan(2000);
    expect(first).toMatchObject({ status: 'ignored', reason: 'update client error (NH_CALLBACK_TIMEOUT)' });
    expect(reporter.statuses()).toEqual(['received', 'ignored']);
    expect(logger.records.some((r) => r.level === 'error' && r.data?.code === 'NH_CALLBACK_TIMEOUT')).toBe(true);
    expect(manager.busy).toBe(false);
    hang = false;
    expect((await manager.handleUpdate(offer())).status).toBe('completed');
  });

  it('an answer that is not understood → ignored + error logged', async () => {
    for (const answer of ['apply', { action: 'install' }, { action: 'reschedule', delayMinutes: -3 }, undefined]) {
      const { manager, reporter, logger } = setup({ updateAvailable: () => answer as never });
      const outcome = await manager.handleUpdate(offerFor('https://127.0.0.1:1/x.fw', SIGNED));
      expect(outcome).toMatchObject({ status: 'ignored', reason: 'update client error (NH_UPDATE_BAD_DECISION)' });
      expect(reporter.statuses()).toEqual(['received', 'ignored']);
      expect(logger.records.some((r) => r.level === 'error' && r.data?.code === 'NH_UPDATE_BAD_DECISION')).toBe(true);
    }
  });

  it('an offer during the decision is dropped', async () => {
    let release: (() => void) | undefined;
    const { manager, reporter } = setup({
      updateAvailable: () => new Promise((resolve) => (release = () => resolve({ action: 'ignore' }))),
    });
    const first = manager.handleUpdate(offerFor('https://127.0.0.1:1/a.fw', SIGNED));
    await expect.poll(() => release !== undefined).toBe(true);
    expect(manager.busy).toBe(true);
    expect(manager.status).toBe('idle'); // deciding is not downloading
    expect((await manager.handleUpdate(offerFor('https://127.0.0.1:1/b.fw', SIGNED))).status).toBe('dropped');
    release?.();
    expect((await first).status).toBe('ignored');
    expect(reporter.statuses()).toEqual(['received', 'ignored']);
  });

  it('throwing/hanging hooks (progress, fwup messages, reboot) never wedge the update', async () => {
    const { manager, reporter, target, offer } = setup(
      {
        updateAvailable: () => ({ action: 'apply' }),
        onProgress: () => {
          throw new Error('progress hook bug');
        },
        onFwupMessage: () => new Promise<never>(() => undefined),
        reboot: () => new Promise<never>(() => undefined),
      },
      { callbackTimeoutMs: 50 },
    );
    const outcome = await manager.handleUpdate(offer());
    expect(outcome.status).toBe('completed');
    expect(reporter.statuses().at(-1)).toBe('completed');
    expect(readFileSync(target).equals(SIGNED)).toBe(true);
    expect(manager.busy).toBe(false);
  });

  it('close() during a hanging decision returns at once; the offer ends dropped, nothing more reported', async () => {
    const { manager, reporter } = setup({ updateAvailable: () => new Promise<never>(() => undefined) }, { decisionTimeoutMs: 60_000 });
    const pending = manager.handleUpdate(offerFor('https://127.0.0.1:1/x.fw', SIGNED));
    await expect.poll(() => reporter.statuses()).toEqual(['received']);
    const started = performance.now();
    await manager.close();
    expect(performance.now() - started).toBeLessThan(1000);
    expect((await pending).status).toBe('dropped');
    expect(reporter.statuses()).toEqual(['received']);
    expect((await manager.handleUpdate(offerFor('https://127.0.0.1:1/y.fw', SIGNED))).status).toBe('dropped');
  });

  it('the default client ignores the running firmware and applies another', async () => {
    const info = offerFor('https://127.0.0.1:1/x.fw', SIGNED);
    const { manager, reporter } = setup(createDefaultUpdateClient({ currentFirmwareUuid: info.firmwareMeta.uuid }));
    expect(await manager.handleUpdate(info)).toMatchObject({ status: 'ignored' });
    expect(reporter.wire()).toEqual([{ status: 'received' }, { status: 'ignored', reason: `firmware ${info.firmwareMeta.uuid} is already running` }]);
  });

  it('an undecodable public key fails the update with a reason (never a crash)', async () => {
    const reporter = new RecordingReporter();
    const target = join(dirs.make(), 't');
    writeFileSync(target, PREVIOUS);
    const manager = new UpdateManager({
      client: { updateAvailable: () => ({ action: 'apply' }) },
      reporter,
      applier: new FileApplier({ path: target }),
      publicKeys: () => ['not-a-key'],
    });
    const outcome = await manager.handleUpdate(offerFor('https://127.0.0.1:1/x.fw', SIGNED));
    expect(outcome.status).toBe('failed');
    expect(reporter.statuses()).toEqual(['received', 'failed']);
    expect(outcome.reason).toMatch(/^Update failed : NH_INVALID_OPTIONS: Error decoding public key/);
    expect(readFileSync(target).equals(PREVIOUS)).toBe(true);
  });

  it('publicKeys() that throws counts as no keys (refused, never asked)', async () => {
    let asked = 0;
    const reporter = new RecordingReporter();
    const manager = new UpdateManager({
      client: { updateAvailable: () => ((asked += 1), { action: 'apply' }) },
      reporter,
      applier: new FileApplier({ path: join(dirs.make(), 't') }),
      publicKeys: () => {
        throw new Error('keystore down');
      },
    });
    expect((await manager.handleUpdate(offerFor('https://127.0.0.1:1/x.fw', SIGNED))).status).toBe('refused');
    expect(reporter.wire()).toEqual([{ status: 'failed', reason: 'Refusing unverified firmware : no public keys available' }]);
    expect(asked).toBe(0);
  });
});
