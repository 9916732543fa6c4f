import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseContentRange } from '../../src/download/content-range.js';
import { judgeResponse } from '../../src/download/resume-rules.js';
import { MAX_RETRY_AFTER_MS, parseRetryAfterMs } from '../../src/download/retry-after.js';
import { RETRY_DEFAULTS, resolveRetryOptions, retryDelayMs, worstCaseRequestTimeoutMs } from '../../src/download/retry-options.js';
import { PART_SIZE_BYTES, Sha256Parts, verifyFileChecksums } from '../../src/download/sha256-parts.js';
import { randomFirmware } from './helpers.js';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('retry policy', () => {
  it('has nerves_hub_link’s defaults, frozen', () => {
    expect(RETRY_DEFAULTS).toEqual({
      maxDisconnects: 10,
      idleTimeoutMs: 60_000,
      maxTimeoutMs: 86_400_000,
      timeBetweenRetriesMs: 15_000,
      retryJitterRatio: 0.5,
      worstCaseBitsPerSecond: 30_000,
      maxRedirects: 5,
    });
    expect(Object.isFrozen(RETRY_DEFAULTS)).toBe(true);
    expect(resolveRetryOptions({ maxDisconnects: 3 }).maxDisconnects).toBe(3);
  });

  it('adds 0..50 % jitter', () => {
    expect(retryDelayMs(RETRY_DEFAULTS, () => 0)).toBe(15_000);
    expect(retryDelayMs(RETRY_DEFAULTS, () => 0.999999)).toBe(22_500);
  });

  it('computes the per-request limit like nerves_hub_link (bits per second, 300 s floor)', () => {
    expect(worstCaseRequestTimeoutMs(undefined, RETRY_DEFAULTS)).toBe(300_000);
    expect(worstCaseRequestTimeoutMs(1000, RETRY_DEFAULTS)).toBe(300_000);
    expect(worstCaseRequestTimeoutMs(100_000_000, RETRY_DEFAULTS)).toBe(Math.ceil(((100_000_000 * 8) / 30_000) * 1000));
  });

  it('parses Retry-After seconds and dates, capped to one hour', () => {
    expect(parseRetryAfterMs('120')).toBe(120_000);
    expect(parseRetryAfterMs(['3'])).toBe(3000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfterMs('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfterMs('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfterMs('999999')).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfterMs('soon')).toBeUndefined();
    expect(parseRetryAfterMs(undefined)).toBeUndefined();
  });

  it('parses Content-Range forms', () => {
    expect(parseContentRange('bytes 5-9/10')).toEqual({ start: 5, end: 9, total: 10 });
    expect(parseContentRange('bytes 5-9/*')).toEqual({ start: 5, end: 9 });
    expect(parseContentRange('bytes */10')).toEqual({ total: 10 });
    expect(parseContentRange('bytes 9-5/10')).toBeUndefined();
    expect(parseContentRange('items 1-2/3')).toBeUndefined();
  });
});

describe('Sha256Parts and verifyFileChecksums', () => {
  it('splits into 1 MiB parts however the bytes are chunked', () => {
    const data = randomFirmware(2 * PART_SIZE_BYTES + 10);
    const expected = [sha(data.subarray(0, PART_SIZE_BYTES)), sha(data.subarray(PART_SIZE_BYTES, 2 * PART_SIZE_BYTES)), sha(data.subarray(2 * PART_SIZE_BYTES))];
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: data.length }), { maxLength: 6 }), (cuts) => {
        const parts = new Sha256Parts();
        let at = 0;
        for (const cut of [...cuts, data.length].sort((a, b) => a - b)) {
          parts.update(data.subarray(at, cut));
          at = cut;
        }
        expect(parts.digest()).toEqual({ whole: sha(data), parts: expected });
      }),
      { seed: 7, numRuns: 15 },
    );
  });

  it('re-verifies a file on disk and names the bad part', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nhl-sha-'));
    try {
      const data = randomFirmware(PART_SIZE_BYTES + 100);
      const file = join(dir, 'fw.partial');
      writeFileSync(file, data);
      const partials = [sha(data.subarray(0, PART_SIZE_BYTES)), sha(data.subarray(PART_SIZE_BYTES))].map((s) => s.toUpperCase());
      expect(await verifyFileChecksums(file, { checksum: sha(data).toUpperCase(), partialsChecksums: partials })).toEqual({ ok: true, sizeBytes: data.length });
      data[PART_SIZE_BYTES + 5] = (data[PART_SIZE_BYTES + 5] ?? 0) ^ 1;
      writeFileSync(file, data);
      expect(await verifyFileChecksums(file, { partialsChecksums: partials })).toEqual({ ok: false, sizeBytes: data.length, reason: 'part', partIndex: 1 });
      expect(await verifyFileChecksums(file, { checksum: partials[0] ?? '' })).toMatchObject({ ok: false, reason: 'checksum' });
      expect(await verifyFileChecksums(file, { partialsChecksums: partials.slice(0, 1) })).toMatchObject({ ok: false, reason: 'part-count' });
      // The parts prove every byte: a whole-file checksum next to them adds nothing and is not used.
      writeFileSync(file, data.fill(7));
      const goodParts = [sha(data.subarray(0, PART_SIZE_BYTES)), sha(data.subarray(PART_SIZE_BYTES))];
      expect(await verifyFileChecksums(file, { partialsChecksums: goodParts, checksum: 'AB'.repeat(32) })).toEqual({ ok: true, sizeBytes: data.length });
      expect(await verifyFileChecksums(file, { checksum: 'AB'.repeat(32) })).toMatchObject({ ok: false, reason: 'checksum' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('resume rules (judgeResponse)', () => {
  const state = { position: 1000, delivered: 1000, total: 5000, etag: '"v1"' };
  const head = (status: number, headers: Record<string, string> = {}) => ({ status, headers });
  const judge = (h: ReturnType<typeof head>, s: Partial<typeof state> = {}) => judgeResponse(h, { ...state, ...s }, 'https://h/fw?…');

  it('accepts a 206 only when Content-Range starts at the requested byte of the same file', () => {
    expect(judge(head(206, { 'content-range': 'bytes 1000-4999/5000', 'content-length': '4000', etag: '"v1"' }))).toEqual({
      kind: 'body', skip: 0, restart: false, total: 5000, etag: '"v1"', length: 4000,
    });
    expect(judge(head(206, { 'content-range': 'bytes 999-4999/5000' }))).toMatchObject({ kind: 'fatal', error: { code: 'NH_DOWNLOAD_BAD_RANGE' } });
    expect(judge(head(206, {}))).toMatchObject({ kind: 'fatal', error: { code: 'NH_DOWNLOAD_BAD_RANGE' } });
    expect(judge(head(206, { 'content-range': 'bytes 1000-5999/6000' }))).toMatchObject({ kind: 'fatal', error: { code: 'NH_DOWNLOAD_BAD_RANGE' } });
    expect(judge(head(206, { 'content-range': 'bytes 0-9/10' }), { position: 0, delivered: 0 })).toMatchObject({ kind: 'fatal' });
  });

  it('skips the prefix of an unchanged 200, restarts when nothing was handed on, refuses to splice otherwise', () => {
    expect(judge(head(200, { 'content-length': '5000', etag: '"v1"' }))).toMatchObject({ kind: 'body', skip: 1000, restart: false });
    expect(judge(head(200, { 'content-length': '5000', etag: '"v2"' }))).toMatchObject({ kind: 'fatal', error: { code: 'NH_DOWNLOAD_BAD_RANGE' } });
    expect(judge(head(200, { 'content-length': '6000' }))).toMatchObject({ kind: 'fatal', error: { code: 'NH_DOWNLOAD_BAD_RANGE' } });
    expect(judge(head(200, { 'content-length': '6000', etag: '"v2"' }), { delivered: 0 })).toMatchObject({ kind: 'body', skip: 0, restart: true, total: 6000, etag: '"v2"' });
  });

  it('checks the size of a first 200 against the expected size', () => {
    expect(judge(head(200, { 'content-length': '10' }), { position: 0, delivered: 0 })).toMatchObject({ kind: 'fatal', error: { code: 'NH_DOWNLOAD_SIZE_MISMATCH' } });
    expect(judge(head(200, { 'content-length': '5000' }), { position: 0, delivered: 0 })).toMatchObject({ kind: 'body', skip: 0, total: 5000 });
  });

  it('classifies 416, 429/503, 403 and other statuses', () => {
    expect(judge(head(416, { 'content-range': 'bytes */1000' }))).toEqual({ kind: 'complete', total: 1000 });
    expect(judge(head(416, { 'content-range': 'bytes */900' }))).toMatchObject({ kind: 'fatal', error: { code: 'NH_DOWNLOAD_RANGE_NOT_SATISFIABLE', status: 416 } });
    expect(judge(head(429, { 'retry-after': '2' }))).toEqual({ kind: 'retry', message: 'the firmware host answered HTTP 429', retryAfterMs: 2000 });
    expect(judge(head(503))).toMatchObject({ kind: 'retry', retryAfterMs: undefined });
    expect(judge(head(403))).toMatchObject({ kind: 'fatal', error: { code: 'NH_DOWNLOAD_URL_EXPIRED', status: 403 } });
    const other = judge(head(500));
    expect(other).toMatchObject({ kind: 'fatal', error: { code: 'NH_DOWNLOAD_HTTP_STATUS', status: 500 } });
    expect(other.kind === 'fatal' && other.error.message).toBe('the firmware host answered HTTP 500 for https://h/fw?…');
  });
});
