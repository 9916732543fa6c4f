import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** Size of one part of NervesHub's `partials_checksums` (1 MiB). */
export const PART_SIZE_BYTES = 1024 * 1024;

/**
 * Lower-case hex SHA-256 of `bytes`.
 *
 * @example
 * ```ts
 * sha256Hex(new TextEncoder().encode('abc')); // 'ba7816bf…'
 * ```
 */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** True when two hex digests are equal, ignoring case (NervesHub sends upper-case). */
export function sameDigest(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** Number of 1 MiB parts of a file of `sizeBytes` (0 for an empty file). */
export function partCount(sizeBytes: number): number {
  return Math.ceil(sizeBytes / PART_SIZE_BYTES);
}

/**
 * Incremental SHA-256 of a whole stream and of each 1 MiB part (aligned to offset 0), the way
 * NervesHub computes `checksum` and `partials_checksums`.
 *
 * @example
 * ```ts
 * const parts = new Sha256Parts();
 * for await (const chunk of source) parts.update(chunk);
 * const { whole, parts: digests } = parts.digest();
 * ```
 */
export class Sha256Parts {
  readonly #whole: Hash | undefined;
  #part: Hash = createHash('sha256');
  #partFill = 0;
  readonly #digests: string[] = [];
  #finished = false;

  /** `wholeFile: false` skips the whole-file digest (`digest().whole` is then `undefined`). */
  constructor(options: { wholeFile?: boolean } = {}) {
    this.#whole = options.wholeFile === false ? undefined : createHash('sha256');
  }

  /** Feeds the next bytes of the file. */
  update(chunk: Uint8Array): void {
    if (this.#finished) throw new Error('Sha256Parts.update after digest');
    this.#whole?.update(chunk);
    let at = 0;
    while (at < chunk.length) {
      const take = Math.min(PART_SIZE_BYTES - this.#partFill, chunk.length - at);
      this.#part.update(chunk.subarray(at, at + take));
      this.#partFill += take;
      at += take;
      if (this.#partFill === PART_SIZE_BYTES) {
        this.#digests.push(this.#part.digest('hex'));
        this.#part = createHash('sha256');
        this.#partFill = 0;
      }
    }
  }

  /** Finishes: the whole-file digest and one digest per part (the last part may be short). */
  digest(): {
    /** Lowercase hex SHA-256 of everything (`undefined` with `wholeFile: false`). */
    whole: string | undefined;
    /** Lowercase hex SHA-256 of each part, in order. */
    parts: string[];
  } {
    if (!this.#finished) {
      this.#finished = true;
      if (this.#partFill > 0) this.#digests.push(this.#part.digest('hex'));
    }
    return { whole: this.#whole?.digest('hex'), parts: [...this.#digests] };
  }
}

/** Result of {@link verifyFileChecksums}. */
export type FileChecksumResult =
  | {
      /** The file matches. */
      ok: true;
      /** Its size. */
      sizeBytes: number;
    }
  | {
      /** The file does not match. */
      ok: false;
      /** Its size. */
      sizeBytes: number;
      /** What differs: the whole-file checksum, one part, or the number of parts. */
      reason: 'checksum' | 'part' | 'part-count';
      /** Index of the first bad part (`reason: 'part'`). */
      partIndex?: number;
    };

/**
 * Re-verifies a file already on disk (e.g. a cached download) against NervesHub's `checksum`
 * and/or `partials_checksums`, streaming it (never loaded whole into memory).
 *
 * @example
 * ```ts
 * const check = await verifyFileChecksums('/data/cache/fw.part', { checksum: info.checksum, partialsChecksums: info.partialsChecksums });
 * if (!check.ok) await unlink('/data/cache/fw.part');
 * ```
 */
export async function verifyFileChecksums(
  path: string,
  expected: { checksum?: string; partialsChecksums?: readonly string[]; signal?: AbortSignal },
): Promise<FileChecksumResult> {
  const partials = expected.partialsChecksums;
  // As in the downloader: the parts prove every byte, so `checksum` is used only without them.
  const parts = new Sha256Parts({ wholeFile: partials === undefined });
  let sizeBytes = 0;
  const stream = createReadStream(path, { highWaterMark: 256 * 1024, signal: expected.signal });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    parts.update(chunk);
    sizeBytes += chunk.length;
  }
  const { whole, parts: digests } = parts.digest();
  if (partials !== undefined) {
    if (partials.length !== digests.length) return { ok: false, sizeBytes, reason: 'part-count' };
    const bad = digests.findIndex((d, i) => !sameDigest(d, partials[i] ?? ''));
    if (bad >= 0) return { ok: false, sizeBytes, reason: 'part', partIndex: bad };
  } else if (expected.checksum !== undefined && !sameDigest(whole ?? '', expected.checksum)) {
    return { ok: false, sizeBytes, reason: 'checksum' };
  }
  return { ok: true, sizeBytes };
}
