import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';

/** What {@link openHttpRequest} needs besides the URL. */
export interface HttpRequestSpec {
  method: 'GET' | 'HEAD';
  headers: Record<string, string>;
  /** Extra trusted CAs (PEM or DER) for https. */
  ca?: Array<string | Buffer>;
  /** HTTP proxy; https targets are tunnelled through `CONNECT`. */
  proxy?: URL;
}

/** A request in flight: its response (headers received) and a way to tear it down. */
export interface OpenHttpRequest {
  response: Promise<IncomingMessage>;
  /** Destroys the request, its tunnel and response; idempotent. */
  destroy(error?: Error): void;
}

function bareHost(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

function defaultPort(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

/**
 * Sends one request without connection reuse (`agent: false`), so nothing stays open after it.
 * Never follows redirects; the caller decides.
 */
export function openHttpRequest(url: URL, spec: HttpRequestSpec): OpenHttpRequest {
  const requests: ClientRequest[] = [];
  let destroyed: Error | undefined;
  let rejectResponse: (error: Error) => void = () => {};
  const destroy = (error?: Error): void => {
    destroyed ??= error ?? new Error('request destroyed');
    for (const request of requests) request.destroy(destroyed);
    rejectResponse(destroyed);
  };
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    rejectResponse = reject;
    const host = bareHost(url.hostname);
    const port = defaultPort(url);
    const path = `${url.pathname}${url.search}`;
    const track = (request: ClientRequest): ClientRequest => {
      requests.push(request);
      request.on('error', reject);
      if (destroyed) request.destroy(destroyed);
      return request;
    };
    const tlsOptions = { ca: spec.ca, servername: net.isIP(host) ? undefined : host };

    if (spec.proxy === undefined) {
      const module = url.protocol === 'https:' ? https : http;
      const request = track(module.request({ host, port, path, method: spec.method, headers: spec.headers, agent: false, ...(url.protocol === 'https:' ? tlsOptions : {}) }));
      request.on('response', resolve);
      request.end();
      return;
    }

    const proxyHost = bareHost(spec.proxy.hostname);
    const proxyPort = defaultPort(spec.proxy);
    if (url.protocol === 'http:') {
      // Plain HTTP through a proxy: absolute-form request target.
      const request = track(http.request({ host: proxyHost, port: proxyPort, path: url.href, method: spec.method, headers: { ...spec.headers, host: url.host }, agent: false }));
      request.on('response', resolve);
      request.end();
      return;
    }
    const authority = `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
    const connect = track(http.request({ host: proxyHost, port: proxyPort, method: 'CONNECT', path: authority, headers: { host: authority }, agent: false }));
    connect.on('connect', (proxyResponse: IncomingMessage, socket: net.Socket) => {
      if (proxyResponse.statusCode !== 200) {
        socket.destroy();
        reject(new Error(`proxy refused CONNECT with status ${proxyResponse.statusCode ?? 0}`));
        return;
      }
      const request = track(
        https.request({
          host,
          port,
          path,
          method: spec.method,
          headers: spec.headers,
          // No agent: with `agent: false` Node would build a fresh Agent that ignores createConnection.
          createConnection: () => tls.connect({ socket, ...tlsOptions }),
        }),
      );
      request.on('close', () => socket.destroy());
      request.on('response', resolve);
      request.end();
    });
    connect.end();
  });
  // The caller may never await `response` after destroying; keep the rejection handled.
  response.catch(() => {});
  return { response, destroy };
}
