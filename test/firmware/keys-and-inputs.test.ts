import { createReadStream, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { FirmwareVerifier } from '../../src/firmware/firmware-verifier.js';
import { parsePublicKey } from '../../src/firmware/public-key.js';
import { KEY_A, KEY_B, chunked, fixturePath, iterate } from './fwup-fixtures.js';

const SIGNED = fixturePath('fw/signed.fw');
const signedBytes = readFileSync(SIGNED);
const rawKeyA = Buffer.from(KEY_A.trim(), 'base64');

describe('public keys (fwup rules)', () => {
  it('accepts base64 with a trailing newline, unpadded base64 and 32 raw bytes', async () => {
    expect(KEY_A.endsWith('\n') || KEY_A.endsWith('=')).toBe(true);
    const unpadded = KEY_A.trim().replace(/=+$/, '');
    expect(Buffer.from(parsePublicKey(unpadded))).toEqual(rawKeyA);
    expect(Buffer.from(parsePublicKey(new Uint8Array(rawKeyA)))).toEqual(rawKeyA);
    expect(Buffer.from(parsePublicKey(Buffer.from(KEY_A)))).toEqual(rawKeyA);
    for (const key of [unpadded, new Uint8Array(rawKeyA), `${KEY_A.trim()}\n`]) {
      const result = await new FirmwareVerifier({ publicKeys: [key] }).verify(SIGNED);
      expect(result.valid).toBe(true);
    }
  });

  it('rejects what is not a key with NH_INVALID_OPTIONS', () => {
    for (const bad of ['not-a-key', '', 'AAAA', KEY_A.trim().replace(/=+$/, '') + 'AAAA', new Uint8Array(31)]) {
      expect(() => parsePublicKey(bad)).toThrow(expect.objectContaining({ code: 'NH_INVALID_OPTIONS' }));
      expect(() => new FirmwareVerifier({ publicKeys: [bad] })).toThrow(expect.objectContaining({ code: 'NH_INVALID_OPTIONS' }));
    }
  });

  it('passes with any of several keys (rotation) and fails with none of them', async () => {
    expect((await new FirmwareVerifier({ publicKeys: [KEY_B, KEY_A] }).verify(SIGNED)).valid).toBe(true);
    expect((await new FirmwareVerifier({ publicKeys: [KEY_A, KEY_B] }).verify(SIGNED)).valid).toBe(true);
    const other = readFileSync(fixturePath('fw/signed-other-key.fw'));
    expect((await new FirmwareVerifier({ publicKeys: [KEY_A, KEY_B] }).verify(other)).valid).toBe(true);
    expect(await new FirmwareVerifier({ publicKeys: [KEY_A] }).verify(other)).toMatchObject({
      valid: false,
      code: 'NH_FW_BAD_SIGNATURE',
    });
  });
});

describe('inputs', () => {
  const verifier = new FirmwareVerifier({ publicKeys: [KEY_A] });

  it('reads a path, a Readable, an AsyncIterable and bytes alike', async () => {
    const results = [
      await verifier.verify(SIGNED),
      await verifier.verify(createReadStream(SIGNED, { highWaterMark: 97 })),
      await verifier.verify(Readable.from(chunked(signedBytes, 1000))),
      await verifier.verify(iterate(chunked(signedBytes, 333))),
      await verifier.verify(new Uint8Array(signedBytes)),
    ];
    for (const r of results) expect(r).toEqual(results[0]);
    expect(results[0]!.valid).toBe(true);
  });

  it('works with 1-byte chunks, for valid and invalid archives', async () => {
    expect((await verifier.verify(iterate(chunked(signedBytes, 1)))).valid).toBe(true);
    for (const [fixture, code] of [
      ['tampered-resource-crc-ok.fw', 'NH_FW_DIGEST_MISMATCH'],
      ['truncated-zip.fw', 'NH_FW_MALFORMED'],
      ['missing-resource.fw', 'NH_FW_MISSING_RESOURCE'],
    ] as const) {
      const bytes = readFileSync(fixturePath(`fw/${fixture}`));
      expect(await verifier.verify(iterate(chunked(bytes, 1)))).toMatchObject({ valid: false, code });
    }
  });

  it('aborts a verification in progress (stalled source) with the signal reason', async () => {
    const controller = new AbortController();
    let resumed = false;
    async function* stalled(): AsyncGenerator<Uint8Array> {
      yield signedBytes.subarray(0, 600);
      controller.abort(new Error('stop now'));
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      resumed = true;
      yield signedBytes.subarray(600);
    }
    const started = Date.now();
    await expect(verifier.verify(stalled(), { signal: controller.signal })).rejects.toThrow('stop now');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(resumed).toBe(false);
  });

  it('rejects at once with an already aborted signal, and for a missing file throws the I/O error', async () => {
    await expect(verifier.verify(SIGNED, { signal: AbortSignal.abort() })).rejects.toThrow();
    await expect(verifier.verify(fixturePath('fw/does-not-exist.fw'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('rejects sources that yield strings', async () => {
    async function* strings(): AsyncGenerator<string> {
      yield 'PK';
    }
    await expect(verifier.verify(strings() as unknown as AsyncIterable<Uint8Array>)).rejects.toThrow(expect.objectContaining({ code: 'NH_INVALID_OPTIONS' }));
  });
});
