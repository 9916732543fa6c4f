/**
 * ReusingInflater drives zlib's binding synchronously into one reused buffer. It must agree with
 * the stream-based IncrementalInflater on everything the zip parser relies on: the bytes, how much
 * input each write consumed, where the deflate stream ended, and zlib's error code.
 */
import { randomBytes } from 'node:crypto';
import { constants, deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { IncrementalInflater, InflateError } from '../../src/firmware/inflater.js';
import { createReusingInflater } from '../../src/firmware/reusing-inflater.js';
import { ZipStreamParser, type ZipStreamHandler } from '../../src/firmware/zip-stream-parser.js';
import { createFirmware } from '../../src/testing/index.js';

const KiB = 1024;
const MiB = 1024 * KiB;

interface Outcome {
  output: Buffer;
  steps: Array<{ consumed: number; ended: boolean }>;
  error?: number;
}

type Kind = 'reusing' | 'stream';

/** Feeds `pieces` the way the zip parser does (advancing by what was consumed), then finishes. */
async function run(kind: Kind, pieces: Uint8Array[], finish: boolean): Promise<Outcome> {
  const received: Buffer[] = [];
  // Copies: the reusing inflater's chunks are only valid during the call.
  const sink = (chunk: Uint8Array): void => void received.push(Buffer.from(chunk));
  const inflater = kind === 'reusing' ? createReusingInflater(sink)! : new IncrementalInflater(sink);
  expect(inflater).toBeDefined();
  const steps: Outcome['steps'] = [];
  try {
    for (const piece of pieces) {
      const step = await inflater.write(piece);
      steps.push(step);
      if (step.ended) break;
    }
    if (finish && !steps.at(-1)?.ended) await inflater.finish();
    return { output: Buffer.concat(received), steps };
  } catch (error) {
    if (!(error instanceof InflateError)) throw error;
    return { output: Buffer.concat(received), steps, error: error.zlibCode };
  } finally {
    inflater.close();
  }
}

function split(bytes: Uint8Array, sizes: number[]): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    pieces.push(bytes.subarray(at, at + size));
    at += size;
  }
  return pieces;
}

async function expectSame(pieces: Uint8Array[], finish = true): Promise<Outcome> {
  const reusing = await run('reusing', pieces, finish);
  const stream = await run('stream', pieces, finish);
  expect({ ...reusing, output: reusing.output.length }).toEqual({ ...stream, output: stream.output.length });
  expect(reusing.output.equals(stream.output)).toBe(true);
  return reusing;
}

const text = Buffer.from('file-resource rootfs.img { length = 1234 } '.repeat(40_000));
const random = randomBytes(3 * MiB + 123);
const mixed = Buffer.concat([random.subarray(0, MiB), text, Buffer.alloc(2 * MiB), random.subarray(MiB)]);

describe('ReusingInflater agrees with the stream-based inflater', () => {
  it('valid streams (stored and Huffman blocks, 0 to 6 MiB) in uneven pieces', async () => {
    for (const data of [Buffer.alloc(0), Buffer.from('x'), text, random, mixed]) {
      for (const level of [0, 1, 9]) {
        const compressed = deflateRawSync(data, { level });
        for (const sizes of [[compressed.length], [MiB], [1, 7, 16 * KiB, 333_333]]) {
          const outcome = await expectSame(split(compressed, sizes));
          expect(outcome.error).toBeUndefined();
          expect(outcome.output.equals(data)).toBe(true);
        }
      }
    }
  });

  it('finds the end of the stream inside a piece and leaves what follows (a data descriptor)', async () => {
    const compressed = deflateRawSync(mixed, { level: 6 });
    const trailer = Buffer.from('504b07080123456789abcdef01234567', 'hex');
    const outcome = await expectSame(split(Buffer.concat([compressed, trailer]), [MiB]));
    const consumed = outcome.steps.reduce((sum, s) => sum + s.consumed, 0);
    expect(consumed).toBe(compressed.length);
    expect(outcome.steps.at(-1)).toMatchObject({ ended: true });
    // The stream ends exactly at a piece boundary: the next piece is consumed by 0 bytes.
    const atBoundary = await expectSame([compressed, trailer]);
    expect(atBoundary.steps).toEqual([
      { consumed: compressed.length, ended: false },
      { consumed: 0, ended: true },
    ]);
  });

  it('a truncated stream fails at finish with Z_BUF_ERROR (-5), a corrupt one with Z_DATA_ERROR (-3)', async () => {
    const compressed = deflateRawSync(mixed, { level: 9 });
    const truncated = await expectSame(split(compressed.subarray(0, compressed.length - 1000), [256 * KiB]));
    expect(truncated.error).toBe(constants.Z_BUF_ERROR);
    const corrupt = Buffer.from(compressed);
    corrupt[0] = 0x07; // BFINAL=1, BTYPE=11: reserved block type
    expect((await expectSame([corrupt])).error).toBe(constants.Z_DATA_ERROR);
    const corruptLater = deflateRawSync(text, { level: 9 });
    corruptLater.fill(0xff, 2000, 2100);
    // Garbage inside Huffman data: zlib fails (-3) or decodes other bytes; both inflaters agree.
    const later = await expectSame(split(corruptLater, [1500]));
    expect(later.error === constants.Z_DATA_ERROR || !later.output.equals(text)).toBe(true);
  });

  it('a sink that throws stops inflating, and the error is the sink error', async () => {
    let calls = 0;
    const inflater = createReusingInflater(() => {
      calls += 1;
      throw new RangeError('too long');
    })!;
    await expect(inflater.write(deflateRawSync(random))).rejects.toThrow(RangeError);
    await expect(inflater.write(deflateRawSync(random))).rejects.toThrow(RangeError);
    expect(calls).toBe(1);
    inflater.close();
  });
});

describe('the zip parser picks the inflater by what its sinks promise', () => {
  async function chunksOf(transientChunks: boolean) {
    const resource = Buffer.concat([random, text]);
    const archive = await createFirmware({ resources: { 'rootfs.img': resource }, meta: { product: 'inflate', version: '1.0.0' }, compression: 9 });
    const seen: Uint8Array[] = [];
    const kept: Buffer[] = [];
    const handler: ZipStreamHandler = {
      ...(transientChunks ? { transientChunks } : {}),
      entryStart: (entry) => (entry.name === 'data/rootfs.img' ? (data) => void (seen.push(data), kept.push(Buffer.from(data))) : () => {}),
      entryEnd: () => {},
      localEntriesEnd: () => {},
    };
    const parser = new ZipStreamParser(handler);
    for (const piece of split(archive, [64 * KiB])) await parser.push(piece);
    await parser.finish();
    expect(Buffer.concat(kept).equals(resource)).toBe(true);
    return seen;
  }

  it('transientChunks: every chunk of a 3.5 MiB deflated entry is a view of the same buffer', async () => {
    const seen = await chunksOf(true);
    expect(seen.length).toBeGreaterThan(8);
    expect(new Set(seen.map((c) => c.buffer)).size).toBe(1);
  });

  it('without it (sinks that keep chunks, like the delta rebuild): fresh buffers that stay intact', async () => {
    const seen = await chunksOf(false);
    // zlib may fill one output buffer over several chunks, but no region is ever written twice.
    const regions = seen.map((c) => ({ buffer: c.buffer, start: c.byteOffset, end: c.byteOffset + c.length }));
    const overlapping = regions.some((a, i) => regions.some((b, j) => i !== j && a.buffer === b.buffer && a.start < b.end && b.start < a.end));
    expect(seen.length).toBeGreaterThan(8);
    expect(overlapping).toBe(false);
    const resource = Buffer.concat([random, text]);
    expect(Buffer.concat(seen).equals(resource)).toBe(true);
  });
});
