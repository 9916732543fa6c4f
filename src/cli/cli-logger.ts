import { LOG_LIMITS, sanitizeForLog, sanitizeLogData } from '../logging/log-sanitizer.js';
import type { Logger, LogLevel } from '../logging/logger.js';
import { levelEnabled } from '../logging/logger.js';

/** Output format of the CLI's log lines. */
export type LogFormat = 'text' | 'json';

/**
 * A logger for the CLI: human text or JSON lines on stderr, filtered by level. The SDK never puts
 * secrets into log data. Every record is one line whoever calls it: the message and every string
 * in data are escaped and truncated again here (a no-op for what `safeLog` already cleaned).
 */
export function createCliLogger(options: { format: LogFormat; level: LogLevel; stream?: NodeJS.WritableStream; now?: () => Date }): Logger {
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? (() => new Date());
  return {
    log(level, message, data) {
      if (!levelEnabled(level, options.level)) return;
      const time = now().toISOString();
      const text = sanitizeForLog(message, LOG_LIMITS.messageChars);
      const fields = data === undefined ? undefined : sanitizeLogData(data);
      if (options.format === 'json') {
        stream.write(`${JSON.stringify({ time, level, message: text, ...(fields ?? {}) }, errorReplacer)}\n`);
        return;
      }
      const extra = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields, errorReplacer)}` : '';
      stream.write(`${time} ${level.toUpperCase().padEnd(5)} ${text}${extra}\n`);
    },
  };
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { name: value.name, message: value.message, ...(code !== undefined ? { code } : {}) };
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/** Parses a `--log-level` value. @throws TypeError on an unknown level */
export function parseLogLevel(value: string | undefined, fallback: LogLevel = 'info'): LogLevel {
  if (value === undefined) return fallback;
  if (value === 'error' || value === 'warn' || value === 'info' || value === 'debug') return value;
  throw new TypeError(`--log-level must be one of error, warn, info, debug (got "${value}")`);
}

/** Parses a `--log-format` value. @throws TypeError on an unknown format */
export function parseLogFormat(value: string | undefined): LogFormat {
  if (value === undefined || value === 'text') return 'text';
  if (value === 'json') return 'json';
  throw new TypeError(`--log-format must be text or json (got "${value}")`);
}
