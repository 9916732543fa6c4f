import { PartBuffers, type LentChunks } from '../download/part-buffers.js';
import { readFileChunks } from '../firmware/byte-source.js';

/**
 * Reads a file in 1 MiB chunks whose buffers come back for reuse once the consumer is done with
 * them (`doneThrough`, see {@link PartBuffers}); without that call every chunk is a fresh buffer.
 * The next read runs while the consumer handles the current chunk.
 * @internal
 */
export function lentFileChunks(path: string, signal: AbortSignal): LentChunks {
  const buffers = new PartBuffers({ lend: true });
  async function* chunks(): AsyncGenerator<Uint8Array, void, undefined> {
    let position = 0;
    for await (const chunk of readFileChunks(path, signal, () => buffers.take(buffers.partBytes))) {
      yield chunk;
      position += chunk.length;
      buffers.handedOn(chunk, position);
    }
  }
  return { chunks: chunks(), doneThrough: (offset) => buffers.doneThrough(offset) };
}
