import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SharedSecretCredential } from '../../src/testing/index.js';
import { verifyNh1Headers } from '../../src/testing/index.js';
import { decodeEtf, EtfDecodeError } from '../../src/testing/server/etf.js';
import { etfIdentityTuple, signNh1 } from './helpers.js';

interface Vector {
  'x-nh-alg': string;
  'x-nh-key': string;
  'x-nh-time': string;
  'x-nh-signature': string;
  secret: string;
  identifier: string;
}
const vectors = (JSON.parse(readFileSync(new URL('../fixtures/shared-secret/vectors.json', import.meta.url), 'utf8')) as { vectors: Vector[] }).vectors;

const product: SharedSecretCredential = { key: 'nhp_test', secret: 'test-secret', kind: 'product' };
const deviceKey: SharedSecretCredential = { key: 'nhd_dev', secret: 'dev-secret', kind: 'device', identifier: 'dev-1' };
const lookup = (key: string): SharedSecretCredential | undefined => [product, deviceKey].find((c) => c.key === key);
const NOW_S = 1_800_000_000;
const verify = (headers: Record<string, string>, nowMs = NOW_S * 1000) => verifyNh1Headers(headers, { lookup, nowMs, maxAgeSeconds: 90, enabled: true });

function headersOf(v: Vector): Record<string, string> {
  return { 'x-nh-alg': v['x-nh-alg'], 'x-nh-key': v['x-nh-key'], 'x-nh-time': v['x-nh-time'], 'x-nh-signature': v['x-nh-signature'] };
}

describe('NH1 verification against the plug_crypto vectors', () => {
  it('accepts every vector at its signing time (injected clock) and names the identifier', async () => {
    expect(vectors.length).toBeGreaterThan(0);
    for (const v of vectors) {
      const signedAtMs = Number(v['x-nh-time']) * 1000;
      const cred: SharedSecretCredential = { key: v['x-nh-key'], secret: v.secret, kind: 'product' };
      const verdict = await verifyNh1Headers(headersOf(v), { lookup: (k) => (k === cred.key ? cred : undefined), nowMs: signedAtMs + 5_000, maxAgeSeconds: 90, enabled: true });
      expect(verdict).toMatchObject({ ok: true, identifier: v.identifier, signedAtMs });
    }
  });

  it('the test signer reproduces the plug_crypto vector byte for byte', () => {
    for (const v of vectors) {
      const headers = signNh1({ key: v['x-nh-key'], secret: v.secret, identifier: v.identifier, timeSeconds: Number(v['x-nh-time']), alg: v['x-nh-alg'] });
      expect(headers['x-nh-signature']).toBe(v['x-nh-signature']);
    }
  });

  it('answers expired for the 2023 vector on a current clock, like the real server', async () => {
    const v = vectors[0]!;
    expect(await verify(headersOf(v), Date.now())).toEqual({ ok: false, reason: 'expired' });
  });

  it('applies the window [now - 90 s, now] exactly', async () => {
    const v = vectors[0]!;
    const at = Number(v['x-nh-time']) * 1000;
    expect((await verify(headersOf(v), at + 90_000)).ok).toBe(true);
    expect(await verify(headersOf(v), at + 90_001)).toEqual({ ok: false, reason: 'expired' });
    expect((await verify(headersOf(v), at)).ok).toBe(true);
    expect(await verify(headersOf(v), at - 1)).toEqual({ ok: false, reason: 'future_dated' });
  });

  it('rejects a signature made with another secret, and a tampered token', async () => {
    const v = vectors[0]!;
    const at = Number(v['x-nh-time']) * 1000 + 1000;
    const wrong = signNh1({ key: 'nhp_test', secret: 'not-the-secret', identifier: 'tnh-unit-test', timeSeconds: Number(v['x-nh-time']) });
    expect(await verify(wrong, at)).toEqual({ ok: false, reason: 'bad_signature' });
    const sig = v['x-nh-signature'];
    const flipped = sig.slice(0, -2) + (sig.at(-2) === 'A' ? 'B' : 'A') + sig.at(-1);
    expect(await verify({ ...headersOf(v), 'x-nh-signature': flipped }, at)).toEqual({ ok: false, reason: 'bad_signature' });
    // A different x-nh-time changes the salt, so the (otherwise valid) token no longer verifies.
    expect(await verify({ ...headersOf(v), 'x-nh-time': String(Number(v['x-nh-time']) + 1) }, at)).toEqual({ ok: false, reason: 'bad_signature' });
  });
});

describe('NH1 header and key rules', () => {
  const fresh = (over: Partial<Parameters<typeof signNh1>[0]> = {}) => signNh1({ key: 'nhp_test', secret: 'test-secret', identifier: 'dev-9', timeSeconds: NOW_S - 10, ...over });

  it('accepts product keys for any identifier and device keys only for their identifier', async () => {
    expect(await verify(fresh())).toMatchObject({ ok: true, identifier: 'dev-9' });
    expect(await verify(fresh({ key: 'nhd_dev', secret: 'dev-secret', identifier: 'dev-1' }))).toMatchObject({ ok: true, identifier: 'dev-1' });
    expect(await verify(fresh({ key: 'nhd_dev', secret: 'dev-secret', identifier: 'dev-2' }))).toEqual({ ok: false, reason: 'bad_identifier' });
  });

  it('rejects unknown keys, missing signature, bad alg and time headers', async () => {
    expect(await verify(fresh({ key: 'nhp_unknown' }))).toEqual({ ok: false, reason: 'unknown_key' });
    const { 'x-nh-signature': _drop, ...noSig } = fresh();
    expect(await verify(noSig)).toEqual({ ok: false, reason: 'missing_signature' });
    expect(await verify({ ...fresh(), 'x-nh-alg': 'NH2-HMAC-sha256-1000-32' })).toEqual({ ok: false, reason: 'headers_decode_failed' });
    expect(await verify({ ...fresh(), 'x-nh-alg': 'NH1-HMAC-nosuch-1000-32' })).toEqual({ ok: false, reason: 'headers_decode_failed' });
    expect(await verify({ ...fresh(), 'x-nh-alg': 'NH1-HMAC-sha256-10x0-32' })).toEqual({ ok: false, reason: 'headers_decode_failed' });
    expect(await verify({ ...fresh(), 'x-nh-time': '17e8' })).toEqual({ ok: false, reason: 'headers_decode_failed' });
    expect(await verifyNh1Headers(fresh(), { lookup, nowMs: NOW_S * 1000, maxAgeSeconds: 90, enabled: false })).toEqual({ ok: false, reason: 'shared_secrets_disabled' });
  });

  it('honours other digests and iteration counts and an upper-case digest name', async () => {
    expect(await verify(fresh({ alg: 'NH1-HMAC-sha512-2000-64' }))).toMatchObject({ ok: true });
    expect(await verify(fresh({ alg: 'NH1-HMAC-SHA384-10-48' }))).toMatchObject({ ok: true });
  });

  it('rejects signed messages that are not exactly {binary, integer, integer}, without throwing', async () => {
    const t = NOW_S - 10;
    const bad: Buffer[] = [
      Buffer.from([131, 104, 2, 109, 0, 0, 0, 1, 65, 98, 0, 0, 0, 1]), // 2-tuple
      Buffer.from([131, 104, 3, 100, 0, 3, 102, 111, 111, 97, 1, 97, 1]), // atom identifier
      Buffer.from([131, 104, 3, 112, 0, 0, 0, 9, 0, 0, 0, 0, 0]), // NEW_FUN_EXT
      Buffer.concat([etfIdentityTuple('dev-9', t * 1000, 86400), Buffer.from([0])]), // trailing byte
      etfIdentityTuple('dev-9', t * 1000, 86400).subarray(0, 20), // truncated
      Buffer.from([131, 104, 3, 109, 255, 255, 255, 255]), // absurd binary length
      Buffer.from([131, 104, 3, 109, 0, 0, 0, 2, 0xc3, 0x28, 97, 1, 97, 1]), // invalid UTF-8
      Buffer.from('not etf at all'),
    ];
    for (const etf of bad) {
      expect(await verify(fresh({ etf, timeSeconds: t }))).toEqual({ ok: false, reason: 'malformed_message' });
    }
  });

  it('round-trips random identifiers and secrets, and any tampering fails (seeded property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 40 }), fc.string({ minLength: 1, maxLength: 40 }), fc.nat({ max: 89 }), async (identifier, secret, ageS) => {
        const cred: SharedSecretCredential = { key: 'nhp_prop', secret, kind: 'product' };
        const opts = { lookup: (k: string) => (k === cred.key ? cred : undefined), nowMs: NOW_S * 1000, maxAgeSeconds: 90, enabled: true };
        const headers = signNh1({ key: 'nhp_prop', secret, identifier, timeSeconds: NOW_S - ageS });
        expect(await verifyNh1Headers(headers, opts)).toMatchObject({ ok: true, identifier });
        const other = await verifyNh1Headers({ ...headers, 'x-nh-key': 'nhp_prop' }, { ...opts, lookup: () => ({ ...cred, secret: `${secret}x` }) });
        expect(other.ok).toBe(false);
      }),
      { seed: 4242, numRuns: 40 },
    );
  });
});

describe('ETF decoder', () => {
  it('decodes the vector message and refuses nonsense with EtfDecodeError', () => {
    const term = decodeEtf(Buffer.from('8368036d0000000d746e682d756e69742d746573746e06000068e5cf8b016200015180', 'hex'));
    expect(term).toEqual({ tuple: [new Uint8Array(Buffer.from('tnh-unit-test')), 1_700_000_000_000n, 86400n] });
    expect(() => decodeEtf(Buffer.from([131, 105, 255, 255, 255, 255]))).toThrow(EtfDecodeError);
    expect(() => decodeEtf(Buffer.from([]))).toThrow(EtfDecodeError);
    let deep = Buffer.from([131]);
    for (let i = 0; i < 40; i++) deep = Buffer.concat([deep, Buffer.from([104, 1])]);
    expect(() => decodeEtf(Buffer.concat([deep, Buffer.from([97, 1])]))).toThrow(EtfDecodeError);
  });
});
