import { createHash, type Hash } from 'node:crypto';
import { DownloadError, DownloadErrorCodes } from './download-error.js';
import { PART_SIZE_BYTES, partCount, sameDigest, sha256Hex } from './sha256-parts.js';

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
 * each part against `partials_checksums`, and the last one also against the whole-file
 * `checksum`, so no unverified byte is ever handed to the consumer.
 */
export class VerifiedParts {
  readonly #partials: readonly string[] | undefined;
  readonly #checksum: string | undefined;
  #whole: Hash | undefined;
  #partStart: number;
  #chunks: Buffer[] = [];
  #fill = 0;
  #held: { index: number; bytes: Buffer } | undefined;
  /** Total size when known (a full part below it can be released without waiting). */
  total: number | undefined;

  constructor(startOffset: number, expected: { partialsChecksums?: readonly string[]; checksum?: string }) {
    this.#partials = expected.partialsChecksums;
    this.#checksum = expected.checksum;
    this.#partStart = startOffset;
    // The whole-file digest needs every byte; a resumed (offset > 0) download cannot prove it here.
    this.#whole = startOffset === 0 && this.#checksum !== undefined ? createHash('sha256') : undefined;
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
   * Adds received bytes; returns the parts now proven and releasable, in order. On a partial
   * checksum failure the bad part is dropped, the rest of `chunk` ignored and `mismatch` set.
   */
  push(chunk: Buffer): { ready: Buffer[]; mismatch?: PartChecksumMismatch } {
    const out: Buffer[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.#held !== undefined) out.push(this.#release());
      const take = Math.min(PART_SIZE_BYTES - (this.#partStart % PART_SIZE_BYTES) - this.#fill, chunk.length - at);
      this.#chunks.push(chunk.subarray(at, at + take));
      this.#fill += take;
      at += take;
      if ((this.#partStart + this.#fill) % PART_SIZE_BYTES === 0) {
        const index = Math.floor(this.#partStart / PART_SIZE_BYTES);
        const bytes = Buffer.concat(this.#chunks, this.#fill);
        try {
          this.#checkPart(index, bytes);
        } catch (error) {
          if (!(error instanceof PartChecksumMismatch)) throw error;
          this.discardCurrentPart();
          return { ready: out, mismatch: error };
        }
        this.#held = { index, bytes };
        this.#partStart += this.#fill;
        this.#chunks = [];
        this.#fill = 0;
        // Release at once unless this could be the final part (which must wait for the whole-file check).
        if (this.total !== undefined && this.#partStart < this.total) out.push(this.#release());
      }
    }
    return { ready: out };
  }

  /** Drops the bytes of the current, unproven part (to re-request it). */
  discardCurrentPart(): void {
    this.#chunks = [];
    this.#fill = 0;
  }

  /** End of file: proves the last part and the whole file; returns what is left to release. */
  finish(): Buffer[] {
    const out: Buffer[] = [];
    const lastIndex = Math.floor(this.#partStart / PART_SIZE_BYTES);
    let last: Buffer | undefined;
    if (this.#fill > 0) {
      last = Buffer.concat(this.#chunks, this.#fill);
      this.#checkPart(lastIndex, last);
      if (this.#held !== undefined) out.push(this.#release());
    } else if (this.#held !== undefined) {
      last = this.#held.bytes;
      this.#held = undefined;
    }
    const end = this.#partStart + this.#fill;
    if (this.#partials !== undefined && this.#partials.length !== partCount(end)) {
      throw new DownloadError(
        DownloadErrorCodes.checksumMismatch,
        `the server listed ${this.#partials.length} partial checksums but the file has ${partCount(end)} parts of 1 MiB`,
      );
    }
    if (last !== undefined) this.#whole?.update(last);
    if (this.#whole !== undefined && this.#checksum !== undefined) {
      const digest = this.#whole.digest('hex');
      if (!sameDigest(digest, this.#checksum)) {
        throw new DownloadError(DownloadErrorCodes.checksumMismatch, `the firmware's SHA-256 ${digest} does not match the expected ${this.#checksum.toLowerCase()}`);
      }
    }
    if (last !== undefined) out.push(last);
    this.#chunks = [];
    this.#fill = 0;
    return out;
  }

  #release(): Buffer {
    const held = this.#held;
    if (held === undefined) throw new Error('nothing held');
    this.#held = undefined;
    this.#whole?.update(held.bytes);
    return held.bytes;
  }

  #checkPart(index: number, bytes: Buffer): void {
    if (this.#partials === undefined) return;
    const expected = this.#partials[index];
    if (expected === undefined) {
      throw new DownloadError(DownloadErrorCodes.checksumMismatch, `part ${index} has no partial checksum (the server listed ${this.#partials.length})`);
    }
    if (!sameDigest(sha256Hex(bytes), expected)) throw new PartChecksumMismatch(index, this.#partStart);
  }
}
