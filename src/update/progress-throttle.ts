/**
 * A monotonic millisecond clock (injectable for tests).
 *
 * @example
 * ```ts
 * let fakeNowMs = 0;
 * const fakeClock: Clock = { now: () => fakeNowMs };
 * fakeNowMs += 500;
 * ```
 */
export interface Clock {
  /** Milliseconds from an arbitrary origin; never goes backwards. */
  now(): number;
}

/** The default clock: `performance.now()`. */
export const monotonicClock: Clock = { now: () => performance.now() };

/**
 * Decides which progress values are worth sending, like nerves_hub_link's `send_update?/2`: the
 * first value always; afterwards only when the rounded percent increased AND at least
 * `intervalMs` passed since the last sent value. Keeps the server (one DB write per stage change
 * or 15 s) and slow links from being flooded.
 *
 * @example
 * ```ts
 * const t = new ProgressThrottle(500);
 * if (t.accept(41.7) !== null) reporter.sendProgress('updating', 42);
 * ```
 */
export class ProgressThrottle {
  #lastPercent: number | null = null;
  #lastAt = 0;

  /**
   * Creates a throttle.
   *
   * @param intervalMs - minimum time between two sent values
   * @param clock - time source
   */
  readonly #intervalMs: number;
  readonly #clock: Clock;

  constructor(intervalMs: number, clock: Clock = monotonicClock) {
    this.#intervalMs = intervalMs;
    this.#clock = clock;
  }

  /** Returns the rounded percent (0..100) to send, or `null` to skip this value. */
  accept(percent: number): number | null {
    if (!Number.isFinite(percent)) return null;
    const rounded = Math.min(100, Math.max(0, Math.round(percent)));
    const now = this.#clock.now();
    if (this.#lastPercent !== null && (rounded <= this.#lastPercent || now - this.#lastAt < this.#intervalMs)) return null;
    this.#lastPercent = rounded;
    this.#lastAt = now;
    return rounded;
  }

  /** The last percent accepted, or `null` before the first. */
  get last(): number | null {
    return this.#lastPercent;
  }
}
