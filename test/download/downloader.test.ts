import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Downloader, type DownloaderOptions } from '../../src/download/downloader.js';
import { PART_SIZE_BYTES } from '../../src/download/sha256-parts.js';
import { DEFAULT_USER_AGENT } from '../../src/download/user-agent.js';
import type { LogLevel } from '../../src/logging/logger.js';
import { collect, quietBaseline, randomFirmware, rejection, settleHandles, startHost, type HostFixture } from './helpers.js';

const SIZE = 3 * PART_SIZE_BYTES + 512 * 1024 + 17; // 4 parts, the last one short
const FAST = { timeBetweenRetriesMs: 10, retryJitterRatio: 0, idleTimeoutMs: 2000 };

let fx: HostFixture;
let body: Buffer;
let partials: string[];
let checksum: string;
let url: string;
const NAME = 'fw.fw';

function sha(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function downloader(options: DownloaderOptions = {}): Downloader {
  return new Downloader({ ca: fx.caPem, ...options, retry: { ...FAST, ...options.retry } });
}

function ranges(): Array<string | undefined> {
  return fx.host.requests.map((r) => r.headers.range as string | undefined);
}

beforeAll(async () => {
  fx = await startHost();
  body = randomFirmware(SIZE);
  partials = [];
  for (let at = 0; at < SIZE; at += PART_SIZE_BYTES) partials.push(sha(body.subarray(at, at + PART_SIZE_BYTES)).toUpperCase());
  checksum = sha(body).toUpperCase();
});

afterAll(async () => {
  await fx.close();
});

beforeEach(() => {
  url = fx.baseUrl + fx.host.add(NAME, body);
  fx.host.setFaults(NAME, undefined);
  fx.host.requests.length = 0;
});

describe('Downloader over real HTTPS', () => {
  it('streams the file byte for byte with one request and the expected headers', async () => {
    const requests: Array<{ attempt: number; offset: number }> = [];
    const progress: number[] = [];
    const got = await collect(
      downloader().stream(url, { onRequest: (info) => requests.push(info), onProgress: (p) => progress.push(p.received) }),
    );
    expect(got.equals(body)).toBe(true);
    expect(requests).toEqual([{ attempt: 1, offset: 0 }]);
    expect(fx.host.requests).toHaveLength(1);
    const headers = fx.host.requests[0]?.headers ?? {};
    expect(headers['user-agent']).toBe(DEFAULT_USER_AGENT);
    expect(DEFAULT_USER_AGENT).toMatch(/^nerves-hub-link\/\d+\.\d+\.\d+/);
    expect(headers['x-retry-number']).toBe('0');
    expect(headers.range).toBeUndefined();
    expect(progress.at(-1)).toBe(SIZE);
  });

  it('resumes after cuts at three points with open-ended ranges and If-Range', async () => {
    const cuts = [700_001, PART_SIZE_BYTES, 1_200_000];
    const offsets: number[] = [];
    const got = await collect(
      downloader().stream(url, {
        onRequest: ({ attempt, offset }) => {
          offsets.push(offset);
          const cut = cuts[attempt - 1];
          fx.host.setFaults(NAME, cut === undefined ? undefined : { cutAfterBytes: cut, times: 1 });
        },
      }),
    );
    expect(got.equals(body)).toBe(true);
    const starts = [0, 700_001, 700_001 + PART_SIZE_BYTES, 700_001 + PART_SIZE_BYTES + 1_200_000];
    expect(offsets).toEqual(starts);
    expect(ranges()).toEqual([undefined, ...starts.slice(1).map((s) => `bytes=${s}-`)]);
    expect(fx.host.requests.map((r) => r.status)).toEqual([200, 206, 206, 206]);
    expect(fx.host.requests.map((r) => r.headers['x-retry-number'])).toEqual(['0', '1', '2', '3']);
    const ifRanges = new Set(fx.host.requests.slice(1).map((r) => r.headers['if-range']));
    expect(ifRanges.size).toBe(1);
    expect([...ifRanges][0]).toMatch(/^"[0-9a-f]{32}"$/);
  });

  it('resumes from a caller-supplied offset (cached partial file)', async () => {
    const got = await collect(downloader().stream(url, { offset: 123_457 }));
    expect(got.equals(body.subarray(123_457))).toBe(true);
    expect(ranges()).toEqual(['bytes=123457-']);
  });

  it('finishes without bytes when the offset already is the whole file (416)', async () => {
    const got = await collect(downloader().stream(url, { offset: SIZE }));
    expect(got.length).toBe(0);
    expect(fx.host.requests.map((r) => r.status)).toEqual([416]);
  });

  it('never splices when the server ignores Range: the 200 body prefix is skipped', async () => {
    const got = await collect(
      downloader().stream(url, {
        onRequest: ({ attempt }) => fx.host.setFaults(NAME, attempt === 1 ? { cutAfterBytes: 1_500_000, times: 1 } : { ignoreRange: true }),
      }),
    );
    expect(got.equals(body)).toBe(true);
    expect(fx.host.requests.map((r) => r.status)).toEqual([200, 200]);
    expect(ranges()).toEqual([undefined, 'bytes=1500000-']);
  });

  it('fails with NH_DOWNLOAD_BAD_RANGE instead of splicing when the file changed after bytes were handed on', async () => {
    const other = randomFirmware(SIZE);
    const error = await rejection(() =>
      collect(
        downloader().stream(url, {
          onRequest: ({ attempt }) => {
            if (attempt === 1) fx.host.setFaults(NAME, { cutAfterBytes: 1_000_000, times: 1 });
            else fx.host.add(NAME, other); // same URL, new ETag: If-Range mismatch → 200 of another file
          },
        }),
      ),
    );
    expect(error.code).toBe('NH_DOWNLOAD_BAD_RANGE');
    expect(error.received?.length).toBe(1_000_000);
    expect(error.received?.equals(body.subarray(0, 1_000_000))).toBe(true);
    expect(fx.host.requests.map((r) => r.status)).toEqual([200, 200]);
  });

  it('re-requests only a corrupted part when partial checksums are given', async () => {
    const flipAt = PART_SIZE_BYTES + 500_000;
    fx.host.setFaults(NAME, { corruptByteAt: flipAt, times: 1 });
    const got = await collect(downloader().stream(url, { partialsChecksums: partials, checksum, expectedSize: SIZE }));
    expect(got.equals(body)).toBe(true);
    expect(ranges()).toEqual([undefined, `bytes=${PART_SIZE_BYTES}-`]);
  });

  it('re-fetches a corrupted part even when the server then ignores Range', async () => {
    fx.host.setFaults(NAME, { corruptByteAt: 2 * PART_SIZE_BYTES + 9, times: 1 });
    const got = await collect(
      downloader().stream(url, {
        partialsChecksums: partials,
        checksum,
        onRequest: ({ attempt }) => {
          if (attempt === 2) fx.host.setFaults(NAME, { ignoreRange: true });
        },
      }),
    );
    expect(got.equals(body)).toBe(true);
    expect(ranges()).toEqual([undefined, `bytes=${2 * PART_SIZE_BYTES}-`]);
    expect(fx.host.requests.map((r) => r.status)).toEqual([200, 200]);
  });

  it('passes a corrupted byte through when no checksum is given (the verifier catches it later)', async () => {
    const flipAt = PART_SIZE_BYTES + 500_000;
    fx.host.setFaults(NAME, { corruptByteAt: flipAt });
    const got = await collect(downloader().stream(url));
    expect(got.length).toBe(SIZE);
    expect(got.equals(body)).toBe(false);
    expect(got[flipAt]).toBe((body[flipAt] ?? 0) ^ 0xff);
    got[flipAt] = body[flipAt] ?? 0;
    expect(got.equals(body)).toBe(true);
  });

  it('fails NH_DOWNLOAD_CHECKSUM_MISMATCH with a whole-file checksum only, before the last part is handed on', async () => {
    fx.host.setFaults(NAME, { corruptByteAt: 10 });
    const error = await rejection(() => collect(downloader().stream(url, { checksum })));
    expect(error.code).toBe('NH_DOWNLOAD_CHECKSUM_MISMATCH');
    expect(error.received?.length).toBe(3 * PART_SIZE_BYTES);
  });

  it('with partial checksums, the parts prove every byte; the whole-file checksum is not computed again', async () => {
    // Like nerves_hub_link's PartsUpdater: `checksum` is only the fallback when there are no partials.
    const stale = 'AB'.repeat(32);
    const got = await collect(downloader().stream(url, { partialsChecksums: partials, checksum: stale, expectedSize: SIZE }));
    expect(got.equals(body)).toBe(true);
    // A corrupt byte is still caught by its part, re-requested, and the result is exact.
    fx.host.setFaults(NAME, { corruptByteAt: SIZE - 3, times: 1 });
    const again = await collect(downloader().stream(url, { partialsChecksums: partials, checksum: stale, expectedSize: SIZE }));
    expect(again.length).toBe(body.length);
    expect(again.equals(body)).toBe(true);
    // A list that does not cover the file (one part missing) fails closed before the last part is handed on.
    const error = await rejection(() => collect(downloader().stream(url, { partialsChecksums: partials.slice(0, -1), checksum, expectedSize: SIZE })));
    expect(error.code).toBe('NH_DOWNLOAD_CHECKSUM_MISMATCH');
    expect(error.received?.length).toBeLessThan(SIZE);
  });

  it('gives up on a part after three checksum failures', async () => {
    fx.host.setFaults(NAME, { corruptByteAt: 2 * PART_SIZE_BYTES + 3 });
    const error = await rejection(() => collect(downloader().stream(url, { partialsChecksums: partials })));
    expect(error.code).toBe('NH_DOWNLOAD_CHECKSUM_MISMATCH');
    expect(error.received?.equals(body.subarray(0, 2 * PART_SIZE_BYTES))).toBe(true);
    expect(ranges()).toEqual([undefined, `bytes=${2 * PART_SIZE_BYTES}-`, `bytes=${2 * PART_SIZE_BYTES}-`]);
  });

  it('refuses partial checksums with a misaligned offset', async () => {
    const error = await rejection(() => collect(downloader().stream(url, { partialsChecksums: partials, offset: 10 })));
    expect(error.code).toBe('NH_INVALID_OPTIONS');
    expect(fx.host.requests).toHaveLength(0);
  });

  it('treats 403 as an expired URL, without retrying', async () => {
    fx.host.setFaults(NAME, { expired: true });
    const error = await rejection(() => collect(downloader().stream(url)));
    expect(error.code).toBe('NH_DOWNLOAD_URL_EXPIRED');
    expect(error.status).toBe(403);
    expect(error.message).toMatch(/expired.*403.*24 h/);
    expect(fx.host.requests).toHaveLength(1);
  });

  it('fails on 404 with the status', async () => {
    const error = await rejection(() => collect(downloader().stream(`${fx.baseUrl}/firmware/nope.fw`)));
    expect(error.code).toBe('NH_DOWNLOAD_HTTP_STATUS');
    expect(error.status).toBe(404);
    expect(fx.host.requests).toHaveLength(1);
  });

  it('honours Retry-After on 429', async () => {
    fx.host.setFaults(NAME, { status: { code: 429, retryAfterSeconds: 1 }, times: 1 });
    const got = await collect(downloader().stream(url));
    expect(got.equals(body)).toBe(true);
    const [first, second] = fx.host.requests;
    expect(first?.status).toBe(429);
    expect(second?.status).toBe(200);
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(1000);
  });

  it('retries a 503 after timeBetweenRetriesMs and counts it as a disconnect', async () => {
    fx.host.setFaults(NAME, { status: { code: 503 } });
    const error = await rejection(() => collect(downloader({ retry: { maxDisconnects: 2 } }).stream(url)));
    expect(error.code).toBe('NH_DOWNLOAD_MAX_DISCONNECTS');
    expect(fx.host.requests.map((r) => r.status)).toEqual([503, 503]);
  });

  it('resumes after a stall once idleTimeoutMs passes', async () => {
    fx.host.setFaults(NAME, { stallAfterBytes: 500_000, times: 1 });
    const started = Date.now();
    const got = await collect(downloader({ retry: { idleTimeoutMs: 750 } }).stream(url));
    expect(got.equals(body)).toBe(true);
    expect(ranges()).toEqual([undefined, 'bytes=500000-']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
  });

  it('stops after maxDisconnects failed attempts', async () => {
    fx.host.setFaults(NAME, { cutAfterBytes: 1000 });
    const error = await rejection(() => collect(downloader({ retry: { maxDisconnects: 3 } }).stream(url)));
    expect(error.code).toBe('NH_DOWNLOAD_MAX_DISCONNECTS');
    expect(fx.host.requests).toHaveLength(3);
    expect(ranges()).toEqual([undefined, 'bytes=1000-', 'bytes=2000-']);
    expect(error.received?.equals(body.subarray(0, 3000))).toBe(true);
  });

  it('stops at maxTimeoutMs', async () => {
    fx.host.setFaults(NAME, { stallAfterBytes: 1000 });
    const error = await rejection(() => collect(downloader({ retry: { maxTimeoutMs: 300, idleTimeoutMs: 10_000 } }).stream(url)));
    expect(error.code).toBe('NH_DOWNLOAD_MAX_TIMEOUT');
  });

  it('aborts at once and leaves no socket or timer behind', async () => {
    const baseline = await quietBaseline();
    fx.host.setFaults(NAME, { stallAfterBytes: 200_000 });
    const controller = new AbortController();
    const started = Date.now();
    let received = 0;
    const error = await rejection(async () => {
      for await (const chunk of downloader({ retry: { idleTimeoutMs: 60_000 } }).stream(url, { signal: controller.signal })) {
        received += chunk.length;
        if (received >= 100_000) setTimeout(() => controller.abort(), 50);
      }
    });
    expect(error.code).toBe('NH_DOWNLOAD_ABORTED');
    expect(Date.now() - started).toBeLessThan(5000);
    fx.host.destroyOpenResponses();
    expect(await settleHandles(baseline)).toBeLessThanOrEqual(baseline);
  });

  it('releases socket and timers on abort even when the consumer drops the generator', async () => {
    const baseline = await quietBaseline();
    const controller = new AbortController();
    const stream = downloader({ retry: { idleTimeoutMs: 60_000 } }).stream(url, { signal: controller.signal });
    const first = await stream.next();
    expect(first.done).toBe(false);
    controller.abort(); // and never touch `stream` again
    fx.host.destroyOpenResponses();

    expect(await settleHandles(baseline)).toBeLessThanOrEqual(baseline);
  });

  it('leaves nothing behind when the consumer stops early', async () => {
    const baseline = await quietBaseline();
    for await (const chunk of downloader().stream(url)) {
      expect(chunk.length).toBeGreaterThan(0);
      break;
    }
    fx.host.destroyOpenResponses();
    expect(await settleHandles(baseline)).toBeLessThanOrEqual(baseline);
  });

  it('follows relative and absolute redirects and resumes through them', async () => {
    const target = fx.host.add(NAME, body);
    const hop2 = fx.host.addRedirect('hop2', fx.baseUrl + target);
    const hop1 = fx.host.addRedirect('hop1', hop2, { status: 307 });
    fx.host.setFaults(NAME, { cutAfterBytes: 300_000, times: 1 });
    const got = await collect(downloader().stream(fx.baseUrl + hop1));
    expect(got.equals(body)).toBe(true);
    expect(fx.host.requests.map((r) => `${r.status} ${r.path}`)).toEqual([
      '307 /firmware/hop1',
      '302 /firmware/hop2',
      '200 /firmware/fw.fw',
      '307 /firmware/hop1',
      '302 /firmware/hop2',
      '206 /firmware/fw.fw',
    ]);
  });

  it('bounds redirect loops with NH_DOWNLOAD_TOO_MANY_REDIRECTS', async () => {
    fx.host.addRedirect('a', '/firmware/b');
    fx.host.addRedirect('b', '/firmware/a');
    const error = await rejection(() => collect(downloader({ retry: { maxRedirects: 4 } }).stream(`${fx.baseUrl}/firmware/a`)));
    expect(error.code).toBe('NH_DOWNLOAD_TOO_MANY_REDIRECTS');
    expect(fx.host.requests).toHaveLength(5);
  });

  it('never logs the signed query', async () => {
    const lines: Array<[LogLevel, string, unknown]> = [];
    const logger = { log: (level: LogLevel, message: string, data?: Record<string, unknown>) => lines.push([level, message, data]) };
    const hop = fx.host.addRedirect('hop-log', url);
    fx.host.setFaults(NAME, { cutAfterBytes: 400_000, times: 2 });
    await collect(downloader({ logger }).stream(`${fx.baseUrl}${hop}?token=secret-token`));
    const text = JSON.stringify(lines);
    expect(lines.length).toBeGreaterThanOrEqual(4);
    expect(text).toContain('/firmware/');
    expect(text).not.toContain('X-Amz-Signature');
    expect(text).not.toContain('secret-token');
    expect(text).not.toContain(new URL(url).searchParams.get('X-Amz-Signature') ?? 'unreachable');
  });

  it('rejects an untrusted server certificate at once', async () => {
    const error = await rejection(() => collect(new Downloader({ retry: { ...FAST, maxDisconnects: 5 } }).stream(url)));
    expect(error.code).toBe('NH_DOWNLOAD_TLS_UNTRUSTED');
    expect(String((error.cause as Error | undefined)?.message)).toMatch(/certificate/i);
    expect(fx.host.requests).toHaveLength(0);
  });

  it('tunnels https through an HTTP CONNECT proxy', async () => {
    const connects: string[] = [];
    const proxy = http.createServer((_req, res) => res.writeHead(405).end());
    proxy.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
      connects.push(req.url ?? '');
      const [host, port] = (req.url ?? '').split(':');
      const upstream = net.connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = proxy.address() as net.AddressInfo;
      const got = await collect(downloader({ proxy: `http://127.0.0.1:${port}` }).stream(url));
      expect(got.equals(body)).toBe(true);
      expect(connects).toEqual([new URL(url).host]);
    } finally {
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });

  it('refuses unusable URLs with NH_DOWNLOAD_BAD_REQUEST and options with NH_INVALID_OPTIONS', async () => {
    expect((await rejection(() => collect(downloader().stream('ftp://example.invalid/fw')))).code).toBe('NH_DOWNLOAD_BAD_REQUEST');
    expect((await rejection(() => collect(downloader().stream('not a url')))).code).toBe('NH_DOWNLOAD_BAD_REQUEST');
    expect(() => new Downloader({ retry: { idleTimeoutMs: -1 } })).toThrow(/idleTimeoutMs/);
    expect(() => new Downloader({ retry: { idleTimeoutMs: -1 } })).toThrow(expect.objectContaining({ code: 'NH_INVALID_OPTIONS' }));
    expect(() => new Downloader({ proxy: 'socks5://127.0.0.1:1080' })).toThrow(expect.objectContaining({ code: 'NH_INVALID_OPTIONS' }));
    expect(() => new Downloader({ maxBytesWhenSizeUnknown: 0 })).toThrow(expect.objectContaining({ code: 'NH_INVALID_OPTIONS' }));
    expect(() => new Downloader({ retry: { worstCaseBitsPerSecond: 0 } })).toThrow(/worstCaseBitsPerSecond/);
  });
});
