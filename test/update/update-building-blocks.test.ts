import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { guardedCall } from '../../src/update/guarded-call.js';
import { normalizeUpdateDecision } from '../../src/update/update-decision.js';
import { ProgressThrottle } from '../../src/update/progress-throttle.js';
import { classifyUpdateFailure, redactUrlsInText } from '../../src/update/failure-reason.js';
import { createDefaultUpdateClient } from '../../src/update/default-update-client.js';
import { guardUpdateClient } from '../../src/update/guarded-client.js';
import { NervesHubError } from '../../src/errors.js';
import type { UpdateInfo } from '../../src/protocol/update-info.js';
import type { Logger, LogLevel } from '../../src/logging/logger.js';

function recordingLogger(): Logger & { records: { level: LogLevel; message: string; data?: Record<string, unknown> }[] } {
  const records: { level: LogLevel; message: string; data?: Record<string, unknown> }[] = [];
  return { records, log: (level, message, data) => void records.push({ level, message, data }) };
}

function offer(uuid: string): UpdateInfo {
  return { firmwareUrl: new URL('https://fw.example/f.fw?sig=secret'), firmwareMeta: { uuid }, raw: {} };
}

describe('guardedCall', () => {
  it('returns the value of a sync or async callback', async () => {
    const logger = recordingLogger();
    expect(await guardedCall(() => 7, { name: 'n', timeoutMs: 100, logger })).toEqual({ ok: true, value: 7 });
    expect(await guardedCall(async () => 'x', { name: 'n', timeoutMs: 100, logger })).toEqual({ ok: true, value: 'x' });
    expect(logger.records).toEqual([]);
  });

  it('turns a synchronous throw and a rejection into NH_CALLBACK_THREW, logged', async () => {
    const logger = recordingLogger();
    const a = await guardedCall(() => {
      throw new Error('boom');
    }, { name: 'updateAvailable', timeoutMs: 100, logger });
    const b = await guardedCall(() => Promise.reject(new Error('late boom')), { name: 'reboot', timeoutMs: 100, logger });
    expect(a.ok).toBe(false);
    expect(b.ok).toBe(false);
    if (a.ok || b.ok) return;
    expect(a.error.code).toBe('NH_CALLBACK_THREW');
    expect(a.error.message).toContain('boom');
    expect(a.timedOut).toBe(false);
    expect(b.error.code).toBe('NH_CALLBACK_THREW');
    expect(logger.records.map((r) => [r.level, r.data?.callback])).toEqual([
      ['error', 'updateAvailable'],
      ['error', 'reboot'],
    ]);
  });

  it('gives up on a hanging callback after timeoutMs', async () => {
    const logger = recordingLogger();
    const started = performance.now();
    const r = await guardedCall(() => new Promise<never>(() => undefined), { name: 'hang', timeoutMs: 50, logger });
    const elapsed = performance.now() - started;
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.timedOut).toBe(true);
    expect(r.error.code).toBe('NH_CALLBACK_TIMEOUT');
    expect(elapsed).toBeGreaterThanOrEqual(45);
    expect(elapsed).toBeLessThan(1000);
    expect(logger.records[0]?.level).toBe('error');
  });

  it('a callback rejecting after its timeout causes no unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const r = await guardedCall(() => new Promise((_, reject) => setTimeout(() => reject(new Error('too late')), 30)), {
        name: 'late',
        timeoutMs: 10,
        logger: recordingLogger(),
      });
      expect(r.ok).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, 60));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('normalizeUpdateDecision', () => {
  it('accepts the documented answers', () => {
    expect(normalizeUpdateDecision({ action: 'apply' })).toEqual({ action: 'apply' });
    expect(normalizeUpdateDecision({ action: 'ignore' })).toEqual({ action: 'ignore' });
    expect(normalizeUpdateDecision({ action: 'ignore', reason: 'busy' })).toEqual({ action: 'ignore', reason: 'busy' });
    expect(normalizeUpdateDecision({ action: 'reschedule', delayMinutes: 30, reason: 'night' })).toEqual({
      action: 'reschedule',
      delayMinutes: 30,
      reason: 'night',
    });
  });

  it('rounds reschedule delays to whole minutes, at least 5', () => {
    expect(normalizeUpdateDecision({ action: 'reschedule', delayMinutes: 0 })).toEqual({ action: 'reschedule', delayMinutes: 5 });
    expect(normalizeUpdateDecision({ action: 'reschedule', delayMinutes: 4.4 })).toEqual({ action: 'reschedule', delayMinutes: 5 });
    expect(normalizeUpdateDecision({ action: 'reschedule', delayMinutes: 61.6 })).toEqual({ action: 'reschedule', delayMinutes: 62 });
  });

  it('rejects answers it does not understand', () => {
    for (const bad of [
      undefined,
      null,
      'apply',
      true,
      [],
      {},
      { action: 'APPLY' },
      { action: 'reschedule' },
      { action: 'reschedule', delayMinutes: -1 },
      { action: 'reschedule', delayMinutes: Number.NaN },
      { action: 'reschedule', delayMinutes: Infinity },
      { action: 'reschedule', delayMinutes: '10' },
      { action: 'ignore', reason: 42 },
    ]) {
      expect(normalizeUpdateDecision(bad), JSON.stringify(bad)).toBeInstanceOf(Error);
    }
  });

  it('property: any value yields a valid decision or an Error, never a throw', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const d = normalizeUpdateDecision(value);
        if (d instanceof Error) return true;
        if (d.action === 'reschedule') return Number.isInteger(d.delayMinutes) && d.delayMinutes >= 5;
        return d.action === 'apply' || d.action === 'ignore';
      }),
      { seed: 42, numRuns: 300 },
    );
  });
});

describe('ProgressThrottle', () => {
  it('sends the first value, then only increases of the rounded percent after the interval', () => {
    let now = 0;
    const t = new ProgressThrottle(500, { now: () => now });
    expect(t.accept(0.2)).toBe(0);
    now = 100;
    expect(t.accept(10)).toBeNull(); // too soon
    now = 600;
    expect(t.accept(10.4)).toBe(10);
    now = 1200;
    expect(t.accept(10.3)).toBeNull(); // not an increase
    expect(t.accept(9)).toBeNull();
    now = 1300;
    expect(t.accept(50)).toBe(50);
    now = 1700;
    expect(t.accept(60)).toBeNull(); // increase, but only 400 ms later
    now = 1800;
    expect(t.accept(60)).toBe(60);
    now = 5000;
    expect(t.accept(150)).toBe(100);
    expect(t.accept(Number.NaN)).toBeNull();
  });

  it('property: accepted values strictly increase and are ≥ interval apart', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(400), fc.double({ min: -10, max: 110, noNaN: true })), { maxLength: 80 }), (steps) => {
        let now = 0;
        const t = new ProgressThrottle(500, { now: () => now });
        const sent: { at: number; v: number }[] = [];
        for (const [dt, p] of steps) {
          now += dt;
          const v = t.accept(p);
          if (v !== null) sent.push({ at: now, v });
        }
        return sent.every((s, i) => {
          const prev = sent[i - 1];
          return s.v >= 0 && s.v <= 100 && (prev === undefined || (s.v > prev.v && s.at - prev.at >= 500));
        });
      }),
      { seed: 7, numRuns: 200 },
    );
  });
});

describe('classifyUpdateFailure', () => {
  it('maps error codes to nerves_hub_link reason prefixes', () => {
    expect(classifyUpdateFailure(new NervesHubError('NH_DOWNLOAD_URL_EXPIRED', 'expired'))).toEqual({
      kind: 'download',
      code: 'NH_DOWNLOAD_URL_EXPIRED',
      reason: 'Download failed : NH_DOWNLOAD_URL_EXPIRED: expired',
    });
    expect(classifyUpdateFailure(new NervesHubError('NH_DOWNLOAD_CHECKSUM_MISMATCH', 'x')).kind).toBe('verification');
    const sig = classifyUpdateFailure(new NervesHubError('NH_FW_BAD_SIGNATURE', 'bad sig'));
    expect(sig.kind).toBe('verification');
    expect(sig.reason).toBe('Update failed : firmware verification failed (NH_FW_BAD_SIGNATURE): bad sig');
    expect(classifyUpdateFailure(new NervesHubError('NH_FWUP_EXIT', 'fwup: oops')).reason).toBe('FWUP error : fwup: oops');
    expect(classifyUpdateFailure(new NervesHubError('NH_APPLY_IO', 'disk full')).reason).toBe('Update failed : NH_APPLY_IO: disk full');
    expect(classifyUpdateFailure(new TypeError('x is undefined'))).toEqual({ kind: 'unexpected', reason: 'Unexpected error : x is undefined' });
  });

  it('never lets a signed URL query into a reason', () => {
    const r = classifyUpdateFailure(new Error('GET https://s3.example/fw.fw?X-Amz-Signature=deadbeef failed'));
    expect(r.reason).not.toContain('deadbeef');
    expect(r.reason).toContain('https://s3.example/fw.fw');
    expect(redactUrlsInText('a http://u:p@h/x?q=1 b')).toBe('a http://h/x?… b');
  });

  it('bounds the reason length', () => {
    expect(classifyUpdateFailure(new Error('x'.repeat(5000))).reason.length).toBeLessThanOrEqual(1001);
  });
});

describe('createDefaultUpdateClient', () => {
  it('applies other firmware and ignores the running one with a reason', async () => {
    const client = createDefaultUpdateClient({ currentFirmwareUuid: 'aaa' });
    expect(await client.updateAvailable(offer('bbb'))).toEqual({ action: 'apply' });
    expect(await client.updateAvailable(offer('aaa'))).toEqual({ action: 'ignore', reason: 'firmware aaa is already running' });
  });

  it('reads the running UUID at every offer and honours whenAlreadyRunning', async () => {
    let running: string | null = null;
    const client = createDefaultUpdateClient({
      currentFirmwareUuid: () => running,
      whenAlreadyRunning: { action: 'reschedule', delayMinutes: 60 },
    });
    expect(await client.updateAvailable(offer('aaa'))).toEqual({ action: 'apply' });
    running = 'aaa';
    expect(await client.updateAvailable(offer('aaa'))).toEqual({ action: 'reschedule', delayMinutes: 60 });
  });
});

describe('guardUpdateClient', () => {
  it('falls back to the defaults when hooks are missing, throw, hang or answer nonsense', async () => {
    const logger = recordingLogger();
    const empty = guardUpdateClient({ updateAvailable: () => ({ action: 'apply' }) }, { logger, timeoutMs: 30 });
    expect(await empty.firmwareValidated()).toBe(true);
    expect(await empty.firmwareAutoRevertDetected()).toBe(false);
    expect(await empty.reconnectBackoff()).toBeUndefined();
    expect(await empty.reboot()).toBe(false);
    await empty.identify();

    const bad = guardUpdateClient(
      {
        updateAvailable: () => ({ action: 'apply' }),
        firmwareValidated: () => 'yes' as never,
        firmwareAutoRevertDetected: () => new Promise<never>(() => undefined),
        reconnectBackoff: () => [100, -1],
        identify: () => {
          throw new Error('led broken');
        },
        reboot: () => new Promise<never>(() => undefined),
      },
      { logger, timeoutMs: 30 },
    );
    expect(await bad.firmwareValidated()).toBe(true);
    expect(await bad.firmwareAutoRevertDetected()).toBe(false);
    expect(await bad.reconnectBackoff()).toBeUndefined();
    await bad.identify();
    expect(await bad.reboot()).toBe(true);
    expect(logger.records.filter((r) => r.level === 'error').map((r) => r.data?.callback)).toEqual(['firmwareAutoRevertDetected', 'identify', 'reboot']);
  });

  it('passes good answers through, and stops waiting when the signal fires', async () => {
    const stop = new AbortController();
    const good = guardUpdateClient(
      {
        updateAvailable: () => ({ action: 'apply' }),
        firmwareValidated: async () => false,
        firmwareAutoRevertDetected: () => true,
        reconnectBackoff: () => [10, 20],
        connected: () => new Promise<never>(() => undefined),
      },
      { timeoutMs: 60_000, signal: stop.signal },
    );
    expect(await good.firmwareValidated()).toBe(false);
    expect(await good.firmwareAutoRevertDetected()).toBe(true);
    expect(await good.reconnectBackoff()).toEqual([10, 20]);
    const pending = good.connected();
    stop.abort();
    await pending; // resolves at once instead of after 60 s
  });
});

describe('guardedCall with a shared signal', () => {
  it('adds one abort listener per signal however many calls are pending, and all stop on abort', async () => {
    const { guardedCall } = await import('../../src/update/guarded-call.js');
    const { EventEmitter } = await import('node:events');
    const controller = new AbortController();
    const pending = Array.from({ length: 25 }, (_, i) =>
      guardedCall(() => new Promise<never>(() => {}), { name: `hang${i}`, timeoutMs: 60_000, logger: { log() {} }, signal: controller.signal }),
    );
    await new Promise((r) => setImmediate(r));
    expect(EventEmitter.getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort();
    const results = await Promise.all(pending);
    expect(results.every((r) => !r.ok && r.error.code === 'NH_CALLBACK_ABORTED')).toBe(true);
  });
});
