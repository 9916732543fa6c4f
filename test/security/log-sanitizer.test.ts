import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { createCliLogger } from '../../src/cli/cli-logger.js';
import { NervesHubError } from '../../src/errors.js';
import { LogRateLimiter, logTemplate } from '../../src/logging/log-rate-limiter.js';
import { LOG_LIMITS, sanitizeForLog, sanitizeLogData } from '../../src/logging/log-sanitizer.js';
import type { LogLevel } from '../../src/logging/logger.js';
import { safeLog } from '../../src/logging/logger.js';

/** Anything a terminal or a line-based log reader could act on. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function stringsOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([k, v]) => [k, ...stringsOf(v)]);
}

function recorder() {
  const records: { level: LogLevel; message: string; data?: Record<string, unknown> }[] = [];
  return { records, log: (level: LogLevel, message: string, data?: Record<string, unknown>) => void records.push({ level, message, data }) };
}

describe('sanitizeForLog', () => {
  it('leaves ordinary text (and emoji, and non-Latin scripts) exactly as it is', () => {
    for (const s of ['6e1f9c1e-3c2a-5f3b-9d4e-1a2b3c4d5e6f', 'version 1.2.3 — ok', 'Grüße 😀 日本語', 'C:\\path\\n']) {
      expect(sanitizeForLog(s)).toBe(s);
    }
  });

  it('escapes every C0 control, DEL and every C1 control', () => {
    expect(sanitizeForLog('a\nb\r\tc')).toBe('a\\nb\\r\\tc');
    expect(sanitizeForLog('\u0000\u0007\u0008\u000b\u000c\u001b\u001f')).toBe('\\x00\\x07\\x08\\x0b\\x0c\\x1b\\x1f');
    expect(sanitizeForLog('\u007f')).toBe('\\x7f');
    expect(sanitizeForLog('\u0085\u009b\u009f\u0080')).toBe('\\x85\\x9b\\x9f\\x80');
    for (let code = 0; code < 0xa0; code++) {
      if (code >= 0x20 && code < 0x7f) continue;
      const out = sanitizeForLog(`x${String.fromCharCode(code)}y`);
      expect(out, `U+${code.toString(16)}`).not.toMatch(UNSAFE);
      expect(out.startsWith('x\\') && out.endsWith('y')).toBe(true);
    }
  });

  it('neutralises ANSI CSI and OSC sequences (7-bit and 8-bit), line separators and bidi overrides', () => {
    expect(sanitizeForLog('\u001b[31mred\u001b[0m')).toBe('\\x1b[31mred\\x1b[0m');
    expect(sanitizeForLog('\u001b]0;pwned\u0007')).toBe('\\x1b]0;pwned\\x07');
    expect(sanitizeForLog('\u001b]8;;https://evil\u001b\\link\u001b]8;;\u001b\\')).not.toMatch(UNSAFE);
    expect(sanitizeForLog('\u009b2J')).toBe('\\x9b2J');
    expect(sanitizeForLog('a\u2028b\u2029c')).toBe('a\\u2028b\\u2029c');
    expect(sanitizeForLog('abc\u202edcba\u2066x\u2069')).toBe('abc\\u202edcba\\u2066x\\u2069');
  });

  it('escapes lone surrogates and keeps valid pairs', () => {
    expect(sanitizeForLog('a\ud800b')).toBe('a\\ud800b');
    expect(sanitizeForLog('\udc00')).toBe('\\udc00');
    expect(sanitizeForLog('\ud83d')).toBe('\\ud83d');
    expect(sanitizeForLog('\ude00\ud83d')).toBe('\\ude00\\ud83d');
    expect(sanitizeForLog('😀\n')).toBe('😀\\n');
  });

  it('truncates long text to maxLength with a marker that gives the original length', () => {
    const mb = 'u'.repeat(1024 * 1024);
    const out = sanitizeForLog(mb, 200);
    expect(out.length).toBeLessThanOrEqual(200);
    expect(out).toMatch(/^u+…\[truncated, 1048576 chars\]$/);
    expect(sanitizeForLog('x'.repeat(50), 50)).toBe('x'.repeat(50));
    expect(sanitizeForLog('x'.repeat(51), 50)).toBe(`${'x'.repeat(50 - '…[truncated, 51 chars]'.length)}…[truncated, 51 chars]`);
    // escapes count towards the length and are never cut in half; pairs are never split
    const escaped = sanitizeForLog('\n'.repeat(100), 60);
    expect(escaped.length).toBeLessThanOrEqual(60);
    expect(escaped).toMatch(/^(\\n)+…\[truncated, 100 chars\]$/);
    const emoji = sanitizeForLog('😀'.repeat(100), 61);
    expect(emoji).toMatch(/^(😀)+…\[truncated, 200 chars\]$/);
  });

  it('is bounded, safe and idempotent for any input (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), fc.integer({ min: 40, max: 300 }), (s, max) => {
        const once = sanitizeForLog(s, max);
        expect(once).not.toMatch(UNSAFE);
        expect(once.length).toBeLessThanOrEqual(max);
        expect(sanitizeForLog(once, max)).toBe(once);
      }),
      { seed: 8007, numRuns: 500 },
    );
  });
});

describe('sanitizeLogData', () => {
  it('cleans every string, bounds objects/arrays/depth, flattens errors and redacts URLs', () => {
    const deep = { a: { b: { c: { d: { e: 'too deep' } } } } };
    const out = sanitizeLogData({
      uuid: 'x\ny'.repeat(1000),
      list: Array.from({ length: 40 }, (_, i) => `item\u001b${i}`),
      error: Object.assign(new Error('boom\n2026-01-01 [info] forged'), { code: 'NH_X' }),
      url: new URL('https://user:pw@s3.example.com/fw.fw?X-Amz-Signature=secret'),
      bytes: new Uint8Array(1000),
      deep,
      n: 3,
      ok: true,
      none: null,
      ['k\u001b[31m']: 1,
    });
    const text = JSON.stringify(out);
    expect(stringsOf(out).join('')).not.toMatch(UNSAFE);
    expect(text).not.toContain('secret');
    expect(text).not.toContain('pw@');
    expect((out.uuid as string).length).toBeLessThanOrEqual(LOG_LIMITS.fieldChars);
    expect(out.list).toHaveLength(LOG_LIMITS.maxItems + 1);
    expect(out.error).toEqual({ name: 'Error', message: 'boom\\n2026-01-01 [info] forged', code: 'NH_X' });
    expect(out.url).toBe('https://s3.example.com/fw.fw?…');
    expect(out.bytes).toBe('<1000 bytes>');
    expect(JSON.stringify(out.deep)).toBe('{"a":{"b":{"c":"[object]"}}}');
    expect(out).toMatchObject({ n: 3, ok: true, none: null, 'k\\x1b[31m': 1 });
    const many = sanitizeLogData(Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i])));
    expect(Object.keys(many)).toHaveLength(LOG_LIMITS.maxKeys + 1);
  });
});

describe('NervesHubError messages', () => {
  it('are escaped and bounded whatever server text they quote', () => {
    const error = new NervesHubError('NH_TEST', `NervesHub says: ${'A'.repeat(1024 * 1024)}\n2026-01-01 [info] forged \u001b[31m`);
    expect(error.message.length).toBeLessThanOrEqual(LOG_LIMITS.errorMessageChars);
    expect(error.message).toMatch(/…\[truncated, \d+ chars\]$/);
    const short = new NervesHubError('NH_TEST', 'refused (reason\n2026-01-01 [info] forged \u001b[31m)');
    expect(short.message).toBe('refused (reason\\n2026-01-01 [info] forged \\x1b[31m)');
  });
});

describe('safeLog', () => {
  it('sanitises the message and the data of every record', () => {
    const logger = recorder();
    safeLog(logger, 'info', 'update \u001b[31mX\nforged', { uuid: 'a\nb', nested: { v: '\u009b2J' } });
    expect(logger.records).toEqual([{ level: 'info', message: 'update \\x1b[31mX\\nforged', data: { uuid: 'a\\nb', nested: { v: '\\x9b2J' } } }]);
  });

  it('rate-limits a storm of one template per logger, keeps other templates and debug, and never throws', () => {
    const logger = recorder();
    for (let i = 0; i < 1000; i++) safeLog(logger, 'warn', `dropped an invalid message (evil${i}): unknown event ${i}`);
    safeLog(logger, 'warn', 'something else');
    for (let i = 0; i < 20; i++) safeLog(logger, 'debug', `phoenix receive: ${i}`);
    expect(logger.records.filter((r) => r.message.startsWith('dropped an invalid message'))).toHaveLength(10);
    expect(logger.records.filter((r) => r.message === 'something else')).toHaveLength(1);
    expect(logger.records.filter((r) => r.level === 'debug')).toHaveLength(20);
    // another logger has its own budget
    const other = recorder();
    safeLog(other, 'warn', 'dropped an invalid message: x');
    expect(other.records).toHaveLength(1);
    expect(() => safeLog({ log: () => { throw new Error('broken'); } }, 'error', 'x', { get bad(): string { throw new Error('getter'); } })).not.toThrow();
  });
});

describe('LogRateLimiter', () => {
  it('writes perWindow records per template and window, then one summary with the suppressed count', () => {
    let now = 0;
    const summaries: { level: LogLevel; message: string; data: Record<string, unknown> }[] = [];
    const limiter = new LogRateLimiter((level, message, data) => summaries.push({ level, message, data }), { now: () => now, windowMs: 60_000, perWindow: 10 });
    const admitted = Array.from({ length: 1000 }, () => limiter.admit('warn', 'dropped an invalid message: frame is not JSON')).filter(Boolean).length;
    expect(admitted).toBe(10);
    expect(limiter.admit('error', 'dropped an invalid message: frame is not JSON')).toBe(true); // other level, other budget
    now = 59_999;
    expect(limiter.admit('warn', 'dropped an invalid message (x): y')).toBe(false);
    expect(summaries).toHaveLength(0);
    now = 60_000;
    expect(limiter.admit('warn', 'dropped an invalid message (x): y')).toBe(true); // a new window
    expect(summaries).toEqual([
      {
        level: 'warn',
        message: 'suppressed 991 similar warn records in the last 60 s: dropped an invalid message',
        data: { suppressed: 991, template: 'dropped an invalid message' },
      },
    ]);
    limiter.dispose();
  });

  it('writes the summary from a timer when the storm stops, and forgets the oldest templates beyond maxTemplates', async () => {
    const summaries: string[] = [];
    const limiter = new LogRateLimiter((_level, message) => summaries.push(message), { windowMs: 40, perWindow: 2, maxTemplates: 3 });
    for (let i = 0; i < 5; i++) limiter.admit('warn', 'storm: x');
    await new Promise((r) => setTimeout(r, 120));
    expect(summaries).toEqual(['suppressed 3 similar warn records in the last 0 s: storm']);
    for (const t of ['a', 'b', 'c', 'd']) limiter.admit('info', `${t}: 1`);
    expect(limiter.admit('info', 'a: again')).toBe(true); // "a" was evicted: a fresh window
    limiter.dispose();
  });

  it('derives the template from the text before any detail', () => {
    expect(logTemplate('dropped an invalid message (evil\nname): unknown event')).toBe('dropped an invalid message');
    expect(logTemplate('update failed')).toBe('update failed');
    expect(logTemplate('a listener of "x" threw; ignored')).toBe('a listener of');
    expect(logTemplate('downloading 42%')).toBe('downloading 42%');
  });
});

describe('the CLI logger', () => {
  it('writes one line per record in text and JSON, whatever the message or data holds', () => {
    for (const format of ['text', 'json'] as const) {
      let out = '';
      const stream = new Writable({ write: (chunk, _enc, done) => void ((out += String(chunk)), done()) });
      const logger = createCliLogger({ format, level: 'debug', stream, now: () => new Date(0) });
      logger.log('warn', 'update \n2026-01-01 [info] forged \u001b[31mred', { uuid: `${'u'.repeat(1024 * 1024)}\n`, reason: '\u009b2J' });
      const lines = out.split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[1]).toBe('');
      expect(lines[0]).not.toMatch(UNSAFE);
      expect(lines[0]!.length).toBeLessThan(4000);
      if (format === 'json') expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'warn', reason: '\\x9b2J' });
      else expect(lines[0]).toMatch(/^1970-01-01T00:00:00\.000Z WARN {2}update \\n2026-01-01 \[info\] forged \\x1b\[31mred \{"uuid":"u+…\[truncated, 1048577 chars\]","reason":"\\\\x9b2J"\}$/);
    }
  });
});
