import { ChunkPipe } from './chunk-pipe.js';

/**
 * Downloaded bytes queued ahead of the verifier before the download waits for it (2 MiB: the
 * verifier takes them in bursts between network reads).
 */
const VERIFY_AHEAD_BYTES = 2 * 1024 * 1024;

/**
 * Verifies a download's bytes as they arrive, beside the download, so verifying costs no pass of
 * its own after it (the cached strategy's fresh downloads: the bytes written to the cache file are
 * the bytes verified). An archive that fails stops the download at once through
 * {@link DownloadVerification.signal}, before the rest is fetched. Fails closed: any error of the
 * verifier, or a verifier that returns before the download ended, rejects the archive.
 * @internal
 */
export class DownloadVerification {
  readonly #pipe: ChunkPipe;
  readonly #stop = new AbortController();
  readonly #done: Promise<void>;
  #verdict: { error: unknown } | undefined;
  #abandoned = false;
  /** Aborts the download: the caller's signal, or the archive failed verification. */
  readonly signal: AbortSignal;

  /**
   * @param verify - verifies the archive read from `source`; throws when it is not valid (any
   *   error rejects the archive, unless `signal` aborted)
   * @param signal - the update's signal
   * @param onConsumed - see {@link ChunkPipe}: the verifier took this many bytes and asked for more
   */
  constructor(verify: (source: AsyncIterable<Uint8Array>, signal: AbortSignal) => Promise<void>, signal: AbortSignal, onConsumed?: (bytes: number) => void) {
    this.#pipe = new ChunkPipe(VERIFY_AHEAD_BYTES, onConsumed);
    this.signal = AbortSignal.any([signal, this.#stop.signal]);
    this.#done = verify(this.#pipe, this.signal).then(
      () => {
        // A verifier that stops reading early has not seen the rest: that is no verdict of valid.
        if (this.#pipe.consumerLeftEarly) this.#reject(new Error('the verifier returned before the end of the download; the rest of the archive is unverified'));
      },
      (error: unknown) => {
        // Fail closed: any error is a rejection (an NH_FW_ verdict, a delta error, a bug), except
        // the update's own abort and a download that failed first (kept for the resume).
        if (this.#abandoned || signal.aborted) return;
        this.#reject(error);
      },
    );
  }

  #reject(error: unknown): void {
    this.#verdict ??= { error };
    this.#stop.abort(error);
  }

  /** Why the archive was rejected (the verifier's error), once it was. */
  get rejection(): { error: unknown } | undefined {
    return this.#verdict;
  }

  /** Hands the next downloaded chunk to the verifier (waits while it is 2 MiB behind). */
  async push(chunk: Uint8Array): Promise<void> {
    if (this.#verdict === undefined) await this.#pipe.push(chunk);
  }

  /** The download is complete: waits for the verdict; throws the archive's failure. */
  async finish(): Promise<void> {
    this.#pipe.end();
    await this.#done;
    if (this.#verdict !== undefined) throw this.#verdict.error;
  }

  /** The download failed: stops the verification (never throws). */
  async abandon(reason: unknown): Promise<void> {
    if (this.#verdict === undefined) this.#abandoned = true;
    this.#pipe.fail(reason);
    await this.#done;
  }
}
