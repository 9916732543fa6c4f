import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { NervesHubSocket } from '../../src/socket/nerves-hub-socket.js';
import { TestCertificateAuthority } from '../../src/testing/index.js';
import { FAST, FIRMWARE, nextError, sleep, staticProvider } from './helpers.js';

// A bare Phoenix-speaking server that refuses every `device` join like nerves_hub_web does on a
// join error ({"reason": "could not connect"}) — the test server always accepts joins.
let https: Server;
let wss: WebSocketServer;
let ca: TestCertificateAuthority;
let joins = 0;
const joinParams: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  ca = await TestCertificateAuthority.create();
  const serverCert = await ca.issueServerCertificate();
  https = createServer({ key: serverCert.keyPem, cert: serverCert.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true });
  wss = new WebSocketServer({ server: https });
  wss.on('connection', (ws) => {
    ws.on('message', (data) => {
      const [joinRef, ref, topic, event, payload] = JSON.parse(String(data)) as [string | null, string, string, string, Record<string, unknown>];
      if (event === 'heartbeat') ws.send(JSON.stringify([null, ref, 'phoenix', 'phx_reply', { status: 'ok', response: {} }]));
      if (event === 'phx_join') {
        joins++;
        joinParams.push(payload);
        ws.send(JSON.stringify([joinRef, ref, topic, 'phx_reply', { status: 'error', response: { reason: 'could not connect' } }]));
      }
    });
  });
  await new Promise<void>((r) => https.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  for (const c of wss.clients) c.terminate();
  await new Promise((r) => wss.close(r));
  await new Promise((r) => https.close(r));
});

it('a refused device join → NH_SOCKET_JOIN_REFUSED with the reason, rejoined after rejoinAfterMs on the same connection', async () => {
  const dev = await ca.issueDeviceCertificate({ commonName: 'NH-JOIN-REFUSED' });
  const socket = new NervesHubSocket({
    url: `wss://127.0.0.1:${(https.address() as AddressInfo).port}`,
    auth: { type: 'certificate', provider: staticProvider({ certificateChain: [dev.certPem], key: dev.keyPem }) },
    firmware: FIRMWARE,
    tls: { ca: ca.certPem },
    ...FAST,
    rejoinAfterMs: 100,
    currentlyDownloadingUuid: () => `uuid-${joins}`,
  });
  let connected = 0;
  socket.on('connected', () => connected++);
  let disconnected = 0;
  socket.on('disconnected', () => disconnected++);
  socket.connect();
  const err = await nextError(socket, 'NH_SOCKET_JOIN_REFUSED');
  expect(err.message).toContain('could not connect');
  const t0 = Date.now();
  await nextError(socket, 'NH_SOCKET_JOIN_REFUSED');
  expect(Date.now() - t0).toBeGreaterThanOrEqual(80);
  await sleep(50);
  await socket.close();
  expect(joins).toBeGreaterThanOrEqual(2);
  // params are re-read at every rejoin, not only at every connect
  expect(joinParams.slice(0, 2).map((p) => p.currently_downloading_uuid)).toEqual(['uuid-0', 'uuid-1']);
  expect(connected).toBe(0);
  expect(socket.joined).toBe(false);
  expect(wss.clients.size).toBeLessThanOrEqual(1);
  // the websocket itself stayed up: only the app's close() ended it
  expect(disconnected).toBe(1);
});
