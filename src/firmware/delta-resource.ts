import { FirmwareVerificationError } from './verification-error.js';
import { FWUP_BLOCK_BYTES, type MetaConfDeltaSource } from './meta-conf-delta.js';
import { VCDIFF_MAGIC, VcdiffStructureCheck, VcdiffStructureError } from './vcdiff-structure.js';

/**
 * A delta resource (a VCDIFF patch inside a signed archive) that passed every check possible
 * without the old image: its structure, and that the signed meta.conf declares a delta source for
 * it. Its patched output is NOT proven yet: `targetLength` and `targetBlake2b256` are what the
 * applier (fwup) or the SDK's delta rebuild must check the output against.
 *
 * @example
 * ```ts
 * const result = await new FirmwareVerifier({ publicKeys, allowDeltaResources: true }).verify('delta.fw');
 * if (result.valid) for (const d of result.deltaResources) console.log(d.name, d.patchLength, '→', d.targetLength);
 * ```
 */
export interface FirmwareDeltaResource {
  /** Resource name as in meta.conf. */
  name: string;
  /** Entry path inside the zip (`data/rootfs.img`). */
  archivePath: string;
  /** Bytes of the patch (the zip entry). */
  patchLength: number;
  /** Signed length of the patched output (meta.conf `length`). */
  targetLength: number;
  /** Signed BLAKE2b-256 (lowercase hex) of the patched output. */
  targetBlake2b256: string;
  /** The delta sources meta.conf declares for it (one per task that declares one). */
  sources: MetaConfDeltaSource[];
}

/** Message fragment every refusal of a delta by a non-delta applier carries. */
export const DELTA_NEEDS_FWUP = 'delta firmware needs fwup or a delta source';

/** What the archive check knows about an entry whose size differs from meta.conf's `length`. */
export interface DeltaCandidate {
  name: string;
  archivePath: string;
  patchLength: number;
  targetLength: number;
  targetBlake2b256: string | undefined;
  /** Sparse resources (several `length` items) are never deltas for fwup. */
  sparse: boolean;
  /** Delta sources declared for it in the tasks the applier may run. */
  sources: MetaConfDeltaSource[];
}

function startsWithMagic(head: Uint8Array, length: number): boolean {
  return length >= VCDIFF_MAGIC.length && VCDIFF_MAGIC.every((b, i) => head[i] === b);
}

/**
 * Data handler for an entry whose zip size differs from meta.conf's `length`. When deltas are not
 * allowed it reads the first 4 bytes only to word the refusal (a VCDIFF patch gets
 * {@link DELTA_NEEDS_FWUP}); when they are, it checks the VCDIFF structure as the bytes stream by
 * and `end()` returns the verified {@link FirmwareDeltaResource}.
 */
export class DeltaEntryCheck {
  readonly #head = new Uint8Array(VCDIFF_MAGIC.length);
  #headLength = 0;
  readonly #structure: VcdiffStructureCheck | undefined;

  readonly #candidate: DeltaCandidate;
  readonly #allowed: boolean;

  constructor(
    candidate: DeltaCandidate,
    allowed: boolean,
    deltaTask: string | undefined,
  ) {
    this.#candidate = candidate;
    this.#allowed = allowed;
    if (!allowed) return;
    if (candidate.sparse) throw this.#lengthMismatch();
    if (candidate.sources.length === 0) {
      const where = deltaTask === undefined ? '' : ` in a task '${deltaTask}…'`;
      throw new FirmwareVerificationError(
        'NH_FW_LENGTH_MISMATCH',
        `File '${candidate.name}' isn't expected size (${candidate.patchLength} vs ${candidate.targetLength}) and meta.conf declares no delta source for it${where} (delta-source-raw-offset / delta-source-raw-count or delta-source-fat-offset / delta-source-fat-path)`,
      );
    }
    const raw = candidate.sources.filter((s) => s.kind === 'raw');
    // Every source window must fit the smallest declared raw range (unknown for FAT sources).
    const sourceLength = raw.length === candidate.sources.length ? Math.min(...raw.map((s) => s.countBlocks * FWUP_BLOCK_BYTES)) : undefined;
    this.#structure = new VcdiffStructureCheck({ targetLength: candidate.targetLength, ...(sourceLength !== undefined ? { sourceLength } : {}) });
  }

  /** Feeds the next bytes of the entry. */
  push(data: Uint8Array): void {
    if (this.#headLength < this.#head.length) {
      const take = data.subarray(0, this.#head.length - this.#headLength);
      this.#head.set(take, this.#headLength);
      this.#headLength += take.length;
      if (!this.#allowed && this.#headLength === this.#head.length) throw this.#refusal();
    }
    if (this.#structure === undefined) return;
    try {
      this.#structure.push(data);
    } catch (error) {
      throw this.#badDelta(error);
    }
  }

  /** The entry ended: returns the delta resource, or throws why it is not one we accept. */
  end(): FirmwareDeltaResource {
    if (this.#structure === undefined) throw this.#refusal();
    try {
      this.#structure.finish();
    } catch (error) {
      throw this.#badDelta(error);
    }
    const { name, archivePath, patchLength, targetLength, targetBlake2b256, sources } = this.#candidate;
    if (targetBlake2b256 === undefined || !/^[0-9a-f]{64}$/.test(targetBlake2b256)) {
      throw new FirmwareVerificationError('NH_FW_MALFORMED', `invalid blake2b-256 hash for '${name}'`);
    }
    return { name, archivePath, patchLength, targetLength, targetBlake2b256, sources: sources.map((s) => ({ ...s })) };
  }

  #refusal(): FirmwareVerificationError {
    const { name, patchLength, targetLength } = this.#candidate;
    if (!startsWithMagic(this.#head, this.#headLength)) return this.#lengthMismatch();
    return new FirmwareVerificationError(
      'NH_FW_LENGTH_MISMATCH',
      `${name} is a delta (a ${patchLength}-byte VCDIFF patch for a ${targetLength}-byte resource): ${DELTA_NEEDS_FWUP}, and this applier has neither`,
    );
  }

  #lengthMismatch(): FirmwareVerificationError {
    return new FirmwareVerificationError('NH_FW_LENGTH_MISMATCH', `ZIP local header length mismatch for ${this.#candidate.name}`);
  }

  #badDelta(error: unknown): unknown {
    if (!(error instanceof VcdiffStructureError)) return error;
    return new FirmwareVerificationError('NH_FW_BAD_DELTA', `Delta resource ${this.#candidate.name}: ${error.message}`, { cause: error });
  }
}
