import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { AgentOptions, ClientRequest, ClientRequestArgs, IncomingMessage } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { ConnectionOptions } from 'node:tls';
import { NervesHubError } from '../errors.js';

type CreateConnectionCallback = (err: Error | null, socket: Duplex) => void;

/** Options of {@link createProxyAgent}. @internal */
export interface ProxyAgentOptions {
  /** `http://[user:pass@]host:port` of the proxy. */
  proxyUrl: URL;
  /** Whether the target is `wss://` (TLS inside the tunnel). */
  secure: boolean;
  /** Give up on the CONNECT after this long. */
  connectTimeoutMs: number;
}

/**
 * Opens `CONNECT host:port` on an HTTP proxy and hands the tunnel (TLS-wrapped for `wss://`, with
 * all of the request's TLS options, so server verification stays on) to the HTTP client.
 */
function connectThroughProxy(options: ProxyAgentOptions, target: ConnectionOptions & { host?: string; port?: number | string }, done: CreateConnectionCallback): void {
  const host = target.host ?? 'localhost';
  const port = Number(target.port ?? (options.secure ? 443 : 80));
  const authority = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const headers: Record<string, string> = { host: authority };
  const { proxyUrl } = options;
  if (proxyUrl.username || proxyUrl.password) {
    const credentials = `${decodeURIComponent(proxyUrl.username)}:${decodeURIComponent(proxyUrl.password)}`;
    headers['proxy-authorization'] = `Basic ${Buffer.from(credentials).toString('base64')}`;
  }
  let settled = false;
  const finish = (err: Error | null, socket?: Socket): void => {
    if (settled) {
      socket?.destroy();
      return;
    }
    settled = true;
    done(err, socket as Duplex);
  };
  const req: ClientRequest = httpRequest({
    host: proxyUrl.hostname.replace(/^\[|\]$/g, ''),
    port: Number(proxyUrl.port || 80),
    method: 'CONNECT',
    path: authority,
    headers,
    agent: false,
    timeout: options.connectTimeoutMs,
  });
  req.once('connect', (res: IncomingMessage, socket: Socket, head: Buffer) => {
    if (res.statusCode !== 200) {
      socket.destroy();
      finish(new NervesHubError('NH_SOCKET_PROXY', `the HTTP proxy refused CONNECT ${authority} with ${res.statusCode}: check the proxy URL and its credentials`));
      return;
    }
    if (head.length > 0) socket.unshift(head);
    if (!options.secure) {
      finish(null, socket);
      return;
    }
    const servername = target.servername ?? (/^[\d.]+$|:/.test(host) ? undefined : host);
    const tlsSocket = tlsConnect({ ...target, socket, ...(servername ? { servername } : {}) });
    finish(null, tlsSocket);
  });
  req.once('timeout', () => {
    req.destroy(Object.assign(new Error(`HTTP proxy CONNECT timed out after ${options.connectTimeoutMs} ms`), { code: 'ETIMEDOUT' }));
  });
  req.once('error', (err) => finish(err));
  req.end();
}

/**
 * An agent that tunnels every connection through an HTTP proxy with `CONNECT` (no extra
 * dependency). Keep-alive is off: one tunnel per websocket.
 * @internal
 */
export function createProxyAgent(options: ProxyAgentOptions): HttpAgent {
  const agentOptions: AgentOptions = { keepAlive: false };
  if (options.secure) {
    class ProxyHttpsAgent extends HttpsAgent {
      override createConnection(target: ClientRequestArgs, callback?: CreateConnectionCallback): undefined {
        connectThroughProxy(options, target as ConnectionOptions & { host?: string; port?: number }, callback ?? (() => {}));
        return undefined;
      }
    }
    return new ProxyHttpsAgent(agentOptions);
  }
  class ProxyHttpAgent extends HttpAgent {
    override createConnection(target: ClientRequestArgs, callback?: CreateConnectionCallback): undefined {
      connectThroughProxy(options, target as ConnectionOptions & { host?: string; port?: number }, callback ?? (() => {}));
      return undefined;
    }
  }
  return new ProxyHttpAgent(agentOptions);
}
