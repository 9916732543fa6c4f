import { createHash, type Hash } from 'node:crypto';
import { DownloadError, DownloadErrorCodes } from './download-error.js';
import { PART_SIZE_BYTES, partCount, sameDigest } from './sha256-parts.js';

/** A 1 MiB part failed its SHA-256; the downloader re-requests it from `partStart`. */
export class PartChecksumMismatch extends Error {
  constructor(
    readonly partIndex: number,
    readonly partStart: number,
  ) {
    super(`part ${partIndex} (offset ${partStart}) failed its SHA-256 check`);
  }
}

/**
 * Holds download bytes back in 1 MiB parts (aligned to file offset 0) until they are proven:
 * each part against `partials_checksums`, or — when there are none — the last one against the
 * whole-file `checksum`, so no unverified byte is ever handed to the consumer. The last part also
 * waits for the end of the file, where the number of parts is checked.
 */
export class VerifiedParts {
  readonly #partials: readonly string[] | undefined;
  readonly #checksum: string | undefined;
  #whole: Hash | undefined;
  #partStart: number;
  #chunks: Buffer[] = [];
  #fill = 0;
  #held: { index: number; chunks: Buffer[] } | undefined;
  /** SHA-256 of the current part, fed as bytes arrive (only with partial checksums). */
  #partHash: Hash | undefined;
  /** Total size when known (a full part below it can be released without waiting). */
  total: number | undefined;

  constructor(startOffset: number, expected: { partialsChecksums?: readonly string[]; checksum?: string }) {
    this.#partials = expected.partialsChecksums;
    this.#checksum = expected.checksum;
    this.#partStart = startOffset;
    // With partial checksums every byte is proven by its part (and the part count by finish()), so
    // a whole-file SHA-256 would prove nothing more and costs a second pass (~0.23 s of CPU per
    // 256 MiB): like nerves_hub_link's PartsUpdater, `checksum` is used only without partials. It
    // needs every byte, so a resumed (offset > 0) download cannot prove it here (the cached
    // strategy re-checks its file).
    this.#whole = startOffset === 0 && this.#checksum !== undefined && this.#partials === undefined ? createHash('sha256') : undefined;
    this.#partHash = this.#newPartHash();
  }

  /** File offset of the first byte not yet released (resume point after a checksum failure). */
  get partStart(): number {
    return this.#partStart;
  }

  /** File offset just past the bytes held so far. */
  get position(): number {
    return this.#partStart + this.#fill;
  }

  /**
   * Adds received bytes; returns the bytes now proven and releasable, in order (the received
   * chunks themselves, not copies: a part is hashed as it arrives). On a partial checksum failure
   * the bad part is dropped, the rest of `chunk` ignored and `mismatch` set.
   */
  push(chunk: Buffer): { ready: Buffer[]; mismatch?: PartChecksumMismatch } {
    const out: Buffer[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.#held !== undefined) this.#release(out);
      const take = Math.min(PART_SIZE_BYTES - (this.#partStart % PART_SIZE_BYTES) - this.#fill, chunk.length - at);
      const piece = take === chunk.length ? chunk : chunk.subarray(at, at + take);
      this.#chunks.push(piece);
      this.#partHash?.update(piece);
      this.#fill += take;
      at += take;
      if ((this.#partStart + this.#fill) % PART_SIZE_BYTES === 0) {
        const index = Math.floor(this.#partStart / PART_SIZE_BYTES);
        try {
          this.#checkPart(index);
        } catch (error) {
          if (!(error instanceof PartChecksumMismatch)) throw error;
          this.discardCurrentPart();
          return { ready: out, mismatch: error };
        }
        this.#held = { index, chunks: this.#chunks };
        this.#partStart += this.#fill;
        this.#chunks = [];
        this.#fill = 0;
        // Release at once unless this could be the final part (which must wait for the whole-file check).
        if (this.total !== undefined && this.#partStart < this.total) this.#release(out);
      }
    }
    return { ready: out };
  }

  /** Drops the bytes of the current, unproven part (to re-request it). */
  discardCurrentPart(): void {
    this.#chunks = [];
    this.#fill = 0;
    this.#partHash = this.#newPartHash();
  }

  /** End of file: proves the last part and the whole file; returns what is left to release. */
  finish(): Buffer[] {
    const out: Buffer[] = [];
    const lastIndex = Math.floor(this.#partStart / PART_SIZE_BYTES);
    let last: Buffer[] = [];
    if (this.#fill > 0) {
      this.#checkPart(lastIndex);
      if (this.#held !== undefined) this.#release(out);
      last = this.#chunks;
    } else if (this.#held !== undefined) {
      last = this.#held.chunks;
      this.#held = undefined;
    }
    const end = this.#partStart + this.#fill;
    if (this.#partials !== undefined && this.#partials.length !== partCount(end)) {
      throw new DownloadError(
        DownloadErrorCodes.checksumMismatch,
        `the server listed ${this.#partials.length} partial checksums but the file has ${partCount(end)} parts of 1 MiB`,
      );
    }
    for (const piece of last) this.#whole?.update(piece);
    if (this.#whole !== undefined && this.#checksum !== undefined) {
      const digest = this.#whole.digest('hex');
      if (!sameDigest(digest, this.#checksum)) {
        throw new DownloadError(DownloadErrorCodes.checksumMismatch, `the firmware's SHA-256 ${digest} does not match the expected ${this.#checksum.toLowerCase()}`);
      }
    }
    out.push(...last);
    this.#chunks = [];
    this.#fill = 0;
    return out;
  }

  /** Moves the held (proven) part to `out`. */
  #release(out: Buffer[]): void {
    const held = this.#held;
    if (held === undefined) throw new Error('nothing held');
    this.#held = undefined;
    for (const piece of held.chunks) {
      this.#whole?.update(piece);
      out.push(piece);
    }
  }

  #newPartHash(): Hash | undefined {
    return this.#partials === undefined ? undefined : createHash('sha256');
  }

  /** Checks the part just completed (its bytes went through `#partHash`), then starts the next hash. */
  #checkPart(index: number): void {
    if (this.#partials === undefined) return;
    const expected = this.#partials[index];
    if (expected === undefined) {
      throw new DownloadError(DownloadErrorCodes.checksumMismatch, `part ${index} has no partial checksum (the server listed ${this.#partials.length})`);
    }
    const digest = this.#partHash?.digest('hex') ?? '';
    this.#partHash = this.#newPartHash();
    if (!sameDigest(digest, expected)) throw new PartChecksumMismatch(index, this.#partStart);
  }
}
