import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

/**
 * Misbehaviour injected into the answers for one firmware file (to test resume, retries and
 * checksum handling). Every fault applies to each matching request until `times` is used up.
 *
 * @example
 * ```ts
 * server.firmware.setFaults('fw.fw', { cutAfterBytes: 65_536, times: 1 }); // first download drops, the resume succeeds
 * ```
 */
export interface FirmwareFaults {
  /** Close the socket after sending this many body bytes. */
  cutAfterBytes?: number;
  /** Stop sending (socket kept open) after this many body bytes. */
  stallAfterBytes?: number;
  /** Answer 200 with the full body even when a Range is asked. */
  ignoreRange?: boolean;
  /** Flip one byte (XOR 0xff) at this file offset in what is sent. */
  corruptByteAt?: number;
  /** 403 with body "Request has expired", like an expired S3 presigned URL. */
  expired?: boolean;
  /** Answer with this status (e.g. 429/503), with `Retry-After` when given. */
  status?: {
    /** HTTP status to answer. */
    code: number;
    /** `Retry-After` value in seconds, when set. */
    retryAfterSeconds?: number;
  };
  /**
   * Lie about the length: answer without `Content-Length` (chunked) and send this many body bytes
   * from the requested start: the file, then filler bytes (0x5a) past its end.
   */
  chunkedBodyBytes?: number;
  /** Answer every ranged request 416 (`Content-Range: bytes * /size`), as if the range started past the end. */
  rangeNotSatisfiable?: boolean;
  /** Apply the faults to this many requests, then serve normally (default: forever). */
  times?: number;
}

/**
 * One request the host saw.
 *
 * @example
 * ```ts
 * const ranged = server.firmware.requests.filter((r) => r.headers.range !== undefined);
 * expect(ranged[0]?.status).toBe(206);
 * ```
 */
export interface FirmwareRequestRecord {
  /** URL path, without the query. */
  path: string;
  /** HTTP method (`GET`, `HEAD`). */
  method: string;
  /** Request headers (e.g. `range`, `if-range`). */
  headers: Record<string, string | string[] | undefined>;
  /** Status the host answered. */
  status: number;
  /** `Date.now()` when the request arrived. */
  at: number;
}

interface FileEntry {
  kind: 'file';
  body: Uint8Array | { path: string };
  size: number;
  etag: string;
  signature: string;
  faults?: FirmwareFaults;
  faultedRequests: number;
}

interface RedirectEntry {
  kind: 'redirect';
  location: string;
  status: number;
}

const STREAM_CHUNK_BYTES = 64 * 1024;

/** Parses a single-range `Range` header against `size`; 'invalid' for forms the host ignores. */
function parseRange(value: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (value === undefined) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (match[2] !== '' && Number(match[2]) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

async function* readBody(body: Uint8Array | { path: string }, start: number, end: number): AsyncGenerator<Uint8Array> {
  if (end < start) return;
  if (body instanceof Uint8Array) {
    for (let at = start; at <= end; at += STREAM_CHUNK_BYTES) yield body.subarray(at, Math.min(end + 1, at + STREAM_CHUNK_BYTES));
    return;
  }
  yield* createReadStream(body.path, { start, end, highWaterMark: STREAM_CHUNK_BYTES }) as AsyncIterable<Buffer>;
}

/**
 * Serves firmware files the way S3 presigned URLs do (GET/HEAD, single byte ranges, ETag and
 * If-Range, signed-looking query), with injectable faults. Mount {@link FirmwareHost.handle} in any
 * node:http(s) server, or run it alone with {@link FirmwareHost.listen}.
 *
 * @example
 * ```ts
 * const { host, baseUrl, close } = await FirmwareHost.listen({ cert, key });
 * const url = baseUrl + host.add('fw.fw', bytes);
 * host.setFaults('fw.fw', { cutAfterBytes: 1000, times: 1 });
 * ```
 */
export class FirmwareHost {
  /** Every request that matched the path prefix, in arrival order. */
  readonly requests: FirmwareRequestRecord[] = [];
  readonly #prefix: string;
  readonly #entries = new Map<string, FileEntry | RedirectEntry>();
  readonly #open = new Set<ServerResponse>();

  /**
   * Creates an empty host; mount it with {@link FirmwareHost.handle} or use {@link FirmwareHost.listen}.
   *
   * @param options - `pathPrefix`: URL path prefix of hosted files (default `/firmware/`)
   */
  constructor(options: { pathPrefix?: string } = {}) {
    const prefix = options.pathPrefix ?? '/firmware/';
    this.#prefix = prefix.endsWith('/') ? prefix : `${prefix}/`;
  }

  /**
   * Publishes a file (bytes, or a file on disk streamed on demand). Returns its URL path with a
   * presigned-style query (`?X-Amz-…&X-Amz-Signature=…`); requests without that signature get 403.
   * Adding a name again replaces the file behind the same URL (new ETag, same signature).
   */
  add(name: string, body: Uint8Array | { path: string }, options: { etag?: string } = {}): string {
    const existing = this.#entries.get(name);
    const signature = existing?.kind === 'file' ? existing.signature : randomBytes(16).toString('hex');
    let size: number;
    let etag: string;
    if (body instanceof Uint8Array) {
      size = body.length;
      etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`;
    } else {
      const stat = statSync(body.path);
      size = stat.size;
      etag = `"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`;
    }
    this.#entries.set(name, { kind: 'file', body, size, etag: options.etag ?? etag, signature, faultedRequests: 0 });
    return `${this.#prefix}${encodeURIComponent(name)}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=86400&X-Amz-Signature=${signature}`;
  }

  /** Makes `name` answer with a redirect to `location` (absolute or relative). Returns its URL path. */
  addRedirect(name: string, location: string, options: { status?: number } = {}): string {
    this.#entries.set(name, { kind: 'redirect', location, status: options.status ?? 302 });
    return `${this.#prefix}${encodeURIComponent(name)}`;
  }

  /** Sets (or, with `undefined`, clears) the faults of a published file; resets the `times` count. */
  setFaults(name: string, faults: FirmwareFaults | undefined): void {
    const entry = this.#entries.get(name);
    if (entry?.kind !== 'file') throw new Error(`no firmware file named ${name}`);
    entry.faults = faults;
    entry.faultedRequests = 0;
  }

  /** Handles `req` when its path is under the prefix (returns true), else leaves it alone (false). */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://firmware.invalid');
    if (!url.pathname.startsWith(this.#prefix)) return false;
    const record: FirmwareRequestRecord = { path: url.pathname, method: req.method ?? '', headers: { ...req.headers }, status: 0, at: Date.now() };
    this.requests.push(record);
    const answer = (status: number, headers: Record<string, string | number> = {}, text?: string): true => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text ?? ''), ...headers });
      res.end(req.method === 'HEAD' ? undefined : text);
      return true;
    };
    let name: string;
    try {
      name = decodeURIComponent(url.pathname.slice(this.#prefix.length));
    } catch {
      return answer(400, {}, 'Bad path');
    }
    const entry = this.#entries.get(name);
    if (entry === undefined) return answer(404, {}, 'The specified key does not exist.');
    if (entry.kind === 'redirect') return answer(entry.status, { location: entry.location });
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(405, { allow: 'GET, HEAD' }, 'Method not allowed');
    if (url.searchParams.get('X-Amz-Signature') !== entry.signature) return answer(403, {}, 'SignatureDoesNotMatch');

    let faults: FirmwareFaults = {};
    if (entry.faults !== undefined && (entry.faults.times === undefined || entry.faultedRequests < entry.faults.times)) {
      entry.faultedRequests += 1;
      faults = entry.faults;
    }
    if (faults.expired) return answer(403, {}, 'Request has expired');
    if (faults.status !== undefined) {
      const retryAfter = faults.status.retryAfterSeconds;
      return answer(faults.status.code, retryAfter === undefined ? {} : { 'retry-after': retryAfter }, `HTTP ${faults.status.code}`);
    }

    const ifRange = req.headers['if-range'];
    const rangeAllowed = !faults.ignoreRange && (ifRange === undefined || ifRange === entry.etag);
    const range = !rangeAllowed ? undefined : faults.rangeNotSatisfiable && req.headers.range !== undefined ? 'unsatisfiable' : parseRange(req.headers.range, entry.size);
    const common = { 'accept-ranges': 'bytes', etag: entry.etag };
    if (range === 'unsatisfiable') return answer(416, { ...common, 'content-range': `bytes */${entry.size}` });
    const start = range?.start ?? 0;
    const end = range?.end ?? entry.size - 1;
    const status = range === undefined ? 200 : 206;
    record.status = status;
    const lying = faults.chunkedBodyBytes;
    res.writeHead(status, {
      ...common,
      'content-type': 'application/octet-stream',
      ...(lying === undefined ? { 'content-length': end - start + 1 } : {}),
      ...(range === undefined ? {} : { 'content-range': `bytes ${start}-${end}/${entry.size}` }),
    });
    if (req.method === 'HEAD') {
      res.end();
      return true;
    }
    this.#open.add(res);
    res.on('close', () => this.#open.delete(res));
    if (lying !== undefined) void this.#sendFiller(entry, res, start, lying);
    else void this.#send(entry, res, start, end, faults);
    return true;
  }

  async #send(entry: FileEntry, res: ServerResponse, start: number, end: number, faults: FirmwareFaults): Promise<void> {
    let sent = 0;
    const limit = Math.min(faults.cutAfterBytes ?? Infinity, faults.stallAfterBytes ?? Infinity);
    try {
      for await (const piece of readBody(entry.body, start, end)) {
        if (res.destroyed) return;
        let chunk = piece;
        const fileOffset = start + sent;
        const flip = faults.corruptByteAt;
        if (flip !== undefined && flip >= fileOffset && flip < fileOffset + chunk.length) {
          chunk = Buffer.from(chunk);
          chunk[flip - fileOffset] = (chunk[flip - fileOffset] ?? 0) ^ 0xff;
        }
        if (sent + chunk.length > limit) chunk = chunk.subarray(0, limit - sent);
        if (chunk.length > 0 && !(await this.#write(res, chunk))) return;
        sent += chunk.length;
        if (sent >= limit) break;
      }
      if (sent >= limit && sent < end - start + 1) {
        if (faults.cutAfterBytes !== undefined && sent >= faults.cutAfterBytes) {
          // Let the bytes leave before the socket goes away.
          await new Promise<void>((resolve) => setTimeout(resolve, 20));
          res.socket?.destroy();
        }
        return; // stalled: keep the socket open until the client or close() ends it
      }
      res.end();
    } catch {
      res.destroy();
    }
  }

  /** Sends `bytes` body bytes from `start` (the file, then filler), chunked; stops when the client goes away. */
  async #sendFiller(entry: FileEntry, res: ServerResponse, start: number, bytes: number): Promise<void> {
    const filler = Buffer.alloc(STREAM_CHUNK_BYTES, 0x5a);
    let sent = 0;
    try {
      for await (const piece of readBody(entry.body, start, Math.min(entry.size, start + bytes) - 1)) {
        if (!(await this.#write(res, piece))) return;
        sent += piece.length;
      }
      while (sent < bytes) {
        const piece = filler.subarray(0, Math.min(filler.length, bytes - sent));
        if (!(await this.#write(res, piece))) return;
        sent += piece.length;
      }
      res.end();
    } catch {
      res.destroy();
    }
  }

  /** Writes with back-pressure; false once the response is gone. */
  async #write(res: ServerResponse, chunk: Uint8Array): Promise<boolean> {
    if (res.destroyed) return false;
    if (!res.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    }
    return !res.destroyed;
  }

  /** Ends every response still being sent (stalled ones included). */
  destroyOpenResponses(): void {
    for (const res of this.#open) res.destroy();
    this.#open.clear();
  }

  /** Runs a standalone HTTPS firmware host on 127.0.0.1 with an ephemeral port. */
  static listen(options: { cert: string; key: string; host?: string; pathPrefix?: string }): Promise<ListeningFirmwareHost> {
    return serve(https.createServer({ cert: options.cert, key: options.key }), 'https', options);
  }

  /**
   * Runs a PLAIN-HTTP firmware host on 127.0.0.1, to test that http is refused (and, in lab
   * setups, `allowInsecureHttpDownloadsForTesting`). Never serve real firmware this way.
   */
  static listenInsecureHttp(options: { host?: string; pathPrefix?: string } = {}): Promise<ListeningFirmwareHost> {
    return serve(http.createServer(), 'http', options);
  }
}

/**
 * A {@link FirmwareHost} running on its own server ({@link FirmwareHost.listen}).
 *
 * @example
 * ```ts
 * const { host, baseUrl, close, connectionCount } = await FirmwareHost.listen({ cert, key });
 * ```
 */
export interface ListeningFirmwareHost {
  /** The firmware host; add files and faults to it. */
  host: FirmwareHost;
  /** `https://127.0.0.1:PORT` (`http://` for {@link FirmwareHost.listenInsecureHttp}). */
  baseUrl: string;
  /** TCP connections accepted so far (a failed TLS handshake never shows up in `host.requests`). */
  connectionCount(): number;
  /** Stops the server. */
  close(): Promise<void>;
}

async function serve(server: http.Server, scheme: 'http' | 'https', options: { host?: string; pathPrefix?: string }): Promise<ListeningFirmwareHost> {
  const host = new FirmwareHost({ pathPrefix: options.pathPrefix });
  let connections = 0;
  server.on('connection', () => (connections += 1));
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!host.handle(req, res)) {
      res.writeHead(404, { 'content-length': 0 });
      res.end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    host,
    baseUrl: `${scheme}://${options.host ?? '127.0.0.1'}:${port}`,
    connectionCount: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        host.destroyOpenResponses();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
