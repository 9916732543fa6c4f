import { describe, expect, it } from 'vitest';
import { NervesHubSocket } from '../../src/socket/nerves-hub-socket.js';
import { SocketErrorCodes, clockProblem, describeAttemptFailure } from '../../src/socket/connect-errors.js';
import { decodeFrame } from '../../src/socket/frame-decoder.js';
import { SOCKET_DEFAULTS, resolveSocketOptions } from '../../src/socket/options.js';
import type { NervesHubSocketOptions } from '../../src/socket/options.js';
import { buildTlsOptions } from '../../src/socket/tls-options.js';
import { NervesHubTestServer } from '../../src/testing/index.js';
import { FIRMWARE, nextError, staticProvider } from './helpers.js';

const provider = staticProvider({ certificateChain: ['x'], key: 'y' });
const base: NervesHubSocketOptions = { url: 'devices.example.com', auth: { type: 'certificate', provider }, firmware: FIRMWARE };

describe('options', () => {
  it('resolves URLs: host → wss + the auth path; explicit paths kept; ws:// allowed; query kept without vsn', () => {
    expect(resolveSocketOptions(base).endpoint).toBe('wss://devices.example.com/socket');
    expect(resolveSocketOptions({ ...base, url: 'devices.example.com:4001' }).endpoint).toBe('wss://devices.example.com:4001/socket');
    const ss = resolveSocketOptions({ ...base, auth: { type: 'shared-secret', key: 'nhp_a', secret: 's', identifier: 'i' } });
    expect(ss.endpoint).toBe('wss://devices.example.com/device-socket');
    expect(resolveSocketOptions({ ...base, url: 'ws://localhost:4000/custom/socket/websocket?x=1&vsn=1.0.0' })).toMatchObject({
      endpoint: 'ws://localhost:4000/custom/socket',
      endpointParams: { x: '1' },
      secure: false,
    });
    expect(resolveSocketOptions({ ...base, url: new URL('https://h/') }).endpoint).toBe('wss://h/socket');
  });

  it('defaults are frozen and applied', () => {
    expect(Object.isFrozen(SOCKET_DEFAULTS)).toBe(true);
    const r = resolveSocketOptions(base);
    expect(r).toMatchObject({ heartbeatIntervalMs: 30_000, reconnectBaseMs: 1000, reconnectMaxMs: 60_000, reconnectJitterRatio: 0.5, rejoinAfterMs: 5000 });
    expect(r.tls).toEqual({ ca: undefined, servername: undefined, minVersion: 'TLSv1.2' });
  });

  it.each<[string, Partial<NervesHubSocketOptions> | Record<string, unknown>]>([
    ['no url', { url: '' }],
    ['ftp url', { url: 'ftp://x' }],
    ['credentials in url', { url: 'wss://u:p@x' }],
    ['no auth', { auth: undefined }],
    ['bad auth type', { auth: { type: 'token' } }],
    ['provider without method', { auth: { type: 'certificate', provider: {} } }],
    ['shared secret without secret', { auth: { type: 'shared-secret', key: 'k', identifier: 'i' } }],
    ['bad iterations', { auth: { type: 'shared-secret', key: 'k', secret: 's', identifier: 'i', iterations: 0 } }],
    ['no firmware', { firmware: undefined }],
    ['firmware without uuid', { firmware: { product: 'x' } }],
    ['negative heartbeat', { heartbeatIntervalMs: -1 }],
    ['zero heartbeat', { heartbeatIntervalMs: 0 }],
    ['NaN base', { reconnectBaseMs: Number.NaN }],
    ['max < base', { reconnectBaseMs: 100, reconnectMaxMs: 50 }],
    ['jitter out of range', { reconnectJitterRatio: -0.1 }],
    ['verification off', { tls: { rejectUnauthorized: false } }],
    ['tls 1.1', { tls: { minVersion: 'TLSv1.1' } }],
    ['socks proxy', { proxy: 'socks5://p:1080' }],
    ['hook not a function', { reconnectBackoff: [1, 2] }],
    ['logger without log', { logger: {} }],
  ])('invalid option (%s) → NH_INVALID_OPTIONS at construction', (_name, patch) => {
    expect(() => new NervesHubSocket({ ...base, ...(patch as Partial<NervesHubSocketOptions>) })).toThrow(expect.objectContaining({ code: 'NH_INVALID_OPTIONS' }));
  });
});

describe('error mapping', () => {
  const ctx = { nowMs: Date.UTC(2026, 0, 1), authType: 'certificate' as const };
  const net = (code: string, message = code) => ({ kind: 'network' as const, error: Object.assign(new Error(message), { code }), pastKeyExchange: false });

  it('HTTP statuses', () => {
    const e401 = describeAttemptFailure({ kind: 'http', status: 401, headers: { 'nh-connection-error-reason': 'no certificate pair or shared secrets connection settings were provided' } }, ctx);
    expect(e401.code).toBe(SocketErrorCodes.unauthorized);
    expect(e401.message).toContain('server says: no certificate pair');
    expect(describeAttemptFailure({ kind: 'http', status: 401, headers: {} }, { ...ctx, authType: 'shared-secret' }).message).toMatch(/clock/);
    expect(describeAttemptFailure({ kind: 'http', status: 503, headers: {} }, ctx).code).toBe('NH_SOCKET_SERVICE_UNAVAILABLE');
    expect(describeAttemptFailure({ kind: 'http', status: 403, headers: {} }, ctx).code).toBe('NH_SOCKET_SERIALIZER');
    expect(describeAttemptFailure({ kind: 'http', status: 301, headers: {} }, ctx).code).toBe('NH_SOCKET_HTTP_STATUS');
  });

  it('TLS alerts from the peer vs our verification of the server', () => {
    expect(describeAttemptFailure(net('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA'), ctx).code).toBe('NH_SOCKET_TLS_UNKNOWN_CA');
    expect(describeAttemptFailure(net('ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE'), ctx).code).toBe('NH_SOCKET_TLS_UNKNOWN_CA');
    expect(describeAttemptFailure(net('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'), ctx).code).toBe('NH_SOCKET_TLS_CERT_REQUIRED');
    expect(describeAttemptFailure(net('ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED'), ctx).code).toBe('NH_SOCKET_CERT_EXPIRED');
    for (const c of ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY']) {
      expect(describeAttemptFailure(net(c), ctx).code).toBe('NH_SOCKET_SERVER_CERT_UNTRUSTED');
    }
    expect(describeAttemptFailure(net('CERT_HAS_EXPIRED'), ctx).code).toBe('NH_SOCKET_CERT_EXPIRED');
    expect(describeAttemptFailure(net('CERT_NOT_YET_VALID'), { ...ctx, nowMs: 1000 }).code).toBe('NH_SOCKET_CLOCK_NOT_SET');
    expect(describeAttemptFailure(net('ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED'), { ...ctx, nowMs: Date.UTC(2019, 5, 1) }).code).toBe('NH_SOCKET_CLOCK_NOT_SET');
  });

  it('network codes', () => {
    expect(describeAttemptFailure(net('ENOTFOUND'), ctx).code).toBe('NH_SOCKET_DNS');
    expect(describeAttemptFailure(net('EAI_AGAIN'), ctx).code).toBe('NH_SOCKET_DNS');
    for (const c of ['ECONNREFUSED', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH']) expect(describeAttemptFailure(net(c), ctx).code).toBe('NH_SOCKET_CONNECT');
    // reset after our key exchange with a client certificate: the server refused the certificate
    expect(describeAttemptFailure({ ...net('ECONNRESET'), pastKeyExchange: true }, ctx).code).toBe('NH_SOCKET_TLS_UNKNOWN_CA');
    expect(describeAttemptFailure({ ...net('ECONNRESET'), pastKeyExchange: true }, { ...ctx, authType: 'shared-secret' }).code).toBe('NH_SOCKET_CONNECT');
  });

  it('clock check: before 2020 or before notBefore', () => {
    expect(clockProblem(0, undefined)?.message).toContain('1970-01-01');
    expect(clockProblem(Date.UTC(2026, 0, 1), undefined)).toBeUndefined();
  });
});

describe('frame decoder', () => {
  it('accepts V2 frames and numeric refs; refuses everything else', () => {
    expect(decodeFrame('[null,"5","phoenix","phx_reply",{"status":"ok","response":{}}]')).toEqual({
      ok: true,
      value: { join_ref: null, ref: '5', topic: 'phoenix', event: 'phx_reply', payload: { status: 'ok', response: {} } },
    });
    expect(decodeFrame('[1,2,"device","update",{}]')).toMatchObject({ ok: true, value: { join_ref: '1', ref: '2' } });
    for (const bad of ['', '{}', '[1,2,3,4,5,6]', '[null,null,1,"e",{}]', '[null,null,"t","phx_reply",{}]', '[{},null,"t","e",{}]', '[null,null,"t","e",[]]']) {
      expect(decodeFrame(bad).ok).toBe(false);
    }
    expect(decodeFrame(new ArrayBuffer(4)).ok).toBe(false);
  });
});

describe('TLS options', () => {
  it('always verifies the server, TLS ≥ 1.2; an engine key that cannot load → NH_SOCKET_CERT_PROVIDER without the identifier', () => {
    const r = resolveSocketOptions(base);
    expect(buildTlsOptions(r, undefined)).toEqual({ rejectUnauthorized: true, minVersion: 'TLSv1.2' });
    let thrown: unknown;
    try {
      buildTlsOptions(r, { certificateChain: [], privateKeyEngine: 'x', privateKeyIdentifier: 'pkcs11:pin-value=1234' });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toMatchObject({ code: 'NH_SOCKET_CERT_PROVIDER' });
  });

  it('a provider whose engine does not exist → error event, nothing leaks the key reference', async () => {
    const server = await NervesHubTestServer.start();
    const dev = await server.issueDeviceCertificate('NH-ENGINE');
    const socket = new NervesHubSocket({
      url: server.url,
      auth: { type: 'certificate', provider: staticProvider({ certificateChain: [dev.certPem], privateKeyEngine: 'no-such-engine', privateKeyIdentifier: 'pkcs11:token=t;pin-value=4321' }) },
      firmware: FIRMWARE,
      tls: { ca: server.serverCaPem },
      reconnectBaseMs: 20,
      minReconnectDelayMs: 5,
    });
    socket.connect();
    const err = await nextError(socket, 'NH_SOCKET_CERT_PROVIDER');
    expect(err.message).toContain('no-such-engine');
    expect(JSON.stringify({ m: err.message, c: String((err.cause as Error | undefined)?.message) })).not.toContain('4321');
    await socket.close();
    await server.close();
  });
});
