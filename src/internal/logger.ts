/** Severity of a log record. */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/**
 * Where the SDK writes its log lines. The SDK never calls `console` itself; pass a logger to see
 * what it does. `data` never contains keys, PINs, shared secrets or the query of a signed URL.
 *
 * @example
 * ```ts
 * const logger: Logger = { log: (level, message, data) => console.error(level, message, data ?? '') };
 * ```
 */
export interface Logger {
  /** Write one record. Must not throw; the SDK ignores anything it throws. */
  log(level: LogLevel, message: string, data?: Record<string, unknown>): void;
}

/** A logger that drops everything (the default). */
export const silentLogger: Logger = { log() {} };

const LEVELS: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

/** Calls `logger.log` and swallows whatever it throws: logging must never break the device. */
export function safeLog(logger: Logger, level: LogLevel, message: string, data?: Record<string, unknown>): void {
  try {
    logger.log(level, message, data);
  } catch {
    // A broken logger is not worth a crash.
  }
}

/** True when `level` is at or above `threshold` in severity. */
export function levelEnabled(level: LogLevel, threshold: LogLevel): boolean {
  return LEVELS[level] <= LEVELS[threshold];
}
