import { describe, expect, it } from 'vitest';
import { ReconnectSchedule, backoffDelayList, cryptoRandom, jitterDelays } from '../../src/socket/backoff.js';
import type { ReconnectScheduleOptions } from '../../src/socket/backoff.js';

/** Deterministic PRNG (mulberry32) for reproducible statistics. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function schedule(overrides: Partial<ReconnectScheduleOptions> = {}): ReconnectSchedule & { clock: { t: number } } {
  const clock = { t: 0 };
  const s = new ReconnectSchedule({ baseMs: 1000, maxMs: 60_000, jitterRatio: 0.5, minDelayMs: 0, stableConnectionMs: 10_000, random: seeded(7), now: () => clock.t, ...overrides });
  return Object.assign(s, { clock });
}

describe('backoff', () => {
  it('un-jittered list matches nerves_hub_link', () => {
    expect(backoffDelayList()).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000]);
    expect(backoffDelayList(5, 20)).toEqual([5, 10, 20]);
  });

  it('jitter stays in [d, 1.5 d] with mean ≈ 1.25 d (100 000 crypto samples)', () => {
    const n = 100_000;
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < n; i++) {
      const [d] = jitterDelays([1000], 0.5, cryptoRandom);
      const v = d as number;
      sum += v;
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    const mean = sum / n;
    expect(min).toBeGreaterThanOrEqual(1000);
    expect(max).toBeLessThanOrEqual(1500);
    // σ of U(0,500) ≈ 144 → σ of the mean ≈ 0.46; ±3 is > 6σ
    expect(Math.abs(mean - 1250)).toBeLessThan(3);
    // spread: both ends of the range are used
    expect(min).toBeLessThan(1010);
    expect(max).toBeGreaterThan(1490);
  });

  it('per-attempt bounds over many cycles (seeded)', () => {
    const s = schedule({ random: seeded(99) });
    const bases = backoffDelayList();
    for (let cycle = 0; cycle < 200; cycle++) {
      for (let i = 0; i < 10; i++) {
        const d = s.nextDelayMs();
        const base = bases[Math.min(i, bases.length - 1)] as number;
        expect(d).toBeGreaterThanOrEqual(base);
        expect(d).toBeLessThanOrEqual(base * 1.5);
      }
      s.joined();
      s.clock.t += 20_000; // stable connection
    }
  });

  it('a stable join resets the cycle, a quickly-dropped join keeps backing off (no kick loop)', () => {
    const s = schedule({ jitterRatio: 0 });
    expect([s.nextDelayMs(), s.nextDelayMs(), s.nextDelayMs()]).toEqual([1000, 2000, 4000]);
    s.joined();
    s.clock.t += 100; // kicked right away
    expect(s.nextDelayMs()).toBe(8000);
    s.joined();
    s.clock.t += 10_000;
    expect(s.nextDelayMs()).toBe(1000);
  });

  it('minimum delay applies to the hook and to the default schedule', () => {
    const s = schedule({ override: () => [0, 0, 1], minDelayMs: 250 });
    expect([s.nextDelayMs(), s.nextDelayMs(), s.nextDelayMs(), s.nextDelayMs()]).toEqual([250, 250, 250, 250]);
  });

  it('hook list is used per cycle; undefined/garbage/throw falls back to the default', () => {
    const calls: string[] = [];
    let answer: unknown = [10, 20];
    const s = schedule({
      jitterRatio: 0,
      override: () => {
        calls.push('hook');
        if (answer === 'throw') throw new Error('boom');
        return answer as number[] | undefined;
      },
      onOverrideError: () => calls.push('error'),
    });
    expect([s.nextDelayMs(), s.nextDelayMs(), s.nextDelayMs()]).toEqual([10, 20, 20]);
    s.joined();
    s.clock.t += 60_000;
    answer = undefined;
    expect(s.nextDelayMs()).toBe(1000);
    s.joined();
    s.clock.t += 60_000;
    answer = ['x'];
    expect(s.nextDelayMs()).toBe(1000);
    s.joined();
    s.clock.t += 60_000;
    answer = 'throw';
    expect(s.nextDelayMs()).toBe(1000);
    expect(calls).toEqual(['hook', 'hook', 'hook', 'error', 'hook', 'error']);
  });

  it('cryptoRandom is in [0, 1)', () => {
    for (let i = 0; i < 10_000; i++) {
      const r = cryptoRandom();
      expect(r).toBeGreaterThanOrEqual(0);
      expect(r).toBeLessThan(1);
    }
  });
});
