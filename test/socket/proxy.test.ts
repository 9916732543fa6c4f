import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NervesHubTestServer } from '../../src/testing/index.js';
import { certificateSocket, nextError, nextEvent } from './helpers.js';

let server: NervesHubTestServer;
let proxy: Server;
let proxyUrl: string;
const tunnels: Array<{ target: string; auth: string | undefined }> = [];
const open = new Set<Socket>();

beforeAll(async () => {
  server = await NervesHubTestServer.start();
  // a minimal real HTTP CONNECT proxy with basic auth
  proxy = createServer((_req, res) => res.writeHead(405).end());
  proxy.on('connect', (req, client: Socket, head: Buffer) => {
    open.add(client);
    client.once('close', () => open.delete(client));
    const auth = req.headers['proxy-authorization'];
    tunnels.push({ target: req.url ?? '', auth });
    if (auth !== `Basic ${Buffer.from('dev:p@ss').toString('base64')}`) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nproxy-authenticate: Basic\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    open.add(upstream);
    upstream.once('close', () => open.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyUrl = `http://dev:p%40ss@127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const s of open) s.destroy();
  await new Promise((r) => proxy.close(r));
  await server.close();
});

describe('HTTP CONNECT proxy', () => {
  it('tunnels wss:// through the proxy with server verification still on', async () => {
    const socket = await certificateSocket(server, 'NH-PROXY-1', { proxy: proxyUrl });
    const connected = nextEvent(socket, 'connected');
    socket.connect();
    await connected;
    await socket.close();
    expect(tunnels.at(-1)).toEqual({ target: `127.0.0.1:${server.port}`, auth: `Basic ${Buffer.from('dev:p@ss').toString('base64')}` });
    expect(server.joinCount('NH-PROXY-1')).toBe(1);
  });

  it('a proxy refusal (407) → NH_SOCKET_PROXY; an untrusted server behind the proxy is still refused', async () => {
    const bad = await certificateSocket(server, 'NH-PROXY-2', { proxy: proxyUrl.replace('p%40ss', 'wrong') });
    bad.connect();
    const err = await nextError(bad, 'NH_SOCKET_PROXY');
    expect(err.message).toContain('407');
    expect(err.message).not.toContain('wrong');
    await bad.close();

    const untrusted = await certificateSocket(server, 'NH-PROXY-3', { proxy: proxyUrl, tls: {} });
    untrusted.connect();
    await nextError(untrusted, 'NH_SOCKET_SERVER_CERT_UNTRUSTED');
    await untrusted.close();
    expect(server.joinCount('NH-PROXY-2') + server.joinCount('NH-PROXY-3')).toBe(0);
  });
});
