import { describe, expect, it } from 'vitest';
import { generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { trustedKey, verifyEd25519 } from '../../src/firmware/signature.js';
import { parsePublicKey } from '../../src/firmware/public-key.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'fwup');

/** The key as a runtime without OpenSSL Ed25519 (a FIPS build) would hold it: raw bytes only. */
function withoutOpenSsl(raw: Uint8Array) {
  return { raw, keyObject: undefined };
}

describe('Ed25519 verification (OpenSSL, and @noble/ed25519 where OpenSSL refuses Ed25519)', () => {
  const keyA = parsePublicKey(readFileSync(join(FIXTURES, 'keys', 'fwup-key.pub'), 'utf8'));

  it('both paths agree on random messages, tampered messages and wrong keys', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const raw = new Uint8Array(Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url'));
    const native = trustedKey(raw);
    expect(native.keyObject).toBeDefined();
    const pure = withoutOpenSsl(raw);
    const other = withoutOpenSsl(keyA);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 512 }), fc.nat(), (message, flip) => {
        const signature = new Uint8Array(sign(null, message, privateKey));
        expect(verifyEd25519(message, signature, native)).toBe(true);
        expect(verifyEd25519(message, signature, pure)).toBe(true);
        expect(verifyEd25519(message, signature, other)).toBe(false);
        const bad = Uint8Array.from(signature);
        bad[flip % 64]! ^= 1 << (flip % 8);
        expect(verifyEd25519(message, bad, native)).toBe(false);
        expect(verifyEd25519(message, bad, pure)).toBe(false);
      }),
      { seed: 20261127, numRuns: 60 },
    );
  });

  it('the pure path rejects a non-canonical S (s + L), like OpenSSL and fwup', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const raw = new Uint8Array(Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url'));
    const message = new TextEncoder().encode('meta-product=x\n');
    const signature = new Uint8Array(sign(null, message, privateKey));
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    let s = 0n;
    for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(signature[32 + i]!);
    let t = s + L;
    const malleable = Uint8Array.from(signature);
    for (let i = 0; i < 32; i++) {
      malleable[32 + i] = Number(t & 0xffn);
      t >>= 8n;
    }
    expect(verifyEd25519(message, malleable, trustedKey(raw))).toBe(false);
    expect(verifyEd25519(message, malleable, withoutOpenSsl(raw))).toBe(false);
  });

  it('a signature of the wrong length never verifies, on either path', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const raw = new Uint8Array(Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url'));
    const message = new Uint8Array(10);
    const signature = new Uint8Array(sign(null, message, privateKey));
    expect(verifyEd25519(message, signature, withoutOpenSsl(raw))).toBe(true);
    expect(verifyEd25519(message, signature.subarray(0, 63), trustedKey(raw))).toBe(false);
    expect(verifyEd25519(message, signature.subarray(0, 63), withoutOpenSsl(raw))).toBe(false);
  });
});
