/**
 * Random-access bytes of the previous version of one resource: what a VCDIFF patch is applied to.
 *
 * @example
 * ```ts
 * const previous: DeltaSourceFile = { size: old.length, read: async (offset, length) => old.subarray(offset, offset + length) };
 * ```
 */
export interface DeltaSourceFile {
  /** Size in bytes. */
  readonly size: number;
  /** Exactly `length` bytes from `offset` (never past `size`). */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Releases file handles (called once the resource is rebuilt or the rebuild failed). */
  close?(): Promise<void> | void;
}

/** What the rebuild asks a {@link DeltaSourceOpener} for. */
export interface DeltaSourceRequest {
  /** The resource being patched, as named in meta.conf (`rootfs.img`). */
  resource: string;
  /**
   * The target's meta.conf text (e.g. to read `delta-source-raw-offset`/`-count`). Its signature
   * is checked by the verifier downstream before any rebuilt byte is released.
   */
  metaConf: string;
}

/**
 * Opens the source of one resource; `undefined` when there is none (the update then fails with
 * `NH_DELTA_NO_SOURCE`).
 */
export type DeltaSourceOpener = (request: DeltaSourceRequest) => DeltaSourceFile | undefined | Promise<DeltaSourceFile | undefined>;

/**
 * What delta firmware is rebuilt against: `{ archivePath }`, the firmware archive installed now
 * (its `data/<resource>` entries are the sources), or an opener of your own (e.g.
 * {@link rawRangeSource} over the partition the running firmware was written to).
 *
 * @example
 * ```ts
 * const deltaSource: DeltaSource = { archivePath: '/data/firmware/current.fw' };
 * ```
 */
export type DeltaSource =
  | {
      /** The firmware archive (.fw) installed now. */
      archivePath: string;
    }
  | DeltaSourceOpener;

/**
 * The delta source in force for an applier: the explicit one, else the applier's own
 * (`FileApplier`: its current file), else `undefined` (no TypeScript rebuild; only an applier
 * that applies deltas itself, like fwup, can then take delta firmware).
 *
 * @example
 * ```ts
 * const canRebuildDeltas = deltaSourceOf(applier, updateOptions.deltaSource) !== undefined;
 * ```
 */
export function deltaSourceOf(applier: { deltaSource?(): DeltaSource | undefined }, explicit?: DeltaSource): DeltaSource | undefined {
  return explicit ?? applier.deltaSource?.();
}
