import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { Downloader } from '../../src/download/downloader.js';
import { openHttpRequest } from '../../src/download/http-connect.js';
import type { Http1Response } from '../../src/download/http1-response.js';
import { TestCertificateAuthority } from '../../src/testing/test-ca.js';

/**
 * The downloader reads responses itself (src/download/http1-response.ts): these tests talk to a
 * real TLS server on 127.0.0.1 that writes raw, sometimes hostile, HTTP/1.x responses.
 */
let caPem: string;
let server: tls.Server;
let port: number;
/** What the next connection answers: raw pieces written with a short pause between them, then end (or keep open). */
let script: { pieces: (string | Buffer)[]; keepOpen?: boolean } = { pieces: [] };
let lastRequest = '';

beforeAll(async () => {
  const ca = await TestCertificateAuthority.create();
  const cert = await ca.issueServerCertificate({ ipAddresses: ['127.0.0.1'] });
  caPem = ca.certPem;
  server = tls.createServer({ cert: cert.certPem, key: cert.keyPem }, (socket) => {
    let request = '';
    socket.on('error', () => undefined);
    socket.on('data', async (d: Buffer) => {
      request += d.toString('latin1');
      if (!request.includes('\r\n\r\n')) return;
      lastRequest = request;
      const { pieces, keepOpen } = script;
      for (const piece of pieces) {
        socket.write(piece);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      if (!keepOpen) socket.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const url = (): URL => new URL(`https://127.0.0.1:${port}/fw.fw?X-Amz-Signature=secret`);

/** Sends a GET and reads the whole response: its head, body, and how it ended. */
async function fetchRaw(pieces: (string | Buffer)[], method: 'GET' | 'HEAD' = 'GET'): Promise<{ res: Http1Response; body: Buffer; ended: boolean; error?: Error }> {
  script = { pieces };
  const handle = openHttpRequest(url(), { method, headers: { 'user-agent': 'test' }, ca: [caPem] });
  const res = await handle.response;
  const chunks: Buffer[] = [];
  let ended = false;
  let error: Error | undefined;
  await new Promise<void>((resolve) => {
    // A body chunk is a view of the socket's read buffer, valid only during the event: copy it.
    res.on('data', (c: Buffer) => chunks.push(Buffer.from(c)));
    res.on('end', () => (ended = true));
    res.on('error', (e: Error) => (error = e));
    res.on('close', () => resolve());
    res.resume();
  });
  handle.destroy();
  return { res, body: Buffer.concat(chunks), ended, ...(error ? { error } : {}) };
}

async function refused(pieces: (string | Buffer)[]): Promise<Error> {
  script = { pieces };
  const handle = openHttpRequest(url(), { method: 'GET', headers: {}, ca: [caPem] });
  try {
    const res = await handle.response;
    // A body-level failure: the response errors or closes without its end.
    return await new Promise<Error>((resolve) => {
      let ended = false;
      res.on('data', () => undefined);
      res.on('end', () => (ended = true));
      res.on('error', (e: Error) => resolve(e));
      res.on('close', () => resolve(new Error(ended ? 'ENDED' : 'closed without end')));
      res.resume();
    });
  } catch (error) {
    return error as Error;
  } finally {
    handle.destroy();
  }
}

describe('HTTP/1.1 responses read by the downloader', () => {
  it('sends one request line, Host, the headers and Connection: close; reads a Content-Length body split anywhere', async () => {
    const body = randomBytes(70_000);
    const raw = Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nETag: "a"\r\nETag: "b"\r\n\r\n`), body]);
    const { res, body: got, ended } = await fetchRaw([raw.subarray(0, 10), raw.subarray(10, 60), raw.subarray(60, 40_000), raw.subarray(40_000)]);
    expect(res.statusCode).toBe(200);
    expect(res.headers.etag).toBe('"a"'); // like Node: a duplicate ETag is discarded
    expect(got.equals(body)).toBe(true);
    expect(ended).toBe(true);
    expect(lastRequest).toMatch(/^GET \/fw\.fw\?X-Amz-Signature=secret HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\nuser-agent: test\r\nConnection: close\r\n\r\n$/);
  });

  it('reads chunked bodies (extensions, trailers) and close-delimited ones; skips 100 Continue', async () => {
    const chunked = await fetchRaw([
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n',
      '5;name=x\r\nhello\r\n',
      '6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n',
    ]);
    expect(chunked.res.statusCode).toBe(200);
    expect(chunked.body.toString()).toBe('hello world');
    expect(chunked.ended).toBe(true);
    const closed = await fetchRaw(['HTTP/1.1 200 OK\r\n\r\nuntil ', 'the end']);
    expect(closed.body.toString()).toBe('until the end');
    expect(closed.ended).toBe(true);
  });

  it('ends bodies that have none: HEAD, 204, Content-Length: 0', async () => {
    for (const [pieces, method] of [
      [['HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n'], 'HEAD'],
      [['HTTP/1.1 204 No Content\r\n\r\n'], 'GET'],
      [['HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'], 'GET'],
    ] as const) {
      const { body, ended } = await fetchRaw([...pieces], method);
      expect(body.length).toBe(0);
      expect(ended).toBe(true);
    }
  });

  it('a body cut short closes without `end` (the downloader resumes); bytes before the cut are kept', async () => {
    const { body, ended } = await fetchRaw(['HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n', 'x'.repeat(40)]);
    expect(body.length).toBe(40);
    expect(ended).toBe(false);
  });

  it('refuses what it cannot frame safely: both lengths, two lengths, folding, bad status, huge head, bad chunks, extra bytes', async () => {
    const cases: (string | Buffer)[][] = [
      ['HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'],
      ['HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!'],
      ['HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Long: a\r\n b\r\n\r\nhello'],
      ['HTTP/2 200\r\n\r\n'],
      ['ICY 200 OK\r\n\r\n'],
      [`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc'],
      ['HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n'],
      ['HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef'],
      ['HTTP/1.1 200 OK\r\nBad Header\r\n\r\n'],
    ];
    for (const pieces of cases) {
      const error = await refused(pieces);
      expect(error.message, JSON.stringify(pieces).slice(0, 80)).toMatch(/^invalid HTTP response: /);
    }
  });

  it('a connection closed before the head rejects the request', async () => {
    const error = await refused(['HTTP/1.1 200 OK\r\nContent-Le']);
    expect(error.message).toMatch(/closed before the response head/);
  });

  it('the Downloader refuses a configured header that could split the request', () => {
    expect(() => new Downloader({ headers: { 'x-a': 'b\r\nX-Injected: 1' } })).toThrow(/not a valid HTTP header/);
    expect(() => new Downloader({ headers: { 'bad name': 'b' } })).toThrow(/not a valid HTTP header/);
  });
});
