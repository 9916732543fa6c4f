import { DeltaError } from './delta-error.js';
import type { DeltaSourceFile } from './delta-source.js';
import { SourceBlockCache } from './source-block-cache.js';
import { executeWindow } from './vcdiff-execute.js';
import { VcdiffStreamParser } from './vcdiff-stream-parser.js';
import { invalidOptions } from '../errors.js';

/** Defaults of {@link VcdiffDecoderOptions}. */
export const VCDIFF_DECODER_DEFAULTS = Object.freeze({
  /** xdelta3's hard maximum window (XD3_HARDMAXWINSIZE); it writes 8 MiB windows by default. */
  maxWindowBytes: 16 * 1024 * 1024,
});

/**
 * Options of {@link VcdiffDecoder} and {@link decodeVcdiff}.
 *
 * @example
 * ```ts
 * const options: VcdiffDecoderOptions = { outputBytes: declaredLength, maxWindowBytes: 8 << 20 };
 * ```
 */
export interface VcdiffDecoderOptions {
  /**
   * The bytes the patch must produce: the declared (signed) length of the target. A window past it
   * is refused before it is allocated (`NH_DELTA_TOO_LARGE`); a patch that ends short of it is
   * truncated (`NH_DELTA_MALFORMED`).
   */
  outputBytes: number;
  /** Largest target window accepted (default 16 MiB). Memory is about twice this. */
  maxWindowBytes?: number;
  /** Aborts decoding. */
  signal?: AbortSignal;
}

/**
 * Streaming VCDIFF (RFC 3284) decoder for the patches `xdelta3 -S` writes: default code table, no
 * secondary compression, `VCD_SOURCE` windows, xdelta3's per-window Adler-32 checked when present.
 * Bytes are pushed as they arrive; target windows come out as soon as each is complete and its
 * checksum verified. Memory: one window's sections and target (bounded by `maxWindowBytes`, checked
 * before allocation) plus a small source cache. Every failure is a {@link DeltaError}.
 *
 * @example
 * ```ts
 * const decoder = new VcdiffDecoder(previous, { outputBytes: 69_632 });
 * for await (const chunk of patch) {
 *   decoder.push(chunk);
 *   for await (const bytes of decoder.drain()) out.write(bytes);
 * }
 * for await (const bytes of decoder.end()) out.write(bytes);
 * ```
 */
export class VcdiffDecoder {
  readonly #parser: VcdiffStreamParser;
  readonly #cache: SourceBlockCache;
  #produced = 0;

  readonly #options: VcdiffDecoderOptions;

  /**
   * A decoder reading copies from `source`, with window and output limits from `options`.
   * @throws NervesHubError `NH_INVALID_OPTIONS` for a bad `outputBytes`/`maxWindowBytes`.
   */
  constructor(
    source: DeltaSourceFile,
    options: VcdiffDecoderOptions,
  ) {
    this.#options = options;
    const maxWindowBytes = options.maxWindowBytes ?? VCDIFF_DECODER_DEFAULTS.maxWindowBytes;
    for (const [name, value] of [['outputBytes', options.outputBytes], ['maxWindowBytes', maxWindowBytes]] as const) {
      if (!Number.isSafeInteger(value) || value < 0) throw invalidOptions(`VcdiffDecoder: ${name} must be a non-negative integer`);
    }
    this.#parser = new VcdiffStreamParser({ maxWindowBytes, maxOutputBytes: options.outputBytes, sourceSize: source.size });
    this.#cache = new SourceBlockCache(source);
  }

  /** Target bytes produced so far. */
  get outputBytes(): number {
    return this.#produced;
  }

  /** Feeds patch bytes (parsed synchronously; call {@link VcdiffDecoder.drain} to run the complete windows). */
  push(chunk: Uint8Array): void {
    this.#parser.push(chunk);
  }

  /** Runs the windows completed so far and yields their target bytes. */
  async *drain(): AsyncGenerator<Uint8Array> {
    const { ready } = this.#parser;
    while (ready.length > 0) {
      this.#options.signal?.throwIfAborted();
      const target = await executeWindow(ready.shift()!, this.#cache);
      this.#produced += target.length;
      if (target.length > 0) yield target;
    }
  }

  /** Declares the end of the patch and yields the rest; throws when the patch is truncated. */
  async *end(): AsyncGenerator<Uint8Array> {
    this.#parser.finish();
    if (this.#parser.declaredOutputBytes !== this.#options.outputBytes) {
      throw new DeltaError('NH_DELTA_MALFORMED', `VCDIFF patch is truncated: its windows make ${this.#parser.declaredOutputBytes} of the declared ${this.#options.outputBytes} bytes`);
    }
    yield* this.drain();
  }
}

/**
 * Decodes a whole VCDIFF patch against `source`, streaming: see {@link VcdiffDecoder}.
 *
 * @throws DeltaError (`NH_DELTA_*`) for a malformed, unsupported, oversized or mismatched patch;
 *   the signal's reason on abort.
 *
 * @example
 * ```ts
 * for await (const bytes of decodeVcdiff(createReadStream('rootfs.vcdiff'), previous, { outputBytes: 64 << 20 })) {
 *   await out.write(bytes);
 * }
 * ```
 */
export async function* decodeVcdiff(
  patch: AsyncIterable<Uint8Array>,
  source: DeltaSourceFile,
  options: VcdiffDecoderOptions,
): AsyncGenerator<Uint8Array> {
  const decoder = new VcdiffDecoder(source, options);
  for await (const chunk of patch) {
    options.signal?.throwIfAborted();
    decoder.push(chunk);
    yield* decoder.drain();
  }
  yield* decoder.end();
}
