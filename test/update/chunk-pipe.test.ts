import { describe, expect, it } from 'vitest';
import { ChunkPipe } from '../../src/update/chunk-pipe.js';

const bytes = (n: number, fill = 1): Uint8Array => new Uint8Array(n).fill(fill);
const settled = async (p: Promise<unknown>): Promise<boolean> => {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
};

describe('ChunkPipe', () => {
  it('delivers chunks in order and ends after the last one', async () => {
    const pipe = new ChunkPipe(1024);
    const got: number[] = [];
    const reading = (async () => {
      for await (const chunk of pipe) got.push(chunk[0]!);
    })();
    for (let i = 1; i <= 5; i++) await pipe.push(bytes(100, i));
    pipe.end();
    await reading;
    expect(got).toEqual([1, 2, 3, 4, 5]);
  });

  it('holds the producer back at the high-water mark until the consumer takes chunks', async () => {
    const pipe = new ChunkPipe(200);
    await pipe.push(bytes(100));
    const blocked = pipe.push(bytes(100)); // 200 queued: waits
    expect(await settled(blocked)).toBe(false);
    const iterator = pipe[Symbol.asyncIterator]();
    await iterator.next();
    expect(await settled(blocked)).toBe(true);
  });

  it('a consumer that stops early releases the producer; later chunks are dropped', async () => {
    const pipe = new ChunkPipe(100);
    const blocked = pipe.push(bytes(150));
    const iterator = pipe[Symbol.asyncIterator]();
    await iterator.next();
    await iterator.return(undefined);
    await blocked;
    await pipe.push(bytes(1000)); // does not wait: nobody reads
    expect(await settled(pipe.push(bytes(1000)))).toBe(true);
    expect(pipe.consumerLeftEarly).toBe(true);
  });

  it('a consumer that read up to the end did not leave early', async () => {
    const pipe = new ChunkPipe(100);
    const reading = (async () => {
      for await (const chunk of pipe) void chunk;
    })();
    await pipe.push(bytes(10));
    pipe.end();
    await reading;
    expect(pipe.consumerLeftEarly).toBe(false);
  });

  it('fail() ends the consumer with that error', async () => {
    const pipe = new ChunkPipe(100);
    const reading = (async () => {
      for await (const chunk of pipe) void chunk;
    })();
    pipe.fail(new Error('download dropped'));
    await expect(reading).rejects.toThrow('download dropped');
    await expect(pipe.push(bytes(1))).rejects.toThrow(/after end/);
  });
});
