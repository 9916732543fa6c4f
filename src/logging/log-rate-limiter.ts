import type { LogLevel } from './logger.js';

/**
 * How often the same kind of record may be logged: at most `perWindow` records of one template
 * and level per `windowMs`; the rest are counted and summarised once the window is over
 * ("suppressed 990 similar records in the last 60 s: dropped an invalid message"). `debug` is
 * never limited (whoever turns it on wants every line).
 */
export const LOG_RATE_LIMIT = Object.freeze({
  /** Length of one window. */
  windowMs: 60_000,
  /** Records of one level and template written per window. */
  perWindow: 10,
  /** Templates tracked at once; the oldest is summarised and forgotten beyond that. */
  maxTemplates: 256,
});

/**
 * The part of a message that names what happened, before any detail: text up to the first `:`,
 * `(`, `[`, `{`, `=` or quote. The SDK puts details (event names, reasons, server text) after
 * those, so a storm of one kind of warning shares one template whatever its details.
 * @internal
 */
export function logTemplate(message: string): string {
  const cut = message.search(/[:([{="'`]/);
  return (cut === -1 ? message : message.slice(0, cut)).trimEnd().slice(0, 80);
}

interface WindowState {
  level: LogLevel;
  template: string;
  startedAt: number;
  written: number;
  suppressed: number;
}

/** Writes a record (the summary of suppressed ones). */
type Emit = (level: LogLevel, message: string, data: Record<string, unknown>) => void;

/**
 * Per-logger rate limiter keyed by level and {@link logTemplate}. Summaries are written at the
 * next record after the window ended, or by an unref'd timer when everything went quiet.
 * @internal
 */
export class LogRateLimiter {
  readonly #emit: Emit;
  readonly #now: () => number;
  readonly #windowMs: number;
  readonly #perWindow: number;
  readonly #maxTemplates: number;
  // insertion order = window start order: the oldest windows come first
  readonly #windows = new Map<string, WindowState>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(emit: Emit, options: { now?: () => number; windowMs?: number; perWindow?: number; maxTemplates?: number } = {}) {
    this.#emit = emit;
    this.#now = options.now ?? (() => performance.now());
    this.#windowMs = options.windowMs ?? LOG_RATE_LIMIT.windowMs;
    this.#perWindow = options.perWindow ?? LOG_RATE_LIMIT.perWindow;
    this.#maxTemplates = options.maxTemplates ?? LOG_RATE_LIMIT.maxTemplates;
  }

  /** True when the record may be written now; false when it was counted as suppressed. */
  admit(level: LogLevel, message: string): boolean {
    if (level === 'debug') return true;
    const now = this.#now();
    this.flush(now);
    const template = logTemplate(message);
    const key = `${level} ${template}`;
    let state = this.#windows.get(key);
    if (state === undefined) {
      if (this.#windows.size >= this.#maxTemplates) this.#close(this.#windows.keys().next().value as string);
      state = { level, template, startedAt: now, written: 0, suppressed: 0 };
      this.#windows.set(key, state);
    }
    if (state.written < this.#perWindow) {
      state.written++;
      return true;
    }
    state.suppressed++;
    this.#arm(state.startedAt + this.#windowMs - now);
    return false;
  }

  /** Summarises and forgets every window that is over at `now`. */
  flush(now: number = this.#now()): void {
    for (const [key, state] of this.#windows) {
      if (now - state.startedAt < this.#windowMs) break; // later windows started later
      this.#close(key);
    }
  }

  /** Stops the timer (summaries still pending are written at the next record). */
  dispose(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #close(key: string): void {
    const state = this.#windows.get(key);
    this.#windows.delete(key);
    if (state === undefined || state.suppressed === 0) return;
    const seconds = Math.round(this.#windowMs / 1000);
    this.#emit(state.level, `suppressed ${state.suppressed} similar ${state.level} records in the last ${seconds} s: ${state.template}`, {
      suppressed: state.suppressed,
      template: state.template,
    });
  }

  #arm(delayMs: number): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flush();
      for (const state of this.#windows.values()) {
        if (state.suppressed === 0) continue;
        this.#arm(state.startedAt + this.#windowMs - this.#now());
        break;
      }
    }, Math.max(0, delayMs) + 1);
    this.#timer.unref?.();
  }
}
