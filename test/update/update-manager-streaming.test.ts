import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Downloader } from '../../src/download/downloader.js';
import { FileApplier } from '../../src/update/appliers/file-applier.js';
import { UpdateManager } from '../../src/update/update-manager.js';
import type { UpdateManagerOptions } from '../../src/update/update-manager-options.js';
import type { UpdateClient } from '../../src/update/update-client.js';
import type { RetryOptions } from '../../src/download/retry-options.js';
import {
  RecordingReporter,
  fixtureFirmware,
  fixtureKey,
  offerFor,
  recordingLogger,
  useFirmwareHost,
} from './helpers/update-harness.js';

const FAST_RETRY: Partial<RetryOptions> = { timeBetweenRetriesMs: 5, retryJitter: 0, idleTimeoutMs: 2000, maxDisconnects: 10 };
const PREVIOUS = Buffer.from('previous firmware image\n');
const SIGNED = fixtureFirmware('signed.fw');

const hosting = useFirmwareHost();
const dirs = hosting.dirs;

let counter = 0;
function publish(bytes: Uint8Array): { name: string; url: string } {
  const name = `fw-${++counter}.fw`;
  return { name, url: hosting.fx.baseUrl + hosting.fx.host.add(name, bytes) };
}

function requestsFor(name: string): { range: string | undefined; status: number }[] {
  return hosting.fx.host.requests
    .filter((r) => r.path.endsWith(`/${name}`))
    .map((r) => ({ range: r.headers.range as string | undefined, status: r.status }));
}

interface Setup {
  manager: UpdateManager;
  reporter: RecordingReporter;
  target: string;
  logger: ReturnType<typeof recordingLogger>;
  calls: { updateAvailable: number; reboot: number; errors: Error[]; eventsAtReboot: number };
}

function setup(overrides: Partial<UpdateManagerOptions> & { retry?: Partial<RetryOptions>; client?: Partial<UpdateClient> } = {}): Setup {
  const dir = dirs.make();
  const target = join(dir, 'target.img');
  writeFileSync(target, PREVIOUS);
  const reporter = new RecordingReporter();
  const logger = recordingLogger();
  const calls = { updateAvailable: 0, reboot: 0, errors: [] as Error[], eventsAtReboot: -1 };
  const client: UpdateClient = {
    updateAvailable: () => {
      calls.updateAvailable += 1;
      return { action: 'apply' };
    },
    reboot: () => {
      calls.reboot += 1;
      calls.eventsAtReboot = reporter.events.length;
    },
    onError: (e) => void calls.errors.push(e),
    ...overrides.client,
  };
  const { retry, client: _c, ...rest } = overrides;
  const manager = new UpdateManager({
    client,
    reporter,
    applier: new FileApplier({ path: target }),
    publicKeys: () => [fixtureKey()],
    downloader: new Downloader({ ca: hosting.fx.caPem, retry: { ...FAST_RETRY, ...retry }, logger }),
    networkInterface: () => 'eth0',
    progressIntervalMs: 0,
    logger,
    ...rest,
  });
  return { manager, reporter, target, logger, calls };
}

describe('UpdateManager, streaming strategy, against a real HTTPS host', () => {
  it('happy path: received → started → progress → updating 100 → completed → reboot; bytes identical', async () => {
    const { manager, reporter, target, calls, logger } = setup();
    const { url } = publish(SIGNED);
    const info = offerFor(url, SIGNED);
    const outcome = await manager.handleUpdate(info);
    expect(outcome).toEqual({ status: 'completed', uuid: info.firmwareMeta.uuid });
    expect(readFileSync(target).equals(SIGNED)).toBe(true);
    const wire = reporter.wire();
    expect(wire[0]).toEqual({ status: 'received' });
    expect(wire[1]).toEqual({ status: 'started', downloader_network_interface: 'eth0' });
    expect(wire.at(-1)).toEqual({ status: 'completed' });
    expect(reporter.trace().slice(-2)).toEqual(['progress:updating:100', 'completed']);
    expect(reporter.progress().every((p) => p.stage === 'updating')).toBe(true);
    // the reboot hook ran after `completed` was sent
    expect(calls).toEqual({ updateAvailable: 1, reboot: 1, errors: [], eventsAtReboot: reporter.events.length });
    expect(manager.status).toBe('idle');
    expect(manager.currentlyDownloadingUuid).toBeNull();
    expect(logger.text()).not.toContain('X-Amz-Signature');
  });

  it('a download cut at three points resumes with Range and applies identical bytes', async () => {
    const { manager, reporter, target } = setup();
    const { name, url } = publish(SIGNED);
    hosting.fx.host.setFaults(name, { cutAfterBytes: 1000, times: 3 });
    const outcome = await manager.handleUpdate(offerFor(url, SIGNED));
    expect(outcome.status).toBe('completed');
    expect(readFileSync(target).equals(SIGNED)).toBe(true);
    expect(requestsFor(name)).toEqual([
      { range: undefined, status: 200 },
      { range: 'bytes=1000-', status: 206 },
      { range: 'bytes=2000-', status: 206 },
      { range: 'bytes=3000-', status: 206 },
    ]);
    // `started` at every (re)connect, like nerves_hub_link
    expect(reporter.statuses().filter((s) => s === 'started')).toHaveLength(4);
  });

  it('a server that ignores Range on resume: the re-sent prefix is discarded, bytes identical', async () => {
    const { name, url } = publish(SIGNED);
    hosting.fx.host.setFaults(name, { cutAfterBytes: 1500, times: 1 });
    const { manager, reporter, target } = setup();
    let started = 0;
    const send = reporter.sendStatus.bind(reporter);
    reporter.sendStatus = (s) => {
      if (s.status === 'started' && ++started === 2) hosting.fx.host.setFaults(name, { ignoreRange: true, times: 1 });
      send(s);
    };
    const outcome = await manager.handleUpdate(offerFor(url, SIGNED));
    expect(outcome.status).toBe('completed');
    expect(requestsFor(name)).toEqual([
      { range: undefined, status: 200 },
      { range: 'bytes=1500-', status: 200 },
    ]);
    expect(readFileSync(target).equals(SIGNED)).toBe(true);
  });

  it('a corrupted byte fails verification: failed reported, nothing applied', async () => {
    const { manager, reporter, target, calls } = setup();
    const { name, url } = publish(SIGNED);
    hosting.fx.host.setFaults(name, { corruptByteAt: 2477 });
    const outcome = await manager.handleUpdate(offerFor(url, SIGNED));
    expect(outcome.status).toBe('failed');
    expect(outcome.reason).toMatch(/^Update failed : firmware verification failed \(NH_FW_[A-Z_]+\)/);
    expect(reporter.statuses()).toEqual(['received', 'started', 'failed']);
    expect(reporter.wire().at(-1)).toEqual({ status: 'failed', reason: outcome.reason });
    expect(readFileSync(target).equals(PREVIOUS)).toBe(true);
    expect(calls.reboot).toBe(0);
    expect(calls.errors).toHaveLength(1);
    expect(manager.status).toBe('idle');
  });

  it('with the server checksum, a corrupted byte is caught by the downloader (Download failed)', async () => {
    const { manager, target } = setup();
    const { name, url } = publish(SIGNED);
    hosting.fx.host.setFaults(name, { corruptByteAt: 100 });
    const checksum = (await import('node:crypto')).createHash('sha256').update(SIGNED).digest('hex').toUpperCase();
    const outcome = await manager.handleUpdate(offerFor(url, SIGNED, { checksum: checksum.toLowerCase() }));
    expect(outcome.status).toBe('failed');
    expect(outcome.reason).toMatch(/^Download failed : NH_DOWNLOAD_CHECKSUM_MISMATCH/);
    expect(readFileSync(target).equals(PREVIOUS)).toBe(true);
  });

  it.each([
    ['signed-other-key.fw', 'NH_FW_BAD_SIGNATURE'],
    ['unsigned.fw', 'NH_FW_UNSIGNED'],
    ['tampered-resource-crc-ok.fw', 'NH_FW_DIGEST_MISMATCH'],
  ])('%s is refused (%s), nothing applied', async (file, code) => {
    const { manager, reporter, target } = setup();
    const bytes = fixtureFirmware(file);
    const { url } = publish(bytes);
    const outcome = await manager.handleUpdate(offerFor(url, bytes));
    expect(outcome.status).toBe('failed');
    expect(outcome.reason).toContain(`(${code})`);
    expect(reporter.statuses().at(-1)).toBe('failed');
    expect(readFileSync(target).equals(PREVIOUS)).toBe(true);
  });

  it('no public keys: failed "Refusing unverified firmware", client never asked, nothing downloaded', async () => {
    const { manager, reporter, target, calls } = setup({ publicKeys: () => [] });
    const { name, url } = publish(SIGNED);
    const outcome = await manager.handleUpdate(offerFor(url, SIGNED));
    expect(outcome.status).toBe('refused');
    expect(reporter.wire()).toEqual([{ status: 'failed', reason: 'Refusing unverified firmware : no public keys available' }]);
    expect(calls.updateAvailable).toBe(0);
    expect(requestsFor(name)).toEqual([]);
    expect(readFileSync(target).equals(PREVIOUS)).toBe(true);
  });

  it('an expired URL (403) fails with a clear Download failed reason', async () => {
    const { manager, reporter, target } = setup();
    const { name, url } = publish(SIGNED);
    hosting.fx.host.setFaults(name, { expired: true });
    const outcome = await manager.handleUpdate(offerFor(url, SIGNED));
    expect(outcome.status).toBe('failed');
    expect(outcome.reason).toMatch(/^Download failed : NH_DOWNLOAD_URL_EXPIRED: .*expired/);
    expect(outcome.reason).not.toContain('X-Amz-Signature');
    expect(reporter.statuses()).toEqual(['received', 'started', 'failed']);
    expect(readFileSync(target).equals(PREVIOUS)).toBe(true);
  });

  it('429 with Retry-After: waits as told, then completes', async () => {
    const { manager, target } = setup();
    const { name, url } = publish(SIGNED);
    hosting.fx.host.setFaults(name, { status: { code: 429, retryAfterSeconds: 1 }, times: 1 });
    const outcome = await manager.handleUpdate(offerFor(url, SIGNED));
    expect(outcome.status).toBe('completed');
    const reqs = hosting.fx.host.requests.filter((r) => r.path.endsWith(`/${name}`));
    expect(reqs.map((r) => r.status)).toEqual([429, 200]);
    expect((reqs[1]?.at ?? 0) - (reqs[0]?.at ?? 0)).toBeGreaterThanOrEqual(900);
    expect(readFileSync(target).equals(SIGNED)).toBe(true);
  });

  it('a stalled server trips the idle timeout; after maxDisconnects the update fails, nothing applied', async () => {
    // 750 ms, not less: on a loaded machine a TLS handshake alone can stay silent for 100 ms, and an
    // idle timeout before the request reaches the host would not count as one of its requests.
    const { manager, reporter, target } = setup({ retry: { idleTimeoutMs: 750, maxDisconnects: 3 } });
    const { name, url } = publish(SIGNED);
    hosting.fx.host.setFaults(name, { stallAfterBytes: 1000 });
    const outcome = await manager.handleUpdate(offerFor(url, SIGNED));
    expect(outcome.status).toBe('failed');
    expect(outcome.reason).toMatch(/^Download failed : NH_DOWNLOAD_MAX_DISCONNECTS/);
    expect(requestsFor(name)).toHaveLength(3);
    expect(reporter.statuses().filter((s) => s === 'started')).toHaveLength(3);
    expect(readFileSync(target).equals(PREVIOUS)).toBe(true);
    hosting.fx.host.destroyOpenResponses();
  });

  it('an update offered while one runs is dropped (logged, nothing sent); close() aborts the running one', async () => {
    const { manager, reporter, logger, target } = setup({ retry: { idleTimeoutMs: 10_000 } });
    const { name, url } = publish(SIGNED);
    hosting.fx.host.setFaults(name, { stallAfterBytes: 1000 });
    const first = offerFor(url, SIGNED);
    const running = manager.handleUpdate(first);
    await expect.poll(() => manager.currentlyDownloadingUuid).toBe(first.firmwareMeta.uuid);
    expect(manager.status).toBe('updating');
    const before = reporter.events.length;
    const second = await manager.handleUpdate(offerFor(url, SIGNED));
    expect(second.status).toBe('dropped');
    expect(reporter.events.length).toBe(before);
    expect(logger.records.some((r) => r.message.includes('dropped'))).toBe(true);
    await manager.close();
    expect(await running).toMatchObject({ status: 'aborted' });
    expect(reporter.statuses()).not.toContain('failed');
    expect(manager.status).toBe('idle');
    expect(readFileSync(target).equals(PREVIOUS)).toBe(true);
    hosting.fx.host.destroyOpenResponses();
  });

  it('progress: updating stage only, first value sent, then strictly increasing and ≥ interval apart', async () => {
    const { manager, reporter } = setup({ progressIntervalMs: 5 });
    const { name, url } = publish(SIGNED);
    hosting.fx.host.setFaults(name, { cutAfterBytes: 700, times: 5 });
    const outcome = await manager.handleUpdate(offerFor(url, SIGNED));
    expect(outcome.status).toBe('completed');
    const progress = reporter.progress();
    const beforeFinal = progress.slice(0, -1);
    expect(beforeFinal.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < beforeFinal.length; i++) {
      const [a, b] = [beforeFinal[i - 1], beforeFinal[i]];
      expect(b!.value).toBeGreaterThan(a!.value);
      expect(b!.at - a!.at).toBeGreaterThanOrEqual(4.5);
    }
    expect(beforeFinal.every((p) => p.value < 100)).toBe(true);
    expect(progress.at(-1)).toMatchObject({ stage: 'updating', value: 100 });
  });
});
