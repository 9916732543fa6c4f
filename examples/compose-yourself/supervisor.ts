/**
 * The app's own supervision: a one-for-all supervisor with a watchdog. It restarts the whole
 * device stack when an update stops making progress (a stalled download, a wedged applier), with
 * a restart-intensity limit like an OTP supervisor (too many restarts in a period → give up and
 * let the process manager, e.g. systemd, restart the process).
 */
import type { DeviceStack } from './device-stack.js';

/** Options of {@link Supervisor}. */
export interface SupervisorOptions {
  /** Builds a fresh stack (called at start and at every restart). */
  createStack: () => DeviceStack;
  /** A running update with no progress for this long is considered wedged. Default 120 000. */
  stallTimeoutMs?: number;
  /** How often the watchdog looks. Default 1 000. */
  checkIntervalMs?: number;
  /** At most this many restarts… Default 5. */
  maxRestarts?: number;
  /** …within this period. Default 600 000. */
  restartPeriodMs?: number;
  /** Told about every restart. */
  onRestart?: (reason: string, incarnation: number) => void;
}

/** Runs one stack at a time and replaces it when it wedges. */
export class Supervisor {
  #stack: DeviceStack | undefined;
  #timer: NodeJS.Timeout | undefined;
  #restartTimes: number[] = [];
  #incarnation = 0;
  #restarting = false;
  readonly #options: Required<Omit<SupervisorOptions, 'onRestart'>> & Pick<SupervisorOptions, 'onRestart'>;
  /** Resolves when the supervisor gives up (restart intensity exceeded) or is stopped. */
  readonly done: Promise<'stopped' | 'gave up'>;
  #finish!: (how: 'stopped' | 'gave up') => void;

  constructor(options: SupervisorOptions) {
    this.#options = { stallTimeoutMs: 120_000, checkIntervalMs: 1_000, maxRestarts: 5, restartPeriodMs: 600_000, ...options };
    this.done = new Promise((resolve) => (this.#finish = resolve));
  }

  /** How many stacks have been started. */
  get incarnation(): number {
    return this.#incarnation;
  }

  start(): void {
    this.#launch();
    this.#timer = setInterval(() => this.#check(), this.#options.checkIntervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#stack?.stop();
    this.#finish('stopped');
  }

  #launch(): void {
    this.#incarnation += 1;
    this.#stack = this.#options.createStack();
    this.#stack.start();
  }

  #check(): void {
    const stack = this.#stack;
    if (!stack || this.#restarting) return;
    const wedged = stack.updates.status === 'updating' && Date.now() - stack.lastUpdateActivityAt > this.#options.stallTimeoutMs;
    if (wedged) void this.#restart(`no update progress for ${this.#options.stallTimeoutMs} ms`);
  }

  async #restart(reason: string): Promise<void> {
    this.#restarting = true;
    const now = Date.now();
    this.#restartTimes = [...this.#restartTimes.filter((t) => now - t < this.#options.restartPeriodMs), now];
    await this.#stack?.stop();
    if (this.#restartTimes.length > this.#options.maxRestarts) {
      clearInterval(this.#timer);
      this.#finish('gave up');
      return;
    }
    this.#options.onRestart?.(reason, this.#incarnation + 1);
    this.#launch();
    this.#restarting = false;
  }
}
