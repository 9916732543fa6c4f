import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Downloader } from '../../src/download/downloader.js';
import { collect, randomFirmware, startHost, type HostFixture } from './helpers.js';

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

let fx: HostFixture;
const body = randomFirmware(200_000);
let path: string;

function fetchRaw(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, ca: fx.caPem, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  fx = await startHost();
});

afterAll(async () => {
  await fx.close();
});

beforeEach(() => {
  path = fx.host.add('a.fw', body);
  fx.host.setFaults('a.fw', undefined);
  fx.host.requests.length = 0;
});

describe('FirmwareHost', () => {
  it('serves GET with length, ETag and Accept-Ranges, under a presigned-style URL', async () => {
    expect(path).toMatch(/^\/firmware\/a\.fw\?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=86400&X-Amz-Signature=[0-9a-f]{32}$/);
    const res = await fetchRaw(fx.baseUrl + path);
    expect(res.status).toBe(200);
    expect(res.body.equals(body)).toBe(true);
    expect(res.headers['content-length']).toBe(String(body.length));
    expect(res.headers['accept-ranges']).toBe('bytes');
    expect(res.headers.etag).toMatch(/^".+"$/);
    expect(fx.host.requests).toEqual([expect.objectContaining({ path: '/firmware/a.fw', method: 'GET', status: 200 })]);
  });

  it('answers HEAD with headers only', async () => {
    const res = await fetchRaw(fx.baseUrl + path, {}, 'HEAD');
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(body.length));
    expect(res.body.length).toBe(0);
  });

  it('serves open, closed and suffix ranges with 206 and Content-Range', async () => {
    const open = await fetchRaw(fx.baseUrl + path, { range: 'bytes=1000-' });
    expect(open.status).toBe(206);
    expect(open.headers['content-range']).toBe(`bytes 1000-${body.length - 1}/${body.length}`);
    expect(open.body.equals(body.subarray(1000))).toBe(true);
    const closed = await fetchRaw(fx.baseUrl + path, { range: 'bytes=10-19' });
    expect(closed.status).toBe(206);
    expect(closed.headers['content-range']).toBe(`bytes 10-19/${body.length}`);
    expect(closed.body.equals(body.subarray(10, 20))).toBe(true);
    const suffix = await fetchRaw(fx.baseUrl + path, { range: 'bytes=-5' });
    expect(suffix.body.equals(body.subarray(body.length - 5))).toBe(true);
    const unsatisfiable = await fetchRaw(fx.baseUrl + path, { range: `bytes=${body.length}-` });
    expect(unsatisfiable.status).toBe(416);
    expect(unsatisfiable.headers['content-range']).toBe(`bytes */${body.length}`);
  });

  it('honours If-Range: a stale validator gets the full 200', async () => {
    const etag = (await fetchRaw(fx.baseUrl + path, {}, 'HEAD')).headers.etag as string;
    expect((await fetchRaw(fx.baseUrl + path, { range: 'bytes=5-', 'if-range': etag })).status).toBe(206);
    const stale = await fetchRaw(fx.baseUrl + path, { range: 'bytes=5-', 'if-range': '"old"' });
    expect(stale.status).toBe(200);
    expect(stale.body.equals(body)).toBe(true);
  });

  it('refuses a wrong signature (403), unknown names (404) and other methods (405)', async () => {
    expect((await fetchRaw(`${fx.baseUrl}/firmware/a.fw?X-Amz-Signature=nope`)).status).toBe(403);
    expect((await fetchRaw(`${fx.baseUrl}/firmware/zzz.fw`)).status).toBe(404);
    expect((await fetchRaw(fx.baseUrl + path, {}, 'POST')).status).toBe(405);
    expect((await fetchRaw(`${fx.baseUrl}/other`)).status).toBe(404);
  });

  it('injects faults a limited number of times', async () => {
    fx.host.setFaults('a.fw', { expired: true, times: 1 });
    const expired = await fetchRaw(fx.baseUrl + path);
    expect(expired.status).toBe(403);
    expect(expired.body.toString()).toBe('Request has expired');
    expect((await fetchRaw(fx.baseUrl + path)).status).toBe(200);
    fx.host.setFaults('a.fw', { status: { code: 503, retryAfterSeconds: 7 } });
    const busy = await fetchRaw(fx.baseUrl + path);
    expect(busy.status).toBe(503);
    expect(busy.headers['retry-after']).toBe('7');
    fx.host.setFaults('a.fw', { ignoreRange: true, corruptByteAt: 3 });
    const ignored = await fetchRaw(fx.baseUrl + path, { range: 'bytes=100-' });
    expect(ignored.status).toBe(200);
    expect(ignored.body[3]).toBe((body[3] ?? 0) ^ 0xff);
    expect(Buffer.concat([ignored.body.subarray(0, 3), ignored.body.subarray(4)]).equals(Buffer.concat([body.subarray(0, 3), body.subarray(4)]))).toBe(true);
  });

  it('cuts the connection after the configured number of body bytes', async () => {
    fx.host.setFaults('a.fw', { cutAfterBytes: 1234 });
    const received = await new Promise<number>((resolve) => {
      let count = 0;
      https.get(fx.baseUrl + path, { ca: fx.caPem, agent: false }, (res) => {
        res.on('data', (c: Buffer) => (count += c.length));
        res.on('error', () => resolve(count));
        res.on('close', () => resolve(count));
      });
    });
    expect(received).toBe(1234);
  });

  it('streams a file from disk, ranges included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nhl-host-'));
    try {
      const file = join(dir, 'big.fw');
      const big = randomFirmware(5 * 1024 * 1024 + 3);
      writeFileSync(file, big);
      const bigPath = fx.host.add('big.fw', { path: file });
      const got = await collect(new Downloader({ ca: fx.caPem }).stream(fx.baseUrl + bigPath));
      expect(createHash('sha256').update(got).digest('hex')).toBe(createHash('sha256').update(big).digest('hex'));
      const tail = await fetchRaw(fx.baseUrl + bigPath, { range: 'bytes=5242000-5242009' });
      expect(tail.body.equals(big.subarray(5242000, 5242010))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
