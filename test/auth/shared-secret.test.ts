import { createHmac, pbkdf2Sync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createSharedSecretHeaders } from '../../src/auth/shared-secret.js';
import { verifyNh1Headers } from '../../src/testing/index.js';

interface Vector {
  'x-nh-alg': string;
  'x-nh-key': string;
  secret: string;
  identifier: string;
  'x-nh-time': string;
  digest: string;
  iterations: number;
  keyLength: number;
  'x-nh-signature': string;
}
const vectors = (JSON.parse(readFileSync(new URL('../fixtures/shared-secret/vectors.json', import.meta.url), 'utf8')) as { vectors: Vector[] }).vectors;

describe('createSharedSecretHeaders', () => {
  it.each(vectors)('matches the plug_crypto vector for $identifier byte for byte', (v) => {
    const h = createSharedSecretHeaders({
      key: v['x-nh-key'],
      secret: v.secret,
      identifier: v.identifier,
      signedAt: Number(v['x-nh-time']),
      digest: v.digest,
      iterations: v.iterations,
      keyLength: v.keyLength,
    });
    expect(h).toEqual({ 'x-nh-alg': v['x-nh-alg'], 'x-nh-key': v['x-nh-key'], 'x-nh-time': v['x-nh-time'], 'x-nh-signature': v['x-nh-signature'] });
  });

  it('defaults to sha256/1000/32 and the current time in seconds', () => {
    const before = Math.floor(Date.now() / 1000);
    const h = createSharedSecretHeaders({ key: 'nhp_x', secret: 's', identifier: 'id' });
    const after = Math.floor(Date.now() / 1000);
    expect(h['x-nh-alg']).toBe('NH1-HMAC-sha256-1000-32');
    expect(Number(h['x-nh-time'])).toBeGreaterThanOrEqual(before);
    expect(Number(h['x-nh-time'])).toBeLessThanOrEqual(after);
  });

  it('signs a different token when any input changes', () => {
    const base = { key: 'nhp_test', secret: 'test-secret', identifier: 'tnh-unit-test', signedAt: 1700000000 };
    const sig = createSharedSecretHeaders(base)['x-nh-signature'];
    for (const change of [{ key: 'nhp_tesu' }, { secret: 'test-secreu' }, { identifier: 'tnh-unit-tesu' }, { signedAt: 1700000001 }, { iterations: 1001 }, { digest: 'sha512' }]) {
      expect(createSharedSecretHeaders({ ...base, ...change })['x-nh-signature']).not.toBe(sig);
    }
  });

  it('encodes identifiers of any length/charset and times of any size as the server decodes them (property)', async () => {
    // independent oracle: the test server's NH1 verifier (ETF decode + PBKDF2 + HMAC)
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 300, unit: 'grapheme' }),
        fc.integer({ min: 0, max: 4_000_000_000 }),
        fc.constantFrom('sha256', 'sha512'),
        async (identifier, signedAt, digest) => {
          const h = createSharedSecretHeaders({ key: 'nhd_k', secret: 'sec', identifier, signedAt, digest, iterations: 2 });
          const verdict = await verifyNh1Headers({ ...h }, {
            lookup: () => ({ key: 'nhd_k', secret: 'sec', kind: 'device', identifier }),
            nowMs: signedAt * 1000,
            maxAgeSeconds: 90,
            enabled: true,
          });
          expect(verdict).toMatchObject({ ok: true, identifier, signedAtMs: signedAt * 1000 });
        },
      ),
      { seed: 424242, numRuns: 60 },
    );
  });

  it('hand-computed token structure: salt, PBKDF2, HMAC over "SFMyNTY.<payload>"', () => {
    const h = createSharedSecretHeaders({ key: 'nhp_a', secret: 'b', identifier: 'c', signedAt: 1 });
    const [prot, payload, mac] = h['x-nh-signature'].split('.');
    expect(prot).toBe('SFMyNTY');
    // {<<"c">>, 1000, 86400}: SMALL_INTEGER_EXT cannot hold 1000 → INTEGER_EXT
    expect(Buffer.from(payload ?? '', 'base64url').toString('hex')).toBe('8368036d00000001636200' + '0003e8' + '6200015180');
    const salt = 'NH1:device-socket:shared-secret:connect\n\nx-nh-alg=NH1-HMAC-sha256-1000-32\nx-nh-key=nhp_a\nx-nh-time=1\n';
    const key = pbkdf2Sync('b', salt, 1000, 32, 'sha256');
    expect(mac).toBe(createHmac('sha256', key).update(`SFMyNTY.${payload}`).digest('base64url'));
  });

  it('rejects bad inputs with NH_INVALID_OPTIONS', () => {
    const ok = { key: 'nhp_a', secret: 'b', identifier: 'c' };
    expect(() => createSharedSecretHeaders({ ...ok, key: '' })).toThrow(expect.objectContaining({ code: 'NH_INVALID_OPTIONS' }));
    expect(() => createSharedSecretHeaders({ ...ok, secret: '' })).toThrow(expect.objectContaining({ code: 'NH_INVALID_OPTIONS' }));
    expect(() => createSharedSecretHeaders({ ...ok, identifier: '' })).toThrow(expect.objectContaining({ code: 'NH_INVALID_OPTIONS' }));
    expect(() => createSharedSecretHeaders({ ...ok, digest: 'nope' })).toThrow(expect.objectContaining({ code: 'NH_INVALID_OPTIONS' }));
    expect(() => createSharedSecretHeaders({ ...ok, iterations: 0 })).toThrow(expect.objectContaining({ code: 'NH_INVALID_OPTIONS' }));
    expect(() => createSharedSecretHeaders({ ...ok, keyLength: 1.5 })).toThrow(expect.objectContaining({ code: 'NH_INVALID_OPTIONS' }));
    expect(() => createSharedSecretHeaders({ ...ok, signedAt: -1 })).toThrow(expect.objectContaining({ code: 'NH_INVALID_OPTIONS' }));
    expect(() => createSharedSecretHeaders({ ...ok, signedAt: 1.5 })).toThrow(expect.objectContaining({ code: 'NH_INVALID_OPTIONS' }));
  });
});
