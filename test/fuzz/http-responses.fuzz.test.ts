// A hostile firmware host: a raw HTTPS server (real TLS on 127.0.0.1, certificate from the test CA)
// answers the Downloader with fuzzed status codes, headers (Content-Length, Content-Range,
// Retry-After, Location, Transfer-Encoding) and truncated, garbled or over-long bodies, written
// byte for byte onto the socket so that even invalid HTTP goes out. After the scripted answers the
// host answers honestly, so a download that survives the script can finish.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DownloadError } from '../../src/download/download-error.js';
import { Downloader } from '../../src/download/downloader.js';
import { TestCertificateAuthority } from '../../src/testing/test-ca.js';
import { FUZZ_SEED, fuzzRuns, fuzzTimeoutMs, trapEscapes } from './fuzz-settings.js';

const SIZE = 40_000;
const FILE = randomBytes(SIZE);
const SHA256 = createHash('sha256').update(FILE).digest('hex');
/** Per download: the test fails as "hung" past this, well above the downloader's own bounds. */
const DEADLINE_MS = 20_000;

type Answer = {
  status: number;
  contentLength: 'right' | 'absent' | 'short' | 'long' | 'garbage';
  contentRange: 'right' | 'absent' | 'wrongStart' | 'wrongTotal' | 'garbage';
  retryAfter: 'none' | '0' | '1' | 'garbage' | 'huge';
  location: 'none' | 'self' | 'otherPath' | 'plainHttp' | 'garbage';
  chunked: boolean;
  body: 'right' | 'truncate' | 'garble' | 'extra' | 'empty';
  at: number;
};

const answerArb: fc.Arbitrary<Answer> = fc.record({
  status: fc.oneof(fc.constantFrom(200, 200, 206, 206, 301, 302, 303, 307, 308, 400, 403, 404, 410, 416, 429, 500, 502, 503), fc.integer({ min: 200, max: 599 })),
  contentLength: fc.constantFrom('right', 'right', 'absent', 'short', 'long', 'garbage'),
  contentRange: fc.constantFrom('right', 'right', 'absent', 'wrongStart', 'wrongTotal', 'garbage'),
  retryAfter: fc.constantFrom('none', 'none', '0', '1', 'garbage', 'huge'),
  location: fc.constantFrom('none', 'self', 'otherPath', 'plainHttp', 'garbage'),
  chunked: fc.boolean(),
  body: fc.constantFrom('right', 'right', 'truncate', 'garble', 'extra', 'empty'),
  at: fc.nat(SIZE),
});

interface Host {
  url: string;
  caPem: string;
  /** Scripted answers, one per request, then honest ones. */
  script: Answer[];
  requests: number;
  /** Requests that reached the plain-http lure (a downgrade). */
  plainRequests: number;
  close(): Promise<void>;
}

function rangeStart(header: string | undefined): number {
  const m = /^bytes=(\d+)-$/.exec(header ?? '');
  return m ? Math.min(Number(m[1]), SIZE) : 0;
}

function honest(start: number): Answer {
  return { status: start > 0 ? 206 : 200, contentLength: 'right', contentRange: 'right', retryAfter: 'none', location: 'none', chunked: false, body: 'right', at: 0 };
}

/** Writes `answer` for a request starting at `start` as raw bytes, then closes the connection. */
function writeAnswer(socket: Socket, answer: Answer, start: number, urls: { self: string; other: string; plain: string }): void {
  let body = FILE.subarray(start);
  if (answer.body === 'truncate') body = body.subarray(0, answer.at % (body.length + 1));
  else if (answer.body === 'garble' && body.length > 0) {
    body = Buffer.from(body);
    body[answer.at % body.length]! ^= 0x5a;
  } else if (answer.body === 'extra') body = Buffer.concat([body, randomBytes(1 + (answer.at % 5000))]);
  else if (answer.body === 'empty') body = Buffer.alloc(0);
  const remaining = SIZE - start;
  const headers: string[] = [`HTTP/1.1 ${answer.status} Fuzzed`, 'Connection: close', 'Content-Type: application/octet-stream'];
  const length = { right: String(remaining), short: String(Math.max(0, remaining - 1 - (answer.at % 100))), long: String(remaining + 1 + (answer.at % 100)), garbage: '12abc', absent: undefined }[answer.contentLength];
  if (length !== undefined && !answer.chunked) headers.push(`Content-Length: ${length}`);
  if (answer.chunked) headers.push('Transfer-Encoding: chunked');
  const range = {
    right: `bytes ${start}-${SIZE - 1}/${SIZE}`,
    wrongStart: `bytes ${(start + 1 + (answer.at % 1000)) % SIZE}-${SIZE - 1}/${SIZE}`,
    wrongTotal: `bytes ${start}-${SIZE - 1}/${SIZE * 2}`,
    garbage: 'bytes */*',
    absent: undefined,
  }[answer.contentRange];
  if (range !== undefined) headers.push(`Content-Range: ${range}`);
  const retryAfter = { none: undefined, '0': '0', '1': '1', garbage: 'soon', huge: '999999999' }[answer.retryAfter];
  if (retryAfter !== undefined) headers.push(`Retry-After: ${retryAfter}`);
  const location = { none: undefined, self: urls.self, otherPath: urls.other, plainHttp: urls.plain, garbage: 'ht!tp://[::' }[answer.location];
  if (location !== undefined) headers.push(`Location: ${location}`);
  socket.write(`${headers.join('\r\n')}\r\n\r\n`);
  if (answer.chunked) {
    const half = body.length >> 1;
    for (const part of [body.subarray(0, half), body.subarray(half)]) {
      if (part.length > 0) socket.write(Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')]));
    }
    if (answer.body !== 'truncate') socket.write('0\r\n\r\n');
  } else if (body.length > 0) socket.write(body);
  socket.end();
}

async function startHost(): Promise<Host> {
  const ca = await TestCertificateAuthority.create();
  const cert = await ca.issueServerCertificate();
  const sockets = new Set<Socket>();
  // The downgrade lure: plain http, honest bytes.
  const plain = http.createServer((req, res) => {
    host.plainRequests++;
    res.writeHead(200, { 'content-length': String(SIZE) }).end(FILE);
  });
  const server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    const answer = host.script[host.requests++] ?? honest(rangeStart(req.headers.range));
    const base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    writeAnswer(res.socket as Socket, answer, rangeStart(req.headers.range), {
      self: `${base}${req.url ?? '/fw'}`,
      other: `${base}/elsewhere/fw`,
      plain: `http://127.0.0.1:${(plain.address() as AddressInfo).port}/fw`,
    });
  });
  for (const s of [server, plain]) s.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await Promise.all([server, plain].map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))));
  const host: Host = {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/fw`,
    caPem: ca.certPem,
    script: [],
    requests: 0,
    plainRequests: 0,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await Promise.all([server, plain].map((s) => new Promise((resolve) => s.close(resolve))));
    },
  };
  return host;
}

/** One download against `script`: bytes, or the error; the largest byte count ever yielded. */
async function download(host: Host, script: Answer[], withChecksum = true): Promise<{ bytes?: Buffer; error?: unknown; yielded: number; ms: number }> {
  host.script = script;
  host.requests = 0;
  const downloader = new Downloader({
    ca: host.caPem,
    retry: { timeBetweenRetriesMs: 1, retryJitter: 0, idleTimeoutMs: 2_000, maxDisconnects: 6, maxTimeoutMs: 8_000, maxRedirects: 3 },
  });
  const started = Date.now();
  const chunks: Buffer[] = [];
  let yielded = 0;
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`download still running after ${DEADLINE_MS} ms`)), DEADLINE_MS);
  });
  const run = (async () => {
    for await (const chunk of downloader.stream(host.url, { expectedSize: SIZE, ...(withChecksum ? { checksum: SHA256 } : {}), signal: AbortSignal.timeout(10_000) })) {
      chunks.push(Buffer.from(chunk));
      yielded += chunk.length;
    }
  })();
  try {
    await Promise.race([run, hung]);
    return { bytes: Buffer.concat(chunks), yielded, ms: Date.now() - started };
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('download still running')) throw error;
    return { error, yielded, ms: Date.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

describe('fuzz: hostile HTTPS answers to the Downloader (seeded, bounded)', () => {
  let host: Host;
  const scripts = fc.array(answerArb, { minLength: 1, maxLength: 4 });
  beforeAll(async () => {
    host = await startHost();
  });
  afterAll(() => host.close());

  it(
    'yields exactly the firmware or rejects with a typed DownloadError, in bounded time, nothing escaping',
    async () => {
      const trap = trapEscapes();
      try {
        await fc.assert(
          fc.asyncProperty(scripts, async (script) => {
            const outcome = await download(host, script);
            if (outcome.error === undefined) {
              expect(outcome.bytes!.equals(FILE)).toBe(true);
            } else {
              expect(outcome.error).toBeInstanceOf(DownloadError);
              expect((outcome.error as DownloadError).code).toMatch(/^NH_DOWNLOAD_[A-Z_]+$/);
            }
            expect(trap.escaped).toEqual([]);
          }),
          { seed: FUZZ_SEED, numRuns: fuzzRuns(40) },
        );
      } finally {
        trap.remove();
      }
    },
    fuzzTimeoutMs(40, 500),
  );

  it(
    'never yields more bytes than the announced size, whatever the body (with a checksum)',
    async () => {
      const overLong = fc.array(answerArb.map((a) => ({ ...a, body: 'extra' as const })), { minLength: 1, maxLength: 2 });
      await fc.assert(
        fc.asyncProperty(overLong, async (script) => {
          const outcome = await download(host, script);
          expect(outcome.yielded).toBeLessThanOrEqual(SIZE);
        }),
        { seed: FUZZ_SEED, numRuns: fuzzRuns(20) },
      );
    },
    fuzzTimeoutMs(20, 500),
  );

  it(
    'never yields more bytes than the announced size, whatever the body (size only, no checksum)',
    async () => {
      const overLong = fc.array(answerArb.map((a) => ({ ...a, body: 'extra' as const })), { minLength: 1, maxLength: 2 });
      await fc.assert(
        fc.asyncProperty(overLong, async (script) => {
          const outcome = await download(host, script, false);
          expect(outcome.yielded).toBeLessThanOrEqual(SIZE);
        }),
        { seed: FUZZ_SEED, numRuns: fuzzRuns(20) },
      );
    },
    fuzzTimeoutMs(20, 500),
  );

  it(
    'never follows a redirect to plain http',
    async () => {
      const lure = fc.array(answerArb.map((a) => ({ ...a, status: 302, location: 'plainHttp' as const })), { minLength: 1, maxLength: 2 });
      await fc.assert(
        fc.asyncProperty(lure, async (script) => {
          const before = host.plainRequests;
          const outcome = await download(host, script);
          expect(host.plainRequests).toBe(before);
          if (outcome.error !== undefined) expect(outcome.error).toBeInstanceOf(DownloadError);
        }),
        { seed: FUZZ_SEED, numRuns: fuzzRuns(10) },
      );
    },
    fuzzTimeoutMs(10, 500),
  );
});
