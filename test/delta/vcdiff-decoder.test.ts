// The TypeScript VCDIFF decoder against Debian's xdelta3: byte-for-byte the same output on real
// patches (NervesHub's command line), and typed refusals of wrong, truncated, corrupt or oversized ones.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeltaError } from '../../src/delta/delta-error.js';
import { decodeVcdiff } from '../../src/delta/vcdiff-decoder.js';
import { FUZZ_SEED, fuzzRuns } from '../fuzz/fuzz-settings.js';
import { HAS_XDELTA3, chunked, collect, deltaFixture, memorySource, pseudoRandomBytes, xdelta3Decode, xdelta3Encode, zipEntries } from './helpers.js';

async function decode(patch: Uint8Array, source: Uint8Array, outputBytes: number, chunkSize = 65_536, maxWindowBytes?: number): Promise<Uint8Array> {
  return collect(decodeVcdiff(chunked(patch, chunkSize), memorySource(source), { outputBytes, ...(maxWindowBytes ? { maxWindowBytes } : {}) }));
}

async function refusal(promise: Promise<unknown>): Promise<DeltaError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(DeltaError);
  return error as DeltaError;
}

function edit(source: Uint8Array, runs: Array<[offset: number, bytes: Uint8Array]>, append: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(source.length + append.length);
  out.set(source);
  for (const [offset, bytes] of runs) out.set(bytes, offset);
  out.set(append, source.length);
  return out;
}

describe('VCDIFF decoder: the fwup-delta fixture (made by Debian xdelta3 3.0.11 for real fwup)', () => {
  it('rebuilds rootfs 2 and boot.cfg 2 from their version-1 files, in any chunking', async () => {
    const entries = new Map((await zipEntries(readFileSync(deltaFixture('fw/delta-1-to-2.fw')))).map((e) => [e.name, e.data]));
    const pairs = [
      ['data/rootfs.bin', 'resources/rootfs-1.bin', 'resources/rootfs-2.bin'],
      ['data/boot.cfg', 'resources/boot-1.cfg', 'resources/boot-2.cfg'],
    ] as const;
    for (const [entry, before, after] of pairs) {
      const patch = entries.get(entry)!;
      const expected = new Uint8Array(readFileSync(deltaFixture(after)));
      for (const size of [1, 3, 97, 1 << 20]) {
        expect(Buffer.from(await decode(patch, readFileSync(deltaFixture(before)), expected.length, size)).equals(expected)).toBe(true);
      }
    }
  });

  it('refuses the tampered fixture patch (fwup: "xdelta3 error: size too large") with a typed error', async () => {
    const entries = new Map((await zipEntries(readFileSync(deltaFixture('fw/delta-1-to-2-tampered.fw')))).map((e) => [e.name, e.data]));
    const error = await refusal(decode(entries.get('data/rootfs.bin')!, readFileSync(deltaFixture('resources/rootfs-1.bin')), 69_632));
    expect(error.code).toMatch(/^NH_DELTA_(MALFORMED|TOO_LARGE|WRONG_SOURCE)$/);
  });
});

describe.skipIf(!HAS_XDELTA3)('VCDIFF decoder = xdelta3 -d on patches made by xdelta3 -A -S', () => {
  const source = pseudoRandomBytes(300_000, 7);
  const cases: Array<[string, Uint8Array, Uint8Array]> = [
    ['small differences', source, edit(source, [[1000, new Uint8Array(300)], [150_000, pseudoRandomBytes(300, 1)], [299_000, new Uint8Array(50).fill(9)]])],
    ['large differences (half rewritten)', source, edit(source, [[0, pseudoRandomBytes(150_000, 2)]])],
    ['an unchanged resource', source, source],
    ['a target larger than the source', source, edit(source, [[5, pseudoRandomBytes(10, 3)]], pseudoRandomBytes(40_000, 4))],
    ['a target smaller than the source', source, source.slice(20_000, 180_000)],
    ['an empty source', new Uint8Array(0), pseudoRandomBytes(5000, 5)],
    ['an empty target', source, new Uint8Array(0)],
    ['repeats (RUN and overlapping target copies)', source, new Uint8Array(Buffer.concat([new Uint8Array(70_000).fill(0xab), Buffer.from('abcabcabc'.repeat(5000))]))],
  ];
  for (const [name, before, after] of cases) {
    it(`${name}: same bytes as xdelta3 -d`, async () => {
      const patch = xdelta3Encode(before, after);
      const reference = xdelta3Decode(before, patch);
      expect(Buffer.from(reference).equals(after)).toBe(true);
      for (const size of [5, 4096, patch.length || 1]) {
        expect(Buffer.from(await decode(patch, before, after.length, size)).equals(reference)).toBe(true);
      }
    });
  }

  it('several windows (a 9 MiB target: xdelta3 writes 8 MiB windows) against a source read through the block cache', async () => {
    const before = pseudoRandomBytes(9 << 20, 11);
    const after = edit(before, [[4096, pseudoRandomBytes(4096, 12)], [(8 << 20) + 17, pseudoRandomBytes(100_000, 13)]], pseudoRandomBytes(1 << 20, 14));
    const patch = xdelta3Encode(before, after);
    expect(Buffer.from(await decode(patch, before, after.length)).equals(xdelta3Decode(before, patch))).toBe(true);
  }, 60_000);

  it('random edits (property): decode(xdelta3 -A -S patch) = xdelta3 -d = the target', async () => {
    const editArb = fc.record({
      kind: fc.constantFrom('insert', 'delete', 'replace', 'duplicate'),
      at: fc.nat(),
      length: fc.integer({ min: 1, max: 3000 }),
      seed: fc.integer({ min: 1, max: 1 << 30 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 40_000 }), fc.integer({ min: 1, max: 1 << 30 }), fc.array(editArb, { maxLength: 12 }), async (size, seed, edits) => {
        const before = pseudoRandomBytes(size, seed);
        let after = Buffer.from(before);
        for (const e of edits) {
          const at = after.length === 0 ? 0 : e.at % after.length;
          const bytes = Buffer.from(pseudoRandomBytes(e.length, e.seed));
          if (e.kind === 'insert') after = Buffer.concat([after.subarray(0, at), bytes, after.subarray(at)]);
          else if (e.kind === 'delete') after = Buffer.concat([after.subarray(0, at), after.subarray(at + e.length)]);
          else if (e.kind === 'replace') after = Buffer.concat([after.subarray(0, at), bytes, after.subarray(at + e.length)]);
          else after = Buffer.concat([after, after.subarray(at, at + e.length)]);
        }
        const patch = xdelta3Encode(before, after);
        const ours = await decode(patch, before, after.length, 1 + (seed % 5000));
        expect(Buffer.from(ours).equals(after)).toBe(true);
        expect(Buffer.from(ours).equals(xdelta3Decode(before, patch))).toBe(true);
      }),
      { seed: FUZZ_SEED, numRuns: fuzzRuns(25) },
    );
  }, 120_000);
});

describe.skipIf(!HAS_XDELTA3)('VCDIFF decoder refusals', () => {
  const before = pseudoRandomBytes(200_000, 21);
  const after = edit(before, [[10_000, pseudoRandomBytes(2000, 22)]], pseudoRandomBytes(3000, 23));
  const patch = xdelta3Encode(before, after);

  it('a patch against the wrong source: NH_DELTA_WRONG_SOURCE (the window Adler-32)', async () => {
    const other = edit(before, [[50_000, new Uint8Array(10)]]);
    const error = await refusal(decode(patch, other, after.length));
    expect(error.code).toBe('NH_DELTA_WRONG_SOURCE');
    expect(error.message).toMatch(/checksum mismatch/);
  });

  it('a source shorter than the window it names: NH_DELTA_WRONG_SOURCE before any read', async () => {
    const short = memorySource(before.subarray(0, 1000));
    const error = await refusal(collect(decodeVcdiff(chunked(patch, 1 << 20), short, { outputBytes: after.length })));
    expect(error.code).toBe('NH_DELTA_WRONG_SOURCE');
    expect(short.reads).toBe(0);
  });

  it('every truncation: NH_DELTA_MALFORMED, never a short output', async () => {
    for (let cut = 0; cut < patch.length; cut += cut < 64 ? 1 : 97) {
      const error = await refusal(decode(patch.subarray(0, cut), before, after.length, 13));
      expect(error.code).toBe('NH_DELTA_MALFORMED');
    }
  });

  it('every single-byte corruption: a typed refusal or (never otherwise) the right target', async () => {
    const small = xdelta3Encode(before.subarray(0, 3000), edit(before.subarray(0, 3000), [[100, pseudoRandomBytes(40, 24)]], pseudoRandomBytes(200, 25)));
    const target = xdelta3Decode(before.subarray(0, 3000), small);
    let refused = 0;
    for (let at = 0; at < small.length; at++) {
      for (const mask of [0x01, 0x80]) {
        const bad = small.slice();
        bad[at]! ^= mask;
        const result = await decode(bad, before.subarray(0, 3000), target.length).then(
          (out) => out,
          (e: unknown) => e,
        );
        if (result instanceof Uint8Array) expect(Buffer.from(result).equals(target)).toBe(true);
        else {
          expect(result).toBeInstanceOf(DeltaError);
          refused++;
        }
      }
    }
    expect(refused).toBeGreaterThan(small.length);
  });

  it('a window with more output than declared: NH_DELTA_TOO_LARGE; less: NH_DELTA_MALFORMED', async () => {
    const error = await refusal(decode(patch, before, after.length - 1));
    expect(error.code).toBe('NH_DELTA_TOO_LARGE');
    expect((await refusal(decode(patch, before, after.length + 1))).code).toBe('NH_DELTA_MALFORMED');
  });

  it('a window larger than maxWindowBytes: NH_DELTA_TOO_LARGE', async () => {
    const error = await refusal(decode(patch, before, after.length, 65_536, 100_000));
    expect(error.code).toBe('NH_DELTA_TOO_LARGE');
  });

  it('a hand-made window asking for 1 TiB: refused before anything is allocated', async () => {
    // magic, header indicator 0, window: no source, encoding length, target length 2^40 …
    const varint = (n: number): number[] => {
      const digits = [n % 128];
      for (n = Math.floor(n / 128); n > 0; n = Math.floor(n / 128)) digits.unshift(128 + (n % 128));
      return digits;
    };
    const huge = Uint8Array.from([0xd6, 0xc3, 0xc4, 0, 0, 0, ...varint(2 ** 40 + 8), ...varint(2 ** 40), 0, 0, 1, 0]);
    const error = await refusal(decode(huge, before, 2 ** 41, 4));
    expect(error.code).toBe('NH_DELTA_TOO_LARGE');
    // a small window whose sections claim 1 TiB
    const sections = Uint8Array.from([0xd6, 0xc3, 0xc4, 0, 0, 0, ...varint(2 ** 40 + 16), 100, 0, 0, ...varint(2 ** 40), 0]);
    expect((await refusal(decode(sections, before, 100, 4))).code).toBe('NH_DELTA_TOO_LARGE');
  });

  it('what xdelta3 -S does not write: secondary compression, a code table, VCD_TARGET windows → NH_DELTA_UNSUPPORTED', async () => {
    for (const [at, value] of [[4, 0x01], [4, 0x02], [5, 0x02]] as const) {
      const bad = patch.slice();
      bad[at] = value;
      expect((await refusal(decode(bad, before, after.length))).code).toBe('NH_DELTA_UNSUPPORTED');
    }
  });

  it('not VCDIFF at all: NH_DELTA_MALFORMED', async () => {
    expect((await refusal(decode(new TextEncoder().encode('PK\u0003\u0004 not a patch'), before, 100))).code).toBe('NH_DELTA_MALFORMED');
  });
});
