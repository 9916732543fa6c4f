import { redactUrl } from './redact.js';

/**
 * Bounds applied to everything the SDK logs. Server-controlled text (a firmware UUID, a version,
 * an event name, a refusal reason) can be arbitrarily long and contain anything; these keep one
 * record to a few KiB whatever the server sends.
 */
export const LOG_LIMITS = Object.freeze({
  /** Longest log message, in characters after escaping. */
  messageChars: 2048,
  /** Longest string value in log data (a UUID is 36, a redacted URL rarely 200). */
  fieldChars: 1024,
  /** Longest `NervesHubError` message. */
  errorMessageChars: 2048,
  /** Keys kept per object in log data. */
  maxKeys: 32,
  /** Items kept per array in log data. */
  maxItems: 16,
  /** Nesting kept in log data; deeper values are summarised. */
  maxDepth: 4,
});

// C0 controls, DEL, C1 controls (U+0085 NEL, U+009B CSI…), Unicode line/paragraph separators,
// bidi embeddings/overrides/isolates ("Trojan Source"), and surrogates (checked for pairing below).
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]/;

function escapeUnit(code: number): string {
  if (code === 0x0a) return '\\n';
  if (code === 0x0d) return '\\r';
  if (code === 0x09) return '\\t';
  const hex = code.toString(16).padStart(code < 0x100 ? 2 : 4, '0');
  return code < 0x100 ? `\\x${hex}` : `\\u${hex}`;
}

function isHigh(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLow(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/**
 * Makes `value` safe to write into a log line: control characters (C0, DEL, C1, so every ANSI
 * escape sequence and every line break), Unicode line separators, bidi overrides and lone
 * surrogates become visible escapes (`\n`, `\x1b`, `\u009b`, `\ud800`), and text longer than
 * `maxLength` is cut and marked with its original length. Backslashes are kept as they are, so
 * sanitising twice gives the same string. The result is at most `maxLength` characters (for
 * `maxLength` ≥ 40).
 *
 * Use it for any text a server, a network peer or a firmware file chose, before putting it into
 * a log message of your own; the SDK does this for everything it logs.
 *
 * @param value - the text (anything else is converted with `String`)
 * @param maxLength - longest result, in UTF-16 code units; default {@link LOG_LIMITS}.fieldChars
 *
 * @example
 * ```ts
 * sanitizeForLog('1.0\n2026-01-01 [info] forged'); // '1.0\\n2026-01-01 [info] forged'
 * sanitizeForLog('x'.repeat(5000), 100);            // 'xxx…x…[truncated, 5000 chars]' (100 chars)
 * ```
 * @category Errors and logging
 */
export function sanitizeForLog(value: unknown, maxLength: number = LOG_LIMITS.fieldChars): string {
  const text = typeof value === 'string' ? value : safeString(value);
  if (text.length <= maxLength && !UNSAFE.test(text)) return text;
  const marker = `…[truncated, ${text.length} chars]`;
  const room = Math.max(0, maxLength - marker.length);
  let out = '';
  let short: string | undefined;
  for (let i = 0; i < text.length; ) {
    const code = text.charCodeAt(i);
    // a valid surrogate pair (emoji…) is kept whole and never split
    const step = isHigh(code) && i + 1 < text.length && isLow(text.charCodeAt(i + 1)) ? 2 : 1;
    const piece = step === 2 ? text.slice(i, i + 2) : UNSAFE.test(text[i]!) ? escapeUnit(code) : text[i]!;
    if (short === undefined && out.length + piece.length > room) short = out;
    if (out.length + piece.length > maxLength) return `${short ?? out}${marker}`;
    out += piece;
    i += step;
  }
  return out;
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return '<unprintable>';
  }
}

/**
 * Returns a copy of log `data` that is safe to print: every string is passed through
 * {@link sanitizeForLog}, objects and arrays are cut to {@link LOG_LIMITS} (keys, items, depth),
 * errors become `{ name, message, code }`, URLs are redacted and binary data is summarised.
 * @internal
 */
export function sanitizeLogData(data: Record<string, unknown>): Record<string, unknown> {
  return cleanObject(data, 0);
}

function cleanObject(value: object, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const keys = Object.keys(value);
  for (const key of keys.slice(0, LOG_LIMITS.maxKeys)) {
    out[sanitizeForLog(key, 64)] = cleanValue((value as Record<string, unknown>)[key], depth + 1);
  }
  if (keys.length > LOG_LIMITS.maxKeys) out['…'] = `${keys.length - LOG_LIMITS.maxKeys} more keys`;
  return out;
}

function cleanValue(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string':
      return sanitizeForLog(value, LOG_LIMITS.fieldChars);
    case 'number':
    case 'boolean':
    case 'bigint':
    case 'undefined':
      return value;
    case 'symbol':
    case 'function':
      return sanitizeForLog(safeString(value), 100);
  }
  if (value === null) return null;
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return {
      name: sanitizeForLog(value.name, 64),
      message: sanitizeForLog(value.message, LOG_LIMITS.fieldChars),
      ...(typeof code === 'string' || typeof code === 'number' ? { code: typeof code === 'string' ? sanitizeForLog(code, 64) : code } : {}),
    };
  }
  if (value instanceof URL) return sanitizeForLog(redactUrl(value), LOG_LIMITS.fieldChars);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `<${value.byteLength} bytes>`;
  if (depth >= LOG_LIMITS.maxDepth) return Array.isArray(value) ? `[array of ${value.length}]` : '[object]';
  if (Array.isArray(value)) {
    const items: unknown[] = value.slice(0, LOG_LIMITS.maxItems).map((item) => cleanValue(item, depth + 1));
    if (value.length > LOG_LIMITS.maxItems) items.push(`…[${value.length - LOG_LIMITS.maxItems} more]`);
    return items;
  }
  return cleanObject(value as object, depth);
}
