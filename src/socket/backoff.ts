import { randomBytes } from 'node:crypto';
import { invalidOptions } from '../errors.js';

/** Defaults of the reconnect schedule (nerves_hub_link's `Backoff.delay_list(1000, 60000, 0.50)`). */
export const BACKOFF_DEFAULTS = Object.freeze({
  /** First delay (ms). */
  baseMs: 1000,
  /** Largest delay (ms). */
  maxMs: 60_000,
  /** Random extra, as a fraction of the delay (0.5 → +0–50 %). */
  jitterRatio: 0.5,
});

/** A source of uniformly distributed numbers in [0, 1). */
export type RandomSource = () => number;

/** Uniform [0, 1) from the OS CSPRNG (48 bits). */
export const cryptoRandom: RandomSource = () => randomBytes(6).readUIntBE(0, 6) / 2 ** 48;

/**
 * The un-jittered delay list: `baseMs`, doubling while below `maxMs`, then one final `maxMs`
 * (defaults give `[1000, 2000, 4000, 8000, 16000, 32000, 60000]`).
 *
 * @example
 * ```ts
 * backoffDelayList(1000, 60_000); // [1000, 2000, 4000, 8000, 16000, 32000, 60000]
 * ```
 */
export function backoffDelayList(baseMs: number = BACKOFF_DEFAULTS.baseMs, maxMs: number = BACKOFF_DEFAULTS.maxMs): number[] {
  if (!(baseMs > 0) || !Number.isFinite(baseMs)) throw invalidOptions('baseMs must be a positive number');
  if (!(maxMs >= baseMs) || !Number.isFinite(maxMs)) throw invalidOptions('maxMs must be a number ≥ baseMs');
  const list: number[] = [];
  for (let d = baseMs; d < maxMs; d *= 2) list.push(d);
  list.push(maxMs);
  return list;
}

/**
 * Adds `+0 … jitterRatio × d` to every element `d` (nerves_hub_link adds 0–50 %), so a fleet
 * that lost its server does not reconnect in lockstep.
 *
 * @example
 * ```ts
 * const delays = jitterDelays(backoffDelayList(), 0.5); // each delay + 0–50 %
 * ```
 */
export function jitterDelays(list: readonly number[], jitterRatio: number = BACKOFF_DEFAULTS.jitterRatio, random: RandomSource = cryptoRandom): number[] {
  return list.map((d) => Math.round(d + d * jitterRatio * random()));
}

/** Settings of {@link ReconnectSchedule}. */
export interface ReconnectScheduleOptions {
  baseMs: number;
  maxMs: number;
  jitterRatio: number;
  /** No delay is ever shorter than this (also applied to lists from `override`). */
  minDelayMs: number;
  /** A joined connection must last this long to reset the schedule (guards against kick loops). */
  stableConnectionMs: number;
  /** Per-cycle override (the app's `reconnectBackoff()` hook); `undefined` → the jittered default list. */
  override?: () => number[] | undefined;
  random: RandomSource;
  now: () => number;
  /** Told about a hook that threw or returned garbage. */
  onOverrideError?: (error: unknown) => void;
}

/**
 * Consecutive-failure reconnect schedule: the n-th consecutive failed attempt waits element
 * `n-1` of the cycle's list (the last element repeats). A new list is drawn at the start of each
 * cycle. Reaching the `device` join resets the cycle — but only once the connection stayed up
 * `stableConnectionMs`, so a server that closes every fresh connection (e.g. a newer connection
 * of the same device) still backs off.
 * @internal
 */
export class ReconnectSchedule {
  readonly #o: ReconnectScheduleOptions;
  #failures = 0;
  #failuresAtJoin = 0;
  #joinedAt: number | null = null;
  #cycle: number[] = [];

  constructor(options: ReconnectScheduleOptions) {
    this.#o = options;
  }

  /** Consecutive failures so far in this cycle. */
  get failures(): number {
    return this.#failures;
  }

  /** The device topic was joined. */
  joined(): void {
    this.#failuresAtJoin = this.#failures;
    this.#failures = 0;
    this.#joinedAt = this.#o.now();
  }

  /** Delay before the next attempt; counts one failure. */
  nextDelayMs(): number {
    if (this.#joinedAt !== null) {
      const stable = this.#o.now() - this.#joinedAt >= this.#o.stableConnectionMs;
      this.#failures = stable ? 0 : this.#failuresAtJoin;
      this.#joinedAt = null;
    }
    if (this.#failures === 0 || this.#cycle.length === 0) this.#cycle = this.#newCycle();
    const delay = this.#cycle[Math.min(this.#failures, this.#cycle.length - 1)] ?? this.#o.baseMs;
    this.#failures++;
    return Math.max(this.#o.minDelayMs, delay);
  }

  /** Forget everything (after `close()`). */
  reset(): void {
    this.#failures = 0;
    this.#failuresAtJoin = 0;
    this.#joinedAt = null;
    this.#cycle = [];
  }

  #newCycle(): number[] {
    if (this.#o.override) {
      try {
        const list = this.#o.override();
        if (list !== undefined && list !== null) {
          if (Array.isArray(list) && list.length > 0 && list.every((d) => typeof d === 'number' && Number.isFinite(d) && d >= 0)) {
            return [...list];
          }
          this.#o.onOverrideError?.(invalidOptions('reconnectBackoff() must return a non-empty list of non-negative numbers or undefined'));
        }
      } catch (error) {
        this.#o.onOverrideError?.(error);
      }
    }
    return jitterDelays(backoffDelayList(this.#o.baseMs, this.#o.maxMs), this.#o.jitterRatio, this.#o.random);
  }
}
