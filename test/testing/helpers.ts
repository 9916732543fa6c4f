/** Raw `ws` / `node:https` clients for testing the NervesHubTestServer without the SDK socket. */
import { createHmac, pbkdf2Sync } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import WebSocket from 'ws';
import type { NervesHubTestServer } from '../../src/testing/index.js';

export interface RawClient {
  ws: WebSocket;
  /** Every parsed frame received, in order. */
  received: unknown[][];
  /** Text messages that were not JSON arrays (e.g. from `sendRaw`). */
  unparsed: string[];
  /** Resolves with the first received frame (past or future) matching `predicate`. */
  next(predicate: (frame: unknown[]) => boolean, timeoutMs?: number): Promise<unknown[]>;
  send(frame: unknown[]): void;
  closed: Promise<{ code: number; reason: string }>;
}

export interface RefusedUpgrade {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface ConnectOptions {
  path?: string;
  /** Query string without '?' (default `vsn=2.0.0`). */
  query?: string;
  cert?: string;
  key?: string;
  headers?: Record<string, string>;
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
}

/** Opens a WebSocket; resolves with a client, or rejects with a RefusedUpgrade / network Error. */
export function connect(server: NervesHubTestServer, options: ConnectOptions = {}): Promise<RawClient> {
  const url = `${server.url}${options.path ?? '/socket/websocket'}?${options.query ?? 'vsn=2.0.0'}`;
  const ws = new WebSocket(url, {
    ca: server.serverCaPem,
    cert: options.cert,
    key: options.key,
    headers: options.headers,
    maxVersion: options.maxVersion,
  } as WebSocket.ClientOptions);
  const received: unknown[][] = [];
  const unparsed: string[] = [];
  const listeners = new Set<() => void>();
  ws.on('message', (data) => {
    const text = String(data);
    try {
      const value: unknown = JSON.parse(text);
      if (Array.isArray(value)) received.push(value);
      else unparsed.push(text);
    } catch {
      unparsed.push(text);
    }
    for (const l of [...listeners]) l();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  const client: RawClient = {
    ws,
    received,
    unparsed,
    closed,
    send: (frame) => ws.send(JSON.stringify(frame)),
    next: (predicate, timeoutMs = 3000) =>
      new Promise((resolve, reject) => {
        const check = (): boolean => {
          const hit = received.find(predicate);
          if (hit) {
            listeners.delete(check as () => void);
            clearTimeout(timer);
            resolve(hit);
            return true;
          }
          return false;
        };
        const timer = setTimeout(() => {
          listeners.delete(check as () => void);
          reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(received)}`));
        }, timeoutMs);
        if (!check()) listeners.add(check as () => void);
      }),
  };
  return new Promise((resolve, reject) => {
    ws.on('open', () => resolve(client));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        reject(Object.assign(new Error(`upgrade refused ${res.statusCode}`), { refused: { status: res.statusCode ?? 0, headers: res.headers, body } satisfies RefusedUpgrade }));
        ws.terminate();
      });
    });
    ws.on('error', (err) => reject(err));
  });
}

/** Expects the upgrade to be refused at HTTP level and returns the answer. */
export async function expectRefused(server: NervesHubTestServer, options: ConnectOptions = {}): Promise<RefusedUpgrade> {
  try {
    const client = await connect(server, options);
    client.ws.terminate();
  } catch (err) {
    const refused = (err as { refused?: RefusedUpgrade }).refused;
    if (refused) return refused;
    throw err;
  }
  throw new Error('upgrade was accepted');
}

/** Plain HTTPS GET against the server. */
export function httpsGet(server: NervesHubTestServer, path: string): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = https.get(`${server.httpsUrl}${path}`, { ca: server.serverCaPem, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
  });
}

/**
 * A tiny NH1 signer written for the tests only (independent of the SDK and of the server):
 * ETF `{binary, signed_at_ms, 86400}` signed as a Plug.Crypto HS256 token.
 */
export function signNh1(input: { key: string; secret: string; identifier: string; timeSeconds: number; alg?: string; etf?: Buffer }): Record<string, string> {
  const alg = input.alg ?? 'NH1-HMAC-sha256-1000-32';
  const [, , digest = 'sha256', iterations = '1000', length = '32'] = alg.split('-');
  const salt = `NH1:device-socket:shared-secret:connect\n\nx-nh-alg=${alg}\nx-nh-key=${input.key}\nx-nh-time=${input.timeSeconds}\n`;
  const derived = pbkdf2Sync(input.secret, salt, Number(iterations), Number(length), digest.toLowerCase());
  const etf = input.etf ?? etfIdentityTuple(input.identifier, input.timeSeconds * 1000, 86400);
  const signingInput = `SFMyNTY.${etf.toString('base64url')}`;
  const mac = createHmac('sha256', derived).update(signingInput).digest('base64url');
  return { 'x-nh-alg': alg, 'x-nh-key': input.key, 'x-nh-time': String(input.timeSeconds), 'x-nh-signature': `${signingInput}.${mac}` };
}

/** ETF bytes of `{identifier, signedAtMs, maxAge}` (binary, small big, integer). */
export function etfIdentityTuple(identifier: string, signedAtMs: number, maxAge: number): Buffer {
  const id = Buffer.from(identifier, 'utf8');
  const big: number[] = [];
  for (let v = BigInt(signedAtMs); v > 0n; v >>= 8n) big.push(Number(v & 0xffn));
  const head = Buffer.from([131, 104, 3, 109, 0, 0, 0, 0]);
  head.writeUInt32BE(id.length, 4);
  const age = Buffer.alloc(5);
  age[0] = 98;
  age.writeInt32BE(maxAge, 1);
  return Buffer.concat([head, id, Buffer.from([110, big.length, 0, ...big]), age]);
}

/** Waits until `check` returns true (polling every 10 ms). */
export async function eventually(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
