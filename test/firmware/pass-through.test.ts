import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FirmwareVerifier } from '../../src/firmware/firmware-verifier.js';
import { FirmwareVerificationError } from '../../src/firmware/verification-error.js';
import { FIRMWARE_FILES, KEY_A, chunked, expectedVerdict, fixturePath, iterate } from './fwup-fixtures.js';

const verifier = new FirmwareVerifier({ publicKeys: [KEY_A] });

/** Offset of the central directory (from the end record), i.e. just after the last entry's data. */
function centralDirectoryOffset(bytes: Uint8Array): number {
  const view = Buffer.from(bytes);
  return view.readUInt32LE(view.length - 22 + 16);
}

async function drain(bytes: Uint8Array, chunkSize: number) {
  const received: Uint8Array[] = [];
  let receivedAtMetadata = -1;
  let error: unknown;
  try {
    for await (const part of verifier.passThrough(iterate(chunked(bytes, chunkSize)), {
      onMetadata: () => {
        receivedAtMetadata = received.reduce((n, p) => n + p.length, 0);
      },
    })) {
      received.push(part.slice());
    }
  } catch (e) {
    error = e;
  }
  return { out: new Uint8Array(Buffer.concat(received)), receivedAtMetadata, error };
}

describe('passThrough', () => {
  for (const fixture of FIRMWARE_FILES) {
    const expected = expectedVerdict(fixture, 'verify_with_key', 'apply_with_key');
    const bytes = readFileSync(fixturePath(`fw/${fixture}`));
    for (const chunkSize of [1, 64, 4096]) {
      it(`${fixture} in ${chunkSize}-byte chunks: ${expected ? `throws ${expected.code}` : 'same bytes out'}`, async () => {
        const { out, receivedAtMetadata, error } = await drain(bytes, chunkSize);
        if (!expected) {
          expect(error).toBeUndefined();
          expect(Buffer.from(out).equals(bytes)).toBe(true);
          expect(receivedAtMetadata).toBe(0);
        } else {
          expect(error).toBeInstanceOf(FirmwareVerificationError);
          expect(error).toMatchObject({ code: expected.code, message: expected.message });
          // The consumer never got the whole archive, and what it got is a prefix of it.
          expect(out.length).toBeLessThan(bytes.length);
          expect(Buffer.from(bytes.subarray(0, out.length)).equals(out)).toBe(true);
          // Nothing before meta.conf is verified; nothing past the bad resource's last byte.
          if (['NH_FW_UNSIGNED', 'NH_FW_BAD_SIGNATURE'].includes(expected.code)) expect(out.length).toBe(0);
          if (fixture === 'tampered-resource-crc-ok.fw') expect(out.length).toBeLessThan(centralDirectoryOffset(bytes));
        }
      });
    }
  }

  it('withholds the last byte of each resource until its digest is checked', async () => {
    const bytes = readFileSync(fixturePath('fw/signed.fw'));
    const cd = centralDirectoryOffset(bytes);
    const seenAfterChunk: number[] = [];
    let total = 0;
    const source = chunked(bytes, 1);
    async function* watched(): AsyncGenerator<Uint8Array> {
      for (const c of source) {
        seenAfterChunk.push(total);
        yield c;
      }
    }
    for await (const part of verifier.passThrough(watched())) total += part.length;
    expect(total).toBe(bytes.length);
    // While reading byte by byte, output always lags input, and the central directory and end
    // record are released only after the end of the input.
    expect(seenAfterChunk.every((n, i) => n <= i)).toBe(true);
    expect(Math.max(...seenAfterChunk)).toBeLessThanOrEqual(cd);
  });

  it('refuses to start without keys and stops when onMetadata throws', async () => {
    const bytes = readFileSync(fixturePath('fw/signed.fw'));
    const noKeys = new FirmwareVerifier({ publicKeys: [] });
    await expect(async () => {
      for await (const _ of noKeys.passThrough(iterate([bytes]))) void _;
    }).rejects.toMatchObject({ code: 'NH_FW_NO_KEYS' });
    let got = 0;
    await expect(async () => {
      for await (const part of verifier.passThrough(iterate(chunked(bytes, 100)), {
        onMetadata: (m) => {
          if (m.product === 'fwup fixture') throw new Error('wrong product');
        },
      })) {
        got += part.length;
      }
    }).rejects.toThrow('wrong product');
    expect(got).toBe(0);
  });

  it('aborts with the signal', async () => {
    const bytes = readFileSync(fixturePath('fw/signed.fw'));
    const controller = new AbortController();
    await expect(async () => {
      for await (const _ of verifier.passThrough(iterate(chunked(bytes, 10)), { signal: controller.signal })) {
        controller.abort(new Error('cancelled'));
      }
    }).rejects.toThrow('cancelled');
  });
});
