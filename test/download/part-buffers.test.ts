import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Downloader, lendDownload } from '../../src/download/downloader.js';
import { PartBuffers } from '../../src/download/part-buffers.js';
import { PART_SIZE_BYTES } from '../../src/download/sha256-parts.js';
import { randomFirmware, startHost, type HostFixture } from './helpers.js';

const SIZE = 6 * PART_SIZE_BYTES + 12_345; // 7 parts, the last one short
const FAST = { timeBetweenRetriesMs: 10, retryJitterRatio: 0, idleTimeoutMs: 2000 };

let fx: HostFixture;
let body: Buffer;
let partials: string[];
let url: string;

function sha(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** True when two of `chunks` share memory (a buffer was written again after it was handed on). */
function overlapping(chunks: Uint8Array[]): boolean {
  const byBuffer = new Map<ArrayBufferLike, Array<[number, number]>>();
  for (const chunk of chunks) {
    const ranges = byBuffer.get(chunk.buffer) ?? [];
    const [start, end] = [chunk.byteOffset, chunk.byteOffset + chunk.length];
    if (ranges.some(([s, e]) => start < e && s < end)) return true;
    ranges.push([start, end]);
    byBuffer.set(chunk.buffer, ranges);
  }
  return false;
}

function downloader(): Downloader {
  return new Downloader({ ca: fx.caPem, retry: FAST });
}

beforeAll(async () => {
  fx = await startHost();
  body = randomFirmware(SIZE);
  partials = [];
  for (let at = 0; at < SIZE; at += PART_SIZE_BYTES) partials.push(sha(body.subarray(at, at + PART_SIZE_BYTES)).toUpperCase());
});

afterAll(async () => {
  await fx.close();
});

beforeEach(() => {
  url = fx.baseUrl + fx.host.add('fw.fw', body);
  fx.host.setFaults('fw.fw', undefined);
});

describe('download buffers', () => {
  it('lending, hands on each part of the partial checksums as one chunk, from a resumed offset too', async () => {
    for (const offset of [0, 2 * PART_SIZE_BYTES]) {
      const lengths: number[] = [];
      const got: Buffer[] = [];
      const lent = lendDownload(downloader(), url, { offset, partialsChecksums: partials, expectedSize: SIZE });
      lent.doneThrough(offset); // the consumer takes part in the lending from the start
      for await (const chunk of lent.chunks) {
        lengths.push(chunk.length);
        got.push(Buffer.from(chunk));
      }
      expect(Buffer.concat(got).equals(body.subarray(offset))).toBe(true);
      expect(lengths).toEqual([...Array<number>(6 - offset / PART_SIZE_BYTES).fill(PART_SIZE_BYTES), 12_345]);
    }
  });

  it('a plain stream hands on chunks of at most 32 KiB (fresh memory the garbage collector frees promptly), never across a part boundary', async () => {
    for (const options of [{ offset: 300_000 }, { partialsChecksums: partials }]) {
      const offset = options.offset ?? 0;
      const got: Buffer[] = [];
      let position = offset;
      for await (const chunk of downloader().stream(url, { ...options, expectedSize: SIZE })) {
        expect(chunk.length).toBeLessThanOrEqual(32 * 1024);
        expect(Math.floor(position / PART_SIZE_BYTES)).toBe(Math.floor((position + chunk.length - 1) / PART_SIZE_BYTES));
        position += chunk.length;
        got.push(Buffer.from(chunk));
      }
      expect(Buffer.concat(got).equals(body.subarray(offset))).toBe(true);
    }
  });

  it('a plain stream never reuses a buffer it handed on', async () => {
    const kept: Uint8Array[] = [];
    for await (const chunk of downloader().stream(url, { partialsChecksums: partials, expectedSize: SIZE })) kept.push(chunk);
    expect(Buffer.concat(kept).equals(body)).toBe(true);
    expect(overlapping(kept)).toBe(false);
  });

  it('a lent buffer is reused only after the consumer is done with every byte it held', async () => {
    const lent = lendDownload(downloader(), url, { partialsChecksums: partials, expectedSize: SIZE });
    const kept: Array<{ chunk: Uint8Array; start: number; copy: Buffer }> = [];
    const reusedAt: Array<{ start: number; done: number; previousEnd: number }> = [];
    let position = 0;
    let done = 0;
    const ends = new Map<ArrayBufferLike, number>();
    for await (const chunk of lent.chunks) {
      const previousEnd = ends.get(chunk.buffer);
      if (previousEnd !== undefined) reusedAt.push({ start: position, done, previousEnd });
      kept.push({ chunk, start: position, copy: Buffer.from(chunk) });
      position += chunk.length;
      ends.set(chunk.buffer, position);
      // The consumer lags two parts behind, like a writer with writes in flight.
      done = Math.max(0, position - 2 * PART_SIZE_BYTES);
      lent.doneThrough(done);
    }
    expect(position).toBe(SIZE);
    // Buffers were reused, and each only once the consumer was done with its earlier bytes.
    expect(reusedAt.length).toBeGreaterThan(0);
    for (const reuse of reusedAt) expect(reuse.previousEnd).toBeLessThanOrEqual(reuse.done);
    // Every chunk the consumer was not done with still holds its bytes.
    for (const { chunk, start, copy } of kept) {
      if (start + chunk.length > done) expect(Buffer.from(chunk).equals(copy)).toBe(true);
    }
    expect(Buffer.concat(kept.map((k) => k.copy)).equals(body)).toBe(true);
  });

  it('without doneThrough, a lending download reuses nothing and hands over 32 KiB buffers (no 1 MiB garbage)', async () => {
    const lent = lendDownload(downloader(), url, { partialsChecksums: partials, expectedSize: SIZE });
    const kept: Uint8Array[] = [];
    for await (const chunk of lent.chunks) kept.push(chunk);
    expect(Buffer.concat(kept).equals(body)).toBe(true);
    expect(overlapping(kept)).toBe(false);
    expect(Math.max(...kept.map((chunk) => chunk.buffer.byteLength))).toBeLessThanOrEqual(32 * 1024);
  });
});

describe('PartBuffers', () => {
  it('never reuses a buffer with bytes that were not handed on (a part dropped after a checksum failure)', () => {
    const buffers = new PartBuffers({ lend: true, partBytes: 16 });
    buffers.doneThrough(0); // lending starts
    const dropped = buffers.take(16);
    buffers.handedOn(dropped.subarray(0, 8), 8); // the rest of the part was discarded
    buffers.doneThrough(1_000);
    const whole = buffers.take(16);
    expect(whole.buffer).not.toBe(dropped.buffer);
    buffers.handedOn(whole, 24);
    buffers.doneThrough(23);
    expect(buffers.take(16).buffer).not.toBe(whole.buffer); // not done with its last byte yet
    buffers.doneThrough(24);
    expect(buffers.take(16).buffer).toBe(whole.buffer);
  });

  it('does not lend unless asked to', () => {
    const buffers = new PartBuffers({ partBytes: 16 });
    const first = buffers.take(16);
    buffers.handedOn(first, 16);
    buffers.doneThrough(16);
    expect(buffers.take(16).buffer).not.toBe(first.buffer);
  });
});
