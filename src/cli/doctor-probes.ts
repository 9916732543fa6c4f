/**
 * The network probes of `nerves-hub-link doctor`: one TCP connect, one TLS handshake followed by a
 * plain HTTP request (does the server keep a session with our certificate?), one WebSocket upgrade.
 * Each settles within its timeout and leaves no socket behind. Failures are mapped with the
 * socket's own `describeAttemptFailure`, so doctor and the agent explain errors the same way.
 */
import { randomBytes } from 'node:crypto';
import type { Agent, IncomingHttpHeaders } from 'node:http';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { connect as netConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { NervesHubError } from '../errors.js';
import { SocketErrorCodes } from '../socket/connect-errors.js';
import type { FailureContext } from '../socket/connect-errors.js';
import { describeAttemptFailure } from '../socket/connect-errors.js';

/** Where a probe connects. */
export interface ProbeTarget {
  host: string;
  port: number;
  /** `wss://` (TLS) or `ws://` (development only). */
  secure: boolean;
  timeoutMs: number;
}

/** Outcome of a probe: ok with facts, or the mapped error. */
export type ProbeResult<T> = { ok: true; value: T } | { ok: false; error: NervesHubError };

function timeoutError(what: string, ms: number): Error & { code: string } {
  return Object.assign(new Error(`${what} timed out after ${ms} ms`), { code: 'ETIMEDOUT' });
}

/** Opens and closes one TCP connection. */
export function probeTcp(target: ProbeTarget, ctx: FailureContext): Promise<ProbeResult<{ address: string }>> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: target.host, port: target.port });
    const timer = setTimeout(() => socket.destroy(timeoutError('TCP connect', target.timeoutMs)), target.timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      const address = `${socket.remoteAddress ?? target.host}:${socket.remotePort ?? target.port}`;
      socket.destroy();
      resolve({ ok: true, value: { address } });
    });
    socket.once('error', (error: Error & { code?: string }) => {
      clearTimeout(timer);
      resolve({ ok: false, error: describeAttemptFailure({ kind: 'network', error, pastKeyExchange: false }, ctx) });
    });
  });
}

/** Facts of a completed TLS session. */
export interface TlsFacts {
  protocol: string;
  cipher: string;
  serverSubject: string;
  serverIssuer: string;
  /** HTTP status of the answer that proved the server kept the session. */
  httpStatus: number;
  /** The server's clock from its `Date` header (Unix ms), when it sent one. */
  serverDateMs: number | undefined;
}

/**
 * TLS handshake with the options the socket would use (through the proxy's tunnel when `agent`
 * is given), then `GET /status/alive`: a server that judges the client certificate after the
 * handshake (TLS 1.3, or a verify step that closes the connection) shows it by answering nothing.
 */
export function probeTls(target: ProbeTarget, tlsOptions: ConnectionOptions, ctx: FailureContext, agent?: Agent): Promise<ProbeResult<TlsFacts>> {
  return new Promise((resolve) => {
    let handshakeDone = false;
    let settled = false;
    const settle = (result: ProbeResult<TlsFacts>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(result);
    };
    const req = httpsRequest({ ...tlsOptions, host: target.host, port: target.port, path: '/status/alive', method: 'GET', agent: agent ?? false });
    const timer = setTimeout(() => req.destroy(timeoutError(handshakeDone ? 'waiting for an HTTP answer' : 'TLS handshake', target.timeoutMs)), target.timeoutMs);
    req.once('socket', (socket) => watchHandshake(socket, () => (handshakeDone = true)));
    req.once('response', (res) => {
      const socket = res.socket as TLSSocket;
      const cert = socket.getPeerCertificate();
      res.resume();
      settle({
        ok: true,
        value: {
          protocol: socket.getProtocol() ?? '?',
          cipher: socket.getCipher()?.name ?? '?',
          serverSubject: cert?.subject?.CN ? `CN=${String(cert.subject.CN)}` : '?',
          serverIssuer: cert?.issuer?.CN ? `CN=${String(cert.issuer.CN)}` : '?',
          httpStatus: res.statusCode ?? 0,
          serverDateMs: parseHttpDate(res.headers.date),
        },
      });
    });
    req.once('error', (error: Error & { code?: string }) => {
      settle({ ok: false, error: describeAttemptFailure({ kind: 'network', error, pastKeyExchange: handshakeDone }, ctx) });
    });
    req.end();
  });
}

function parseHttpDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * Notes when the handshake got past the key exchange: the server took its part and has our
 * certificate, so a drop from then on is the server refusing the certificate, not the network
 * (as the socket judges it). Only the fact is kept: the keylog line is key material.
 */
function watchHandshake(socket: Socket | Duplex, onPastKeyExchange: () => void): void {
  socket.once('secureConnect', onPastKeyExchange);
  socket.once('keylog', onPastKeyExchange);
}

/** The server's answer to the WebSocket upgrade. */
export interface UpgradeFacts {
  status: number;
  headers: IncomingHttpHeaders;
}

/**
 * Sends the device socket's WebSocket upgrade (`vsn=2.0.0`, NH1 headers when given) and reports the
 * answer: 101 is ok; any other status is mapped like the socket maps it (401 + reason, 403, 503…).
 */
export function probeUpgrade(
  target: ProbeTarget,
  path: string,
  tlsOptions: ConnectionOptions,
  headers: Record<string, string>,
  ctx: FailureContext,
  agent?: Agent,
): Promise<ProbeResult<UpgradeFacts>> {
  return new Promise((resolve) => {
    let handshakeDone = false;
    let settled = false;
    const settle = (result: ProbeResult<UpgradeFacts>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(result);
    };
    const request = target.secure ? httpsRequest : httpRequest;
    const req = request({
      ...(target.secure ? tlsOptions : {}),
      host: target.host,
      port: target.port,
      path,
      method: 'GET',
      agent: agent ?? false,
      headers: {
        ...headers,
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
      },
    });
    const timer = setTimeout(() => req.destroy(timeoutError('WebSocket upgrade', target.timeoutMs)), target.timeoutMs);
    req.once('socket', (socket) => watchHandshake(socket, () => (handshakeDone = true)));
    req.once('upgrade', (res, socket) => {
      socket.destroy();
      settle({ ok: true, value: { status: res.statusCode ?? 101, headers: res.headers } });
    });
    req.once('response', (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      settle({ ok: false, error: describeAttemptFailure({ kind: 'http', status, headers: res.headers }, ctx) });
    });
    req.once('error', (error: Error & { code?: string }) => {
      settle({ ok: false, error: describeAttemptFailure({ kind: 'network', error, pastKeyExchange: handshakeDone }, ctx) });
    });
    req.end();
  });
}

/** Rejects with `NH_SOCKET_CONNECT` ("… timed out after N ms") when `promise` has not settled after `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new NervesHubError(SocketErrorCodes.connect, `${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
