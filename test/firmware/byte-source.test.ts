import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { firmwareChunks } from '../../src/firmware/byte-source.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Lets WeakRefs cleared by a full GC show as cleared (they are kept alive during the current job). */
async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc();
  }
}

describe('firmwareChunks with an AbortSignal', () => {
  it('does not keep chunks it already handed out (a 256 MiB download must not stay in memory)', async () => {
    const refs: WeakRef<Uint8Array>[] = [];
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 64; i++) {
        const chunk = new Uint8Array(64 * 1024).fill(i);
        refs.push(new WeakRef(chunk));
        yield chunk;
      }
    }
    const controller = new AbortController();
    let seen = 0;
    let aliveEarly = -1;
    for await (const chunk of firmwareChunks(source(), controller.signal)) {
      expect(chunk[0]).toBe(seen);
      seen += 1;
      if (seen === 48) {
        await collect();
        // Still iterating with the same signal: the first 40 chunks must be collectable by now.
        aliveEarly = refs.slice(0, 40).filter((ref) => ref.deref() !== undefined).length;
      }
    }
    expect(seen).toBe(64);
    expect(aliveEarly).toBe(0);
  });

  it('still rejects a stalled source at once with the abort reason, and closes it', async () => {
    let closed = false;
    const stalled: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => ({
        next: () => new Promise<IteratorResult<Uint8Array>>(() => {}),
        return: async () => {
          closed = true;
          return { done: true, value: undefined };
        },
      }),
    };
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stop now')), 20);
    const consume = async (): Promise<void> => {
      for await (const _ of firmwareChunks(stalled, controller.signal)) void _;
    };
    await expect(consume()).rejects.toThrow('stop now');
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(closed).toBe(true);
  });
});
