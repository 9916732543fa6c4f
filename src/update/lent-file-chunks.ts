import { open } from 'node:fs/promises';
import { PartBuffers } from '../download/part-buffers.js';
import type { LendingStream } from '../download/lending-stream.js';

/**
 * Reads a file in 1 MiB chunks whose buffers come back for reuse once the consumer is done with
 * them (`doneThrough`, see {@link PartBuffers}); without that call every chunk is a fresh buffer.
 * The next read runs while the consumer handles the current chunk.
 * @internal
 */
export function lentFileChunks(path: string, signal: AbortSignal): LendingStream {
  const buffers = new PartBuffers({ lend: true });
  async function* chunks(): AsyncGenerator<Uint8Array, void, undefined> {
    const handle = await open(path, 'r');
    const read = async (): Promise<Buffer> => {
      const buffer = buffers.take(buffers.partBytes);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      return buffer.subarray(0, bytesRead);
    };
    let pending = read();
    let position = 0;
    try {
      for (;;) {
        signal.throwIfAborted();
        const chunk = await pending;
        if (chunk.length === 0) return;
        pending = read();
        yield chunk;
        position += chunk.length;
        buffers.handedOn(chunk, position);
      }
    } finally {
      await pending.catch(() => undefined);
      await handle.close();
    }
  }
  return { chunks: chunks(), doneThrough: (offset) => buffers.doneThrough(offset) };
}
