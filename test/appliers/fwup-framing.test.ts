import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FRAMED_INPUT_END, FwupFramingDecoder, frameInput, fwupMessageOf, type FwupFrame } from '../../src/update/fwup-framing.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/fwup');
const results = JSON.parse(readFileSync(join(FIXTURES, 'expected/results.json'), 'utf8')) as Array<{
  saved_as?: string;
  packets?: Array<{ type?: string; code?: number; message?: string; exit_handshake_status?: number }>;
}>;
const captures = readdirSync(join(FIXTURES, 'framing')).filter((f) => f.endsWith('.framing.bin'));

function expectedFrames(file: string): FwupFrame[] {
  const entry = results.find((r) => r.saved_as === `framing/${file}`);
  if (!entry?.packets) throw new Error(`no recorded packets for ${file}`);
  return entry.packets.map((p) =>
    p.exit_handshake_status !== undefined
      ? { kind: 'exit-handshake' as const, status: p.exit_handshake_status }
      : { kind: 'packet' as const, type: p.type ?? '', code: p.code ?? -1, message: p.message ?? '' },
  );
}

function decodeInPieces(bytes: Buffer, cuts: number[]): FwupFrame[] {
  const decoder = new FwupFramingDecoder();
  const frames: FwupFrame[] = [];
  let at = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    frames.push(...decoder.push(bytes.subarray(at, cut)));
    at = cut;
  }
  frames.push(...decoder.push(bytes.subarray(at)));
  decoder.end();
  return frames;
}

describe('fwup framing decoder', () => {
  it('covers every recorded capture', () => {
    expect(captures.length).toBeGreaterThanOrEqual(10);
  });

  for (const file of captures) {
    it(`decodes ${file} like the recording, whole, byte by byte and in random pieces`, () => {
      const bytes = readFileSync(join(FIXTURES, 'framing', file));
      const expected = expectedFrames(file);
      expect(decodeInPieces(bytes, [])).toEqual(expected);
      expect(decodeInPieces(bytes, Array.from({ length: bytes.length }, (_, i) => i))).toEqual(expected);
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 12 }), (cuts) => {
          expect(decodeInPieces(bytes, cuts)).toEqual(expected);
        }),
        { seed: 0x5eed, numRuns: 60 },
      );
    });
  }

  it('maps packets to FwupMessage', () => {
    const frames = decodeInPieces(readFileSync(join(FIXTURES, 'framing/apply-tampered.framing.bin')), []);
    const messages = frames.flatMap((f) => (f.kind === 'packet' ? [fwupMessageOf(f)] : []));
    expect(messages).toEqual([
      { type: 'progress', percent: 0 },
      { type: 'warning', message: 'fixture: complete task starting' },
      { type: 'progress', percent: 33 },
      { type: 'progress', percent: 99 },
      { type: 'error', message: "raw_write detected blake2b mismatch on 'rootfs.bin'" },
    ]);
    expect(fwupMessageOf({ kind: 'packet', type: 'OK', code: 0, message: '' })).toEqual({ type: 'ok', message: '' });
    expect(fwupMessageOf({ kind: 'packet', type: 'ZZ', code: 0, message: 'x' })).toEqual({ type: 'warning', message: '[ZZ] x' });
  });

  it('rejects garbage and truncated output with NH_FWUP_FRAMING', () => {
    expect(() => new FwupFramingDecoder().push(Buffer.from([0, 0, 0, 2, 0x50, 0x52]))).toThrow(expect.objectContaining({ code: 'NH_FWUP_FRAMING' }));
    const decoder = new FwupFramingDecoder();
    expect(decoder.push(Buffer.from([0, 0, 0, 4, 0x50, 0x52]))).toEqual([]);
    expect(decoder.pendingBytes).toBe(6);
    expect(() => decoder.end()).toThrow(expect.objectContaining({ code: 'NH_FWUP_FRAMING' }));
  });
});

describe('fwup input framing', () => {
  it('reproduces signed.fw.framed-input.bin byte for byte with 1000-byte packets', () => {
    const archive = readFileSync(join(FIXTURES, 'fw/signed.fw'));
    const expected = readFileSync(join(FIXTURES, 'framing/signed.fw.framed-input.bin'));
    const framed = Buffer.concat([...frameInput(archive, 1000), FRAMED_INPUT_END]);
    expect(framed.length).toBe(expected.length);
    expect(framed.equals(expected)).toBe(true);
  });

  it('frames any bytes so that unframing gives them back', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 1, max: 700 }), (bytes, size) => {
        const framed = Buffer.concat([...frameInput(bytes, size)]);
        const out: Buffer[] = [];
        for (let at = 0; at < framed.length; ) {
          const length = framed.readUInt32BE(at);
          expect(length).toBeGreaterThan(0);
          expect(length).toBeLessThanOrEqual(size);
          out.push(framed.subarray(at + 4, at + 4 + length));
          at += 4 + length;
        }
        expect(Buffer.concat(out).equals(Buffer.from(bytes))).toBe(true);
      }),
      { seed: 42, numRuns: 100 },
    );
    expect(() => [...frameInput(new Uint8Array(1), 0)]).toThrow(expect.objectContaining({ code: 'NH_INVALID_OPTIONS' }));
  });
});
