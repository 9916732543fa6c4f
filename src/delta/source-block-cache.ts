import { DeltaError } from './delta-error.js';
import type { DeltaSourceFile } from './delta-source.js';

/** Source reads are made in blocks this large and kept in a small LRU cache. */
export const SOURCE_CACHE_DEFAULTS = Object.freeze({
  blockBytes: 1024 * 1024,
  maxBlocks: 8,
});

/**
 * A bounded cache of source blocks: a patch's copies are mostly forward and local, so a few
 * blocks turn many small copies into few large reads. Memory: `blockBytes × maxBlocks`.
 */
export class SourceBlockCache {
  readonly #blocks = new Map<number, Uint8Array>();

  readonly #source: DeltaSourceFile;
  readonly #blockBytes: number;
  readonly #maxBlocks: number;

  constructor(source: DeltaSourceFile, blockBytes: number = SOURCE_CACHE_DEFAULTS.blockBytes, maxBlocks: number = SOURCE_CACHE_DEFAULTS.maxBlocks) {
    this.#source = source;
    this.#blockBytes = blockBytes;
    this.#maxBlocks = maxBlocks;
  }

  /**
   * Copies `length` source bytes at `offset` into `out` at `outPos`. Synchronous (returns
   * `undefined`) when every block is cached, so the decoder awaits only on a miss.
   */
  copy(out: Uint8Array, outPos: number, offset: number, length: number): Promise<void> | undefined {
    while (length > 0) {
      const index = Math.floor(offset / this.#blockBytes);
      const block = this.#blocks.get(index);
      if (!block) return this.#load(index).then(() => this.copy(out, outPos, offset, length));
      const inBlock = offset - index * this.#blockBytes;
      const n = Math.min(length, block.length - inBlock);
      if (n <= 0) throw new DeltaError('NH_DELTA_WRONG_SOURCE', `the patch reads past the end of the source (${this.#source.size} bytes)`);
      out.set(block.subarray(inBlock, inBlock + n), outPos);
      outPos += n;
      offset += n;
      length -= n;
    }
    return undefined;
  }

  async #load(index: number): Promise<void> {
    const start = index * this.#blockBytes;
    const length = Math.min(this.#blockBytes, this.#source.size - start);
    if (length <= 0) throw new DeltaError('NH_DELTA_WRONG_SOURCE', `the patch reads past the end of the source (${this.#source.size} bytes)`);
    const bytes = await this.#source.read(start, length);
    if (bytes.length !== length) {
      throw new DeltaError('NH_DELTA_WRONG_SOURCE', `the delta source returned ${bytes.length} bytes at offset ${start} instead of ${length}`);
    }
    if (this.#blocks.size >= this.#maxBlocks) this.#blocks.delete(this.#blocks.keys().next().value!);
    this.#blocks.set(index, bytes);
  }
}
