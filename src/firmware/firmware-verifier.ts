import { stat } from 'node:fs/promises';
import { createBlake2b256 } from './blake2b.js';
import { workerHashing } from './blake2b-worker.js';
import { firmwareChunks, type FirmwareInput } from './byte-source.js';
import { FirmwareArchiveCheck, type FirmwareArchiveCheckOptions, type FirmwareResource } from './firmware-archive-checker.js';
import type { FirmwareDeltaResource } from './delta-resource.js';
import type { FirmwareMetadata } from './firmware-metadata.js';
import { parsePublicKey } from './public-key.js';
import { trustedKey } from './signature.js';
import type { TrustedKey } from './signature.js';
import { FirmwareVerificationError, type FirmwareVerificationCode } from './verification-error.js';
import { invalidOptions } from '../errors.js';
import { FailureReasons } from '../protocol/status.js';

export type { FirmwareVerificationCode } from './verification-error.js';
export { FirmwareVerificationError } from './verification-error.js';
export type { FirmwareMetadata } from './firmware-metadata.js';
export type { FirmwareResource } from './firmware-archive-checker.js';
export type { FirmwareDeltaResource } from './delta-resource.js';
export type { MetaConfDeltaSource } from './meta-conf-delta.js';

/**
 * Outcome of {@link FirmwareVerifier.verify}.
 *
 * @category Verification
 */
export type VerificationResult =
  | {
      /** The archive is signed by a trusted key and intact. */
      valid: true;
      /** Its metadata (like `fwup -m`). */
      metadata: FirmwareMetadata;
      /** Every full resource, verified (length and BLAKE2b-256). */
      resources: FirmwareResource[];
      /**
       * Delta resources (VCDIFF patches; only with `allowDeltaResources`): structure and declared
       * delta source checked; their patched output is proven by the applier (fwup) against
       * `targetLength` / `targetBlake2b256`. Empty for a full firmware.
       */
      deltaResources: FirmwareDeltaResource[];
    }
  | {
      /** The archive was rejected. */
      valid: false;
      /** Why (a stable code; every code is listed in the package's `docs/errors.md`). */
      code: FirmwareVerificationCode;
      /** fwup-style explanation. */
      message: string;
    };

/**
 * Options of {@link FirmwareVerifier}.
 *
 * @example
 * ```ts
 * const verifier = new FirmwareVerifier({ publicKeys: [readFileSync('fwup-key.pub', 'utf8')] });
 * ```
 * @category Verification
 */
export interface FirmwareVerifierOptions {
  /** Trusted fwup public keys (base64 text as in `fwup-key.pub`, or 32 raw bytes). Any one may sign. */
  publicKeys: ReadonlyArray<string | Uint8Array>;
  /** fwup version that `require-fwup-version` in meta.conf is checked against. */
  fwupVersion?: string;
  /**
   * Accept NervesHub delta firmware: a resource whose zip size differs from meta.conf's `length`
   * is then taken as a VCDIFF patch, if meta.conf declares a delta source for it
   * (`delta-source-raw-offset`/`-count` or `delta-source-fat-offset`/`-path` in its `on-resource`).
   * Its structure is checked, but its patched output cannot be proven without the old image: set
   * this only when the bytes go to an applier that proves it (fwup does). Default `false`: such a
   * resource is refused (`NH_FW_LENGTH_MISMATCH`, "delta firmware needs fwup or a delta source").
   */
  allowDeltaResources?: boolean;
  /** With {@link allowDeltaResources}: the fwup task prefix that must declare the delta source (default: any task). */
  deltaTask?: string;
  /**
   * Resources of at least this many bytes are hashed (BLAKE2b-256) on a worker thread, beside the
   * reading, inflating and CRC-32 on the calling thread: a 256 MiB archive verifies in ≈ 0.6× the
   * time, for ≈ 9 MB more RSS while it runs. Default {@link FIRMWARE_VERIFIER_DEFAULTS}
   * (16 MiB); `Infinity` keeps all hashing on the calling thread. Applies to
   * {@link FirmwareVerifier.verify} on machines with two cores or more, and to
   * {@link FirmwareVerifier.passThrough} with {@link FirmwareVerifierOptions.workerHashingInPassThrough}. If the worker cannot run
   * (it fails or stops), the verification fails rather than passing: set `Infinity` where workers
   * are not available.
   */
  workerHashingMinBytes?: number;
  /**
   * Also hash on the worker thread in {@link FirmwareVerifier.passThrough} (the streaming update).
   * Measured on a 2-core machine shared with the test server, 256 MiB deflated firmware: the
   * calling thread's CPU fell from 1.02–1.08 to 0.73–0.87 s, but the update took as long (median
   * 1.08 vs 1.06 s, 6 alternating rounds: both cores were busy), with ≈ 0.2 s more CPU in all
   * and peak RSS 84–86 instead of 75–77 MB. Worth trying where a core is idle during downloads
   * (a fast network to a multi-core device). Default `false`. Through `NervesHubLink`, pass
   * `update.createVerifier`.
   *
   * @example
   * ```ts
   * const createVerifier = (publicKeys: readonly string[], delta: VerifierDeltaOptions) =>
   *   new FirmwareVerifier({ publicKeys, ...delta, workerHashingInPassThrough: true });
   * ```
   */
  workerHashingInPassThrough?: boolean;
}

/** Defaults of {@link FirmwareVerifier}. */
export const FIRMWARE_VERIFIER_DEFAULTS = Object.freeze({
  /** The fwup release whose verdicts this verifier reproduces. */
  fwupVersion: '1.16.0',
  /** Resources from this size on are hashed on a worker thread by `verify()` (16 MiB). */
  workerHashingMinBytes: 16 * 1024 * 1024,
});

function labelOf(input: FirmwareInput): string {
  return typeof input === 'string' ? input : 'the archive';
}

/**
 * Streaming, fwup-1.16-compatible verifier for Nerves `.fw` archives. One forward pass, bounded
 * memory, no temp files. It checks, in fwup's order: entry order (signature, then meta.conf), the
 * Ed25519 signature over the exact meta.conf bytes with any trusted key, meta.conf itself, every
 * resource's length and BLAKE2b-256, and zip integrity (CRC-32, sizes, deflate, truncation,
 * undeclared / duplicate / missing entries). Without keys it refuses everything (`NH_FW_NO_KEYS`).
 *
 * @example
 * ```ts
 * const verifier = new FirmwareVerifier({ publicKeys: [readFileSync('fwup-key.pub', 'utf8')] });
 * const result = await verifier.verify('firmware.fw');
 * if (!result.valid) throw new Error(`${result.code}: ${result.message}`);
 * console.log(result.metadata.version, result.metadata.uuid);
 * ```
 * @category Verification
 */
export class FirmwareVerifier {
  readonly #keys: TrustedKey[];
  readonly #fwupVersion: string;
  readonly #deltaOptions: Pick<FirmwareArchiveCheckOptions, 'allowDeltaResources' | 'deltaTask'>;
  readonly #workerHashingMinBytes: number;
  readonly #workerHashingInPassThrough: boolean;

  /**
   * @throws NervesHubError `NH_INVALID_OPTIONS` when a key cannot be parsed (fwup: "Error decoding public key")
   */
  constructor(options: FirmwareVerifierOptions) {
    if (!options || !Array.isArray(options.publicKeys)) {
      throw invalidOptions('FirmwareVerifier: options.publicKeys must be an array');
    }
    this.#keys = options.publicKeys.map((key) => {
      const raw = parsePublicKey(key);
      try {
        return trustedKey(raw);
      } catch (error) {
        throw invalidOptions('Error decoding public key', { cause: error });
      }
    });
    this.#fwupVersion = options.fwupVersion ?? FIRMWARE_VERIFIER_DEFAULTS.fwupVersion;
    const minBytes = options.workerHashingMinBytes ?? FIRMWARE_VERIFIER_DEFAULTS.workerHashingMinBytes;
    if (typeof minBytes !== 'number' || Number.isNaN(minBytes) || minBytes < 0) {
      throw invalidOptions(`FirmwareVerifier: workerHashingMinBytes must be a number >= 0 (got ${String(minBytes)})`);
    }
    this.#workerHashingMinBytes = minBytes;
    this.#workerHashingInPassThrough = options.workerHashingInPassThrough === true;
    this.#deltaOptions = {
      allowDeltaResources: options.allowDeltaResources === true,
      ...(typeof options.deltaTask === 'string' ? { deltaTask: options.deltaTask } : {}),
    };
  }

  /**
   * Verifies a whole archive. Failures of the archive are results (`valid: false`), not throws;
   * it throws only on abort (the signal's reason) and on I/O errors of the input (e.g. ENOENT).
   *
   * @throws the signal's reason on abort; the input's I/O error (e.g. `ENOENT`); `NervesHubError`
   *   `NH_VERIFY_WORKER_FAILED` when the hashing worker thread fails (see `workerHashingMinBytes`).
   *
   * @param input - file path, Node readable, or async iterable of byte chunks
   * @param options - `signal` aborts the verification in progress
   */
  async verify(input: FirmwareInput, options: { signal?: AbortSignal } = {}): Promise<VerificationResult> {
    if (this.#keys.length === 0) return { valid: false, code: 'NH_FW_NO_KEYS', message: FailureReasons.noKeys };
    const { signal } = options;
    signal?.throwIfAborted();
    const worker = await this.#workerHashing();
    const check = new FirmwareArchiveCheck({
      keys: this.#keys,
      label: labelOf(input),
      fwupVersion: this.#fwupVersion,
      hasher: await createBlake2b256(),
      reuseInflateBuffer: true,
      ...worker,
      ...this.#deltaOptions,
    });
    try {
      if (worker.workerHashing !== undefined && typeof input === 'string') {
        // A file that large holds a large resource: start the worker now, beside reading meta.conf
        // (≈ 35 ms that the first resource bytes would otherwise wait for).
        const fileSize = (await stat(input).catch(() => undefined))?.size ?? 0;
        if (fileSize >= worker.workerHashing.minBytes) check.prestartWorker();
      }
      for await (const chunk of firmwareChunks(input, signal, true)) {
        signal?.throwIfAborted();
        await check.push(chunk);
      }
      signal?.throwIfAborted();
      await check.finish();
      return { valid: true, metadata: check.metadata!, resources: check.resources, deltaResources: check.deltaResources };
    } catch (error) {
      if (error instanceof FirmwareVerificationError && !signal?.aborted) {
        return { valid: false, code: error.code, message: error.message };
      }
      throw error;
    } finally {
      check.dispose();
    }
  }

  /** The worker hashing option, unless disabled (`Infinity`) or unavailable (no SIMD WebAssembly). */
  async #workerHashing(): Promise<Pick<FirmwareArchiveCheckOptions, 'workerHashing'>> {
    if (this.#workerHashingMinBytes === Infinity) return {};
    const option = await workerHashing(this.#workerHashingMinBytes);
    return option === undefined ? {} : { workerHashing: option };
  }

  /**
   * Passes the archive through while verifying it: yields the same bytes in order, but only bytes
   * the verifier has already checked. The last byte(s) of every resource entry are held back until
   * that entry's length and digest are checked, and the end of the archive until the whole archive
   * verified, so a consumer (fwup's stdin, a file writer) never receives a complete archive that
   * fails verification. On failure it throws {@link FirmwareVerificationError}.
   *
   * @throws FirmwareVerificationError with a {@link FirmwareVerificationCode} (`NH_FW_*`) when the
   *   archive fails verification; the signal's reason on abort.
   *
   * @param source - the archive bytes
   * @param options - `signal` aborts; `onMetadata` runs once meta.conf is verified, before any
   *   resource byte is yielded (if it throws, the pass-through stops with that error)
   *
   * @example
   * ```ts
   * for await (const bytes of verifier.passThrough(downloader.stream(url), { onMetadata: (m) => log(m.version) })) {
   *   await out.write(bytes);
   * }
   * ```
   */
  async *passThrough(
    source: AsyncIterable<Uint8Array>,
    options: { signal?: AbortSignal; onMetadata?(metadata: FirmwareMetadata): void } = {},
  ): AsyncGenerator<Uint8Array> {
    if (this.#keys.length === 0) throw new FirmwareVerificationError('NH_FW_NO_KEYS', FailureReasons.noKeys);
    const { signal, onMetadata } = options;
    signal?.throwIfAborted();
    const check = new FirmwareArchiveCheck({
      keys: this.#keys,
      label: 'the archive',
      fwupVersion: this.#fwupVersion,
      hasher: await createBlake2b256(),
      reuseInflateBuffer: true,
      ...(this.#workerHashingInPassThrough ? await this.#workerHashing() : {}),
      ...this.#deltaOptions,
      ...(onMetadata ? { onMetadata: (metadata) => onMetadata.call(options, metadata) } : {}),
    });
    const pending: Uint8Array[] = [];
    let pendingStart = 0;
    let released = 0;
    function* release(upTo: number): Generator<Uint8Array> {
      while (released < upTo && pending.length > 0) {
        const first = pending[0]!;
        const available = pendingStart + first.length - released;
        const offsetInChunk = released - pendingStart;
        const take = Math.min(available, upTo - released);
        yield first.subarray(offsetInChunk, offsetInChunk + take);
        released += take;
        if (released === pendingStart + first.length) {
          pending.shift();
          pendingStart += first.length;
        }
      }
    }
    try {
      for await (const chunk of firmwareChunks(source, signal)) {
        signal?.throwIfAborted();
        if (chunk.length === 0) continue;
        pending.push(chunk);
        await check.push(chunk);
        yield* release(check.releasableOffset);
      }
      signal?.throwIfAborted();
      await check.finish();
      yield* release(Infinity);
      // A consumer that aborted while taking the last bytes still sees the abort.
      signal?.throwIfAborted();
    } finally {
      check.dispose();
    }
  }
}
