import { LogRateLimiter } from './log-rate-limiter.js';
import { LOG_LIMITS, sanitizeForLog, sanitizeLogData } from './log-sanitizer.js';

/**
 * Severity of a log record.
 *
 * @category Errors and logging
 */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/**
 * Where the SDK writes its log lines. The SDK never calls `console` itself; pass a logger to see
 * what it does. `data` never contains keys, PINs, shared secrets or the query of a signed URL.
 * Messages and data strings arrive escaped (no control characters, no ANSI escapes, no line
 * breaks) and truncated, and a storm of one kind of record is rate-limited with a summary.
 *
 * @example
 * ```ts
 * const logger: Logger = { log: (level, message, data) => console.error(level, message, data ?? '') };
 * ```
 * @category Errors and logging
 */
export interface Logger {
  /** Write one record. Must not throw; the SDK ignores anything it throws. */
  log(level: LogLevel, message: string, data?: Record<string, unknown>): void;
}

/**
 * A logger that drops everything (the default).
 *
 * @category Errors and logging
 */
export const silentLogger: Logger = { log() {} };

const LEVELS: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

// One limiter per logger object: the socket, the update manager and the downloader of one device
// usually share a logger, and a storm from any of them must not flood it.
const limiters = new WeakMap<Logger, LogRateLimiter>();

function limiterFor(logger: Logger): LogRateLimiter {
  let limiter = limiters.get(logger);
  if (limiter === undefined) {
    limiter = new LogRateLimiter((level, message, data) => write(logger, level, message, data));
    limiters.set(logger, limiter);
  }
  return limiter;
}

function write(logger: Logger, level: LogLevel, message: string, data?: Record<string, unknown>): void {
  try {
    logger.log(level, sanitizeForLog(message, LOG_LIMITS.messageChars), data === undefined ? undefined : sanitizeLogData(data));
  } catch {
    // A broken logger (or a throwing getter in data) is not worth a crash.
  }
}

/**
 * Calls `logger.log` and swallows whatever it throws: logging must never break the device.
 * The message and every string in `data` are escaped and truncated ({@link sanitizeForLog}), so
 * server-controlled text can neither forge lines nor flood the log; records of the same level and
 * template beyond `LOG_RATE_LIMIT` per window are counted and summarised instead of written.
 */
export function safeLog(logger: Logger, level: LogLevel, message: string, data?: Record<string, unknown>): void {
  if (logger === silentLogger) return;
  let admitted: boolean;
  try {
    admitted = limiterFor(logger).admit(level, message);
  } catch {
    admitted = true; // a logger that cannot be a WeakMap key (never for a real object)
  }
  if (admitted) write(logger, level, message, data);
}

/** True when `level` is at or above `threshold` in severity. */
export function levelEnabled(level: LogLevel, threshold: LogLevel): boolean {
  return LEVELS[level] <= LEVELS[threshold];
}
