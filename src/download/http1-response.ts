import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';

/** Largest response head accepted (Node's own default `maxHeaderSize`). */
const MAX_HEAD_BYTES = 16 * 1024;
/** Body bytes kept for a caller that has not resumed the response yet, before the socket waits. */
const MAX_KEPT_BYTES = 1024 * 1024;
/** Largest chunk-size line of a chunked body (size, extensions, CRLF). */
const MAX_CHUNK_LINE_BYTES = 1024;
/** Headers a response may carry only once (a second, different value is refused, like llhttp). */
const SINGLE_VALUE = new Set(['content-length', 'transfer-encoding']);
/** Headers whose duplicates Node's `IncomingMessage` discards (the first value is kept): the same here. */
const FIRST_VALUE_WINS = new Set([
  'age', 'authorization', 'content-type', 'etag', 'expires', 'from', 'host', 'if-modified-since', 'if-unmodified-since',
  'last-modified', 'location', 'max-forwards', 'proxy-authorization', 'referer', 'retry-after', 'server', 'user-agent',
]);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * True for a header a request may carry as written: the name an HTTP token, the value free of CR,
 * LF and NUL (so no header can split the request).
 * @internal
 */
export function isValidHeader(name: string, value: unknown): boolean {
  return TOKEN.test(name) && typeof value === 'string' && !/[\r\n\0]/.test(value);
}

/** A response that is not HTTP/1.x, or whose framing cannot be trusted: the download fails on it. */
export class HttpProtocolError extends Error {
  readonly code = 'HPE_INVALID_RESPONSE';
  constructor(message: string) {
    super(`invalid HTTP response: ${message}`);
    this.name = 'HttpProtocolError';
  }
}

type Framing = { kind: 'length'; remaining: number } | { kind: 'chunked'; state: 'size' | 'data' | 'data-crlf' | 'trailers'; remaining: number } | { kind: 'close' } | { kind: 'none' };

/**
 * An HTTP/1.x response read straight from its socket, with the events and flow control the
 * downloader uses of Node's `IncomingMessage` (`data`, `end`, `error`, `close`, `pause`, `resume`).
 * A `data` event's chunk is a view of the socket's read buffer, valid only during the event (the
 * listener copies what it keeps, once, into the buffers it hands on): Node's HTTP client copies
 * every body chunk into a fresh buffer (≈ 0.15–0.2 s of CPU and 256 MiB of garbage per 256 MiB
 * firmware).
 * Content-Length, chunked and close-delimited bodies; anything ambiguous (both Content-Length and
 * Transfer-Encoding, two different lengths, a folded or malformed header) is refused.
 * @internal
 */
export class Http1Response extends EventEmitter {
  statusCode = 0;
  statusMessage = '';
  headers: IncomingHttpHeaders = {};
  readonly #socket: Duplex;
  #framing: Framing = { kind: 'none' };
  #paused = true;
  /** Body bytes received before the first resume(), handed on then. */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #started = false;
  /** Kept bytes were handed on: new ones go straight through. */
  #flowing = false;
  /** `end` was emitted. */
  #finished = false;
  /** The body was refused (the socket is being destroyed with the reason). */
  #failed = false;
  #closed = false;
  #error: Error | undefined;
  #chunkLine = '';

  /** @param socket - the connection, after the request was written; the response owns it from here */
  constructor(socket: Duplex) {
    super();
    this.#socket = socket;
  }

  /** Stops reading from the socket (back-pressure toward the server). */
  pause(): this {
    this.#paused = true;
    this.#socket.pause();
    return this;
  }

  /**
   * Reads from the socket again. The response starts paused, as the caller attaches its listeners
   * after the head arrived: body bytes that arrive before the first resume are kept (up to
   * {@link MAX_KEPT_BYTES}, then the socket waits), and handed on, or an empty body ended, on the
   * tick after it.
   */
  resume(): this {
    this.#paused = false;
    if (!this.#started) {
      this.#started = true;
      // Like a stream's resume(): what was kept flows on the next tick, not inside this call.
      process.nextTick(() => this.#flushKept());
      return this;
    }
    this.#socket.resume();
    return this;
  }

  /** Hands on what arrived before the first resume(), then the end or close seen meanwhile. */
  #flushKept(): void {
    const pending = this.#pending;
    this.#pending = [];
    this.#flowing = true;
    if (this.bodyComplete) this.#finish();
    for (const chunk of pending) this.feed(chunk);
    if (this.#closed) this.#afterClose();
    else if (!this.#paused) this.#socket.resume();
  }

  /** True while paused. */
  isPaused(): boolean {
    return this.#paused;
  }

  /** Sets the framing once the head is known (`head`: the request was HEAD); `first`: body bytes that came with the head. @internal */
  startBody(head: boolean, first: Buffer): void {
    if (first.length > 0) this.#pending.push(first);
    this.#pendingBytes = first.length;
    const status = this.statusCode;
    const te = this.headers['transfer-encoding'];
    const length = this.headers['content-length'];
    if (head || status === 204 || status === 304) {
      this.#framing = { kind: 'none' };
    } else if (te !== undefined) {
      if (length !== undefined) throw new HttpProtocolError('both Content-Length and Transfer-Encoding');
      const codings = String(te)
        .split(',')
        .map((c) => c.trim().toLowerCase());
      if (codings.at(-1) !== 'chunked' || codings.length !== 1) throw new HttpProtocolError(`unsupported Transfer-Encoding ${String(te)}`);
      this.#framing = { kind: 'chunked', state: 'size', remaining: 0 };
    } else if (length !== undefined) {
      if (!/^[0-9]{1,15}$/.test(String(length))) throw new HttpProtocolError('bad Content-Length');
      this.#framing = { kind: 'length', remaining: Number(length) };
    } else {
      this.#framing = { kind: 'close' };
    }
  }

  /** The body is complete before any byte (HEAD, 204, 304, or Content-Length: 0). @internal */
  get bodyComplete(): boolean {
    return this.#framing.kind === 'none' || (this.#framing.kind === 'length' && this.#framing.remaining === 0);
  }

  /** Feeds body bytes from the socket (copied and kept until the first resume()); `chunk` may be reused after the call. @internal */
  feed(chunk: Buffer): void {
    if (!this.#flowing) {
      // A copy: the socket reuses its read buffer.
      if (chunk.length > 0) this.#pending.push(Buffer.from(chunk));
      this.#pendingBytes += chunk.length;
      if (this.#pendingBytes > MAX_KEPT_BYTES) this.#socket.pause();
      return;
    }
    if (this.#failed) return;
    if (this.#finished) {
      if (chunk.length > 0) this.#fail(new HttpProtocolError('data after the end of the body'));
      return;
    }
    const framing = this.#framing;
    if (framing.kind === 'close') {
      if (chunk.length > 0) this.emit('data', chunk);
      return;
    }
    if (framing.kind === 'length') {
      if (chunk.length > framing.remaining) {
        this.#fail(new HttpProtocolError('more body than Content-Length'));
        return;
      }
      framing.remaining -= chunk.length;
      if (chunk.length > 0) this.emit('data', chunk);
      if (framing.remaining === 0) this.#finish();
      return;
    }
    if (framing.kind === 'chunked') this.#feedChunked(framing, chunk);
  }

  /** The socket ended (`error` undefined) or failed. @internal */
  socketClosed(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    if (error !== undefined && !this.#finished) this.#error ??= error;
    // Not read yet: told at the first resume(), after the bytes received before it.
    if (this.#flowing) this.#afterClose();
  }

  #afterClose(): void {
    if (!this.#finished && this.#error === undefined && this.#framing.kind === 'close') this.#finish();
    if (this.#error !== undefined && !this.#finished) this.#emitError(this.#error);
    this.emit('close');
  }

  /** Emits `error` if someone listens (the downloader always does while it reads). */
  #emitError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  #feedChunked(framing: Extract<Framing, { kind: 'chunked' }>, chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length && !this.#finished && !this.#failed) {
      if (framing.state === 'data') {
        const take = Math.min(framing.remaining, chunk.length - at);
        this.emit('data', chunk.subarray(at, at + take));
        framing.remaining -= take;
        at += take;
        if (framing.remaining === 0) framing.state = 'data-crlf';
        continue;
      }
      // A line: chunk size, the CRLF after a chunk's data, or a trailer line.
      const nl = chunk.indexOf(0x0a, at);
      const end = nl < 0 ? chunk.length : nl + 1;
      this.#chunkLine += chunk.toString('latin1', at, end);
      at = end;
      if (this.#chunkLine.length > MAX_CHUNK_LINE_BYTES) {
        this.#fail(new HttpProtocolError('chunk line too long'));
        return;
      }
      if (nl < 0) return;
      const line = this.#chunkLine.endsWith('\r\n') ? this.#chunkLine.slice(0, -2) : undefined;
      this.#chunkLine = '';
      if (line === undefined) {
        this.#fail(new HttpProtocolError('bare LF in a chunked body'));
        return;
      }
      if (framing.state === 'data-crlf') {
        if (line !== '') {
          this.#fail(new HttpProtocolError('missing CRLF after chunk data'));
          return;
        }
        framing.state = 'size';
      } else if (framing.state === 'size') {
        const size = /^([0-9A-Fa-f]{1,12})[ \t]*(;.*)?$/.exec(line);
        if (size === null) {
          this.#fail(new HttpProtocolError('bad chunk size'));
          return;
        }
        framing.remaining = Number.parseInt(size[1]!, 16);
        framing.state = framing.remaining === 0 ? 'trailers' : 'data';
      } else if (line === '') {
        this.#finish();
      }
    }
  }

  #finish(): void {
    this.#finished = true;
    this.emit('end');
  }

  #fail(error: Error): void {
    this.#failed = true;
    this.#error ??= error;
    this.#socket.destroy(error);
  }
}

/** Where a response head ends in `bytes` (index after the blank line), or -1. */
function headEnd(bytes: Buffer): number {
  const at = bytes.indexOf('\r\n\r\n', 0, 'latin1');
  return at < 0 ? -1 : at + 4;
}

/** Parses a response head (status line and headers, without the blank line). */
function parseHead(text: string, response: Http1Response): void {
  const lines = text.split('\r\n');
  const status = /^HTTP\/1\.[01] ([0-9]{3})(?: (.*))?$/.exec(lines[0] ?? '');
  if (status === null) throw new HttpProtocolError('bad status line');
  response.statusCode = Number(status[1]);
  response.statusMessage = status[2] ?? '';
  const headers: IncomingHttpHeaders = {};
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    if (line.startsWith(' ') || line.startsWith('\t')) throw new HttpProtocolError('folded header line');
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    if (colon <= 0 || !TOKEN.test(name)) throw new HttpProtocolError('bad header line');
    const value = line.slice(colon + 1).trim();
    if (/[\0\r\n]/.test(value)) throw new HttpProtocolError('bad header value');
    const previous = headers[name];
    if (previous === undefined) {
      headers[name] = name === 'set-cookie' ? [value] : value;
    } else if (SINGLE_VALUE.has(name)) {
      if (previous !== value) throw new HttpProtocolError(`two different ${name} headers`);
    } else if (FIRST_VALUE_WINS.has(name)) {
      continue;
    } else if (Array.isArray(previous)) {
      previous.push(value);
    } else {
      headers[name] = `${previous}, ${value}`;
    }
  }
  response.headers = headers;
}

/**
 * Reads the response to a request already written on `socket`: resolves once its head arrived
 * (1xx interim responses are skipped); body bytes then come as the response's `data` events.
 * Rejects if the connection fails or closes first, or the head is not valid HTTP/1.x.
 * @internal
 */
export function readHttp1Response(socket: Duplex, options: { head: boolean }): Promise<Http1Response> {
  const response = new Http1Response(socket);
  return new Promise<Http1Response>((resolve, reject) => {
    let buffered: Buffer = Buffer.alloc(0);
    let started = false;
    const onData = (chunk: Buffer): void => {
      if (started) {
        response.feed(chunk);
        return;
      }
      // Copies: the socket reuses its read buffer.
      buffered = buffered.length === 0 ? Buffer.from(chunk) : Buffer.concat([buffered, chunk]);
      for (;;) {
        const end = headEnd(buffered);
        if (end < 0) {
          if (buffered.length > MAX_HEAD_BYTES) socket.destroy(new HttpProtocolError('response head too large'));
          return;
        }
        if (end > MAX_HEAD_BYTES) {
          socket.destroy(new HttpProtocolError('response head too large'));
          return;
        }
        try {
          parseHead(buffered.toString('latin1', 0, end - 4), response);
        } catch (error) {
          socket.destroy(error as Error);
          return;
        }
        const rest = buffered.subarray(end);
        buffered = rest;
        // 1xx: an interim response; the real one follows.
        if (response.statusCode >= 100 && response.statusCode < 200) continue;
        try {
          response.startBody(options.head, Buffer.from(rest.buffer, rest.byteOffset, rest.length));
        } catch (error) {
          socket.destroy(error as Error);
          return;
        }
        started = true;
        buffered = Buffer.alloc(0);
        // Bytes until the caller's first resume() (its listeners are attached by then) are kept.
        resolve(response);
        return;
      }
    };
    socket.on('data', onData);
    socket.once('end', () => {
      if (started) response.socketClosed();
      else socket.destroy(new Error('connection closed before the response head'));
    });
    socket.once('close', () => {
      if (!started) reject(new Error('connection closed before the response head'));
      else response.socketClosed();
    });
    socket.on('error', (error: Error) => {
      if (!started) reject(error);
      else response.socketClosed(error);
    });
  });
}
