import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NervesHubTestServer, TestCertificateAuthority } from '../../src/testing/index.js';
import type { IssuedCertificate } from '../../src/testing/index.js';
import { connect, expectRefused, httpsGet, signNh1 } from './helpers.js';

const NO_AUTH = 'no certificate pair or shared secrets connection settings were provided';

describe('NervesHubTestServer authentication', () => {
  let server: NervesHubTestServer;
  let good: IssuedCertificate;
  let foreign: IssuedCertificate;
  let expired: IssuedCertificate;
  let unregistered: IssuedCertificate;
  let otherCa: TestCertificateAuthority;

  // A fresh server per test: registering a signer CA or injecting refusals must not leak into other tests.
  beforeEach(async () => {
    server = await NervesHubTestServer.start({ unregisteredDeviceRefusal: 'upgrade' });
    otherCa = await TestCertificateAuthority.create({ commonName: 'someone else' });
    good = await server.issueDeviceCertificate('NH-GOOD');
    foreign = await otherCa.issueDeviceCertificate({ commonName: 'NH-FOREIGN' });
    server.registerDevice('NH-FOREIGN');
    expired = await server.issueDeviceCertificate('NH-EXPIRED', { notBefore: new Date(Date.now() - 7200_000), notAfter: new Date(Date.now() - 3600_000) });
    unregistered = await server.issueDeviceCertificate('NH-NOBODY', { register: false });
    server.addProductKey('nhp_prod', 'prod-secret');
    server.addDeviceKey('nhd_dev', 'dev-secret', 'NH-SS-DEV');
  });
  afterEach(() => server.close());

  it('accepts a registered device certificate and takes the identifier from the CN', async () => {
    const client = await connect(server, { cert: good.certPem, key: good.keyPem });
    await server.waitForConnection('NH-GOOD');
    const record = server.upgrades.at(-1)!;
    expect(record).toMatchObject({ status: 101, identifier: 'NH-GOOD', authMethod: 'certificate', path: '/socket/websocket', query: { vsn: '2.0.0' } });
    client.ws.close();
    await server.waitForDisconnect('NH-GOOD');
  });

  it('drops a certificate from an unregistered CA in the TLS layer (no HTTP answer, no upgrade)', async () => {
    const upgradesBefore = server.upgrades.length;
    for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
      const err = await connect(server, { cert: foreign.certPem, key: foreign.keyPem, maxVersion }).then(
        () => undefined,
        (e: unknown) => e as NodeJS.ErrnoException & { refused?: unknown },
      );
      expect(err).toBeInstanceOf(Error);
      expect(err?.refused).toBeUndefined();
      expect(err?.code).toMatch(/ECONNRESET|EPIPE/);
    }
    expect(server.upgrades.length).toBe(upgradesBefore);
    expect(server.tlsRejections.at(-1)).toMatchObject({ commonName: 'NH-FOREIGN', reason: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    expect(server.connectedDevices()).not.toContain('NH-FOREIGN');
  });

  it('accepts that CA once it is registered as a signer (hot TLS context update)', async () => {
    server.registerSignerCa(otherCa.certPem);
    const client = await connect(server, { cert: foreign.certPem, key: foreign.keyPem });
    await server.waitForConnection('NH-FOREIGN');
    client.ws.terminate();
  });

  it('drops an expired certificate in the TLS layer', async () => {
    const err = await connect(server, { cert: expired.certPem, key: expired.keyPem }).then(() => undefined, (e: unknown) => e as NodeJS.ErrnoException);
    expect(err?.code).toMatch(/ECONNRESET|EPIPE/);
    expect(server.tlsRejections.at(-1)).toMatchObject({ commonName: 'NH-EXPIRED', reason: 'CERT_HAS_EXPIRED' });
  });

  it('answers 401 with an empty body when the CN is not a registered device', async () => {
    const refused = await expectRefused(server, { cert: unregistered.certPem, key: unregistered.keyPem });
    expect(refused.status).toBe(401);
    expect(refused.body).toBe('');
    expect(refused.headers['nh-connection-error-reason']).toBeUndefined();
    expect(refused.headers.date).toBeTruthy();
    expect(server.upgrades.at(-1)).toMatchObject({ status: 401, refusal: 'device_not_registered', authMethod: 'certificate' });
    expect(server.isRegistered('NH-NOBODY')).toBe(false);
  });

  it('answers 401 with the reason header and body when no credentials are sent', async () => {
    const refused = await expectRefused(server, {});
    expect(refused.status).toBe(401);
    expect(refused.headers['nh-connection-error-reason']).toBe(NO_AUTH);
    expect(refused.body).toBe(NO_AUTH);
    expect(Math.abs(Date.parse(String(refused.headers.date)) - Date.now())).toBeLessThan(5000);
  });

  it('refuses a missing or non-JSON vsn with 403 before authenticating', async () => {
    for (const query of ['', 'vsn=1.0.0', 'vsn=3.0.0']) {
      const refused = await expectRefused(server, { query, cert: good.certPem, key: good.keyPem });
      expect(refused.status).toBe(403);
      expect(server.upgrades.at(-1)).toMatchObject({ status: 403, refusal: 'bad_vsn' });
    }
  });

  it('accepts fresh NH1 headers on /device-socket and creates the device for a product key', async () => {
    expect(server.isRegistered('NH-SS-NEW')).toBe(false);
    const headers = signNh1({ key: 'nhp_prod', secret: 'prod-secret', identifier: 'NH-SS-NEW', timeSeconds: Math.floor(Date.now() / 1000) });
    const client = await connect(server, { path: '/device-socket/websocket', headers });
    await server.waitForConnection('NH-SS-NEW');
    expect(server.isRegistered('NH-SS-NEW')).toBe(true);
    expect(server.upgrades.at(-1)).toMatchObject({ status: 101, authMethod: 'shared-secret', identifier: 'NH-SS-NEW', path: '/device-socket/websocket' });
    expect(server.upgrades.at(-1)!.headers['x-nh-key']).toBe('nhp_prod');
    client.ws.terminate();
  });

  it('accepts a device key for its own identifier only', async () => {
    const now = Math.floor(Date.now() / 1000);
    const ok = await connect(server, { path: '/device-socket/websocket', headers: signNh1({ key: 'nhd_dev', secret: 'dev-secret', identifier: 'NH-SS-DEV', timeSeconds: now }) });
    ok.ws.terminate();
    const refused = await expectRefused(server, { path: '/device-socket/websocket', headers: signNh1({ key: 'nhd_dev', secret: 'dev-secret', identifier: 'NH-SS-OTHER', timeSeconds: now }) });
    expect(refused).toMatchObject({ status: 401, body: '' });
    expect(server.upgrades.at(-1)).toMatchObject({ refusal: 'bad_identifier' });
    expect(server.isRegistered('NH-SS-OTHER')).toBe(false);
  });

  it('refuses bad signatures, stale and future-dated signatures and unknown keys with 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases: Array<[Record<string, string>, string]> = [
      [signNh1({ key: 'nhp_prod', secret: 'wrong', identifier: 'NH-X1', timeSeconds: now }), 'bad_signature'],
      [signNh1({ key: 'nhp_prod', secret: 'prod-secret', identifier: 'NH-X2', timeSeconds: now - 120 }), 'expired'],
      [signNh1({ key: 'nhp_prod', secret: 'prod-secret', identifier: 'NH-X3', timeSeconds: now + 30 }), 'future_dated'],
      [signNh1({ key: 'nhp_nope', secret: 'prod-secret', identifier: 'NH-X4', timeSeconds: now }), 'unknown_key'],
      [{ 'x-forwarded-for': '10.0.0.1' }, 'headers_decode_failed'],
    ];
    for (const [headers, refusal] of cases) {
      const refused = await expectRefused(server, { path: '/device-socket/websocket', headers });
      expect(refused.status).toBe(401);
      expect(refused.body).toBe('');
      expect(server.upgrades.at(-1)).toMatchObject({ refusal });
    }
    for (const id of ['NH-X1', 'NH-X2', 'NH-X3', 'NH-X4']) expect(server.isRegistered(id)).toBe(false);
  });

  it('injects 503 platform_unavailable and 401 refusals for a number of upgrades', async () => {
    server.refuseUpgrades({ status: 503, count: 1 });
    const first = await expectRefused(server, { cert: good.certPem, key: good.keyPem });
    expect(first.status).toBe(503);
    expect(first.headers['nh-connection-error-reason']).toBe('the platform could not be reached to authenticate this device');
    server.refuseUpgrades({ status: 401, count: 1 });
    expect((await expectRefused(server, { cert: good.certPem, key: good.keyPem })).status).toBe(401);
    const client = await connect(server, { cert: good.certPem, key: good.keyPem });
    client.ws.terminate();
  });

  it('answers the alive check, redirects other paths, and 400 for a plain GET on the socket path', async () => {
    const alive = await httpsGet(server, '/status/alive');
    expect(alive.status).toBe(200);
    expect(alive.body.toString()).toBe('Hello, Friend!');
    expect(alive.headers.date).toBeTruthy();
    const other = await httpsGet(server, '/anything');
    expect(other.status).toBe(301);
    expect(other.headers.location).toBe('https://docs.nerves-hub.org/');
    expect((await httpsGet(server, '/socket/websocket')).status).toBe(400);
    const wrongPath = await expectRefused(server, { path: '/nope/websocket', cert: good.certPem, key: good.keyPem });
    expect(wrongPath.status).toBe(301);
  });
});

describe('NervesHubTestServer clock and modes', () => {
  it('accepts the plug_crypto vector with an injected clock and stamps Date from that clock', async () => {
    const nowMs = 1_700_000_030_000;
    const server = await NervesHubTestServer.start({ now: () => nowMs });
    try {
      server.addProductKey('nhp_test', 'test-secret');
      const headers = {
        'x-nh-alg': 'NH1-HMAC-sha256-1000-32',
        'x-nh-key': 'nhp_test',
        'x-nh-time': '1700000000',
        'x-nh-signature': 'SFMyNTY.g2gDbQAAAA10bmgtdW5pdC10ZXN0bgYAAGjlz4sBYgABUYA.UjN7CG034TdyV5umEWbY-4eTRoZ7MXgQlCQHo5mlniY',
      };
      const client = await connect(server, { path: '/device-socket/websocket', headers });
      await server.waitForConnection('tnh-unit-test');
      client.ws.terminate();
      const refused = await expectRefused(server, {});
      expect(Date.parse(String(refused.headers.date))).toBe(nowMs);
    } finally {
      await server.close();
    }
  });

  it('refuses every NH1 attempt when shared secrets are disabled', async () => {
    const server = await NervesHubTestServer.start({ sharedSecretsEnabled: false });
    try {
      server.addProductKey('nhp_p', 's');
      const refused = await expectRefused(server, { headers: signNh1({ key: 'nhp_p', secret: 's', identifier: 'a', timeSeconds: Math.floor(Date.now() / 1000) }) });
      expect(refused.status).toBe(401);
      expect(server.upgrades.at(-1)).toMatchObject({ refusal: 'shared_secrets_disabled' });
    } finally {
      await server.close();
    }
  });

  it('autoRegister accepts any CN from a registered CA; tls mode drops unregistered CNs in TLS', async () => {
    const auto = await NervesHubTestServer.start({ autoRegister: true });
    const strict = await NervesHubTestServer.start({ ca: auto.ca, unregisteredDeviceRefusal: 'tls' });
    try {
      const cert = await auto.issueDeviceCertificate('NH-JITP', { register: false });
      const client = await connect(auto, { cert: cert.certPem, key: cert.keyPem });
      await auto.waitForConnection('NH-JITP');
      expect(auto.isRegistered('NH-JITP')).toBe(true);
      client.ws.terminate();
      const err = await connect(strict, { cert: cert.certPem, key: cert.keyPem }).then(() => undefined, (e: unknown) => e as NodeJS.ErrnoException & { refused?: unknown });
      expect(err?.refused).toBeUndefined();
      expect(strict.tlsRejections.at(-1)).toMatchObject({ reason: 'DEVICE_NOT_REGISTERED', commonName: 'NH-JITP' });
    } finally {
      await auto.close();
      await strict.close();
    }
  });
});
