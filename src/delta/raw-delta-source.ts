import { FIRMWARE_VERIFIER_DEFAULTS } from '../firmware/firmware-verifier.js';
import { FWUP_BLOCK_BYTES, type MetaConfDeltaSource } from '../firmware/meta-conf-delta.js';
import { readMetaConf } from '../firmware/meta-conf.js';
import { rawRangeSource } from './archive-delta-source.js';
import { DeltaError } from './delta-error.js';
import type { DeltaSourceOpener } from './delta-source.js';

/** Options of {@link rawDeltaSource}. */
export interface RawDeltaSourceOptions {
  /**
   * Only ranges declared by tasks whose name starts with this (fwup's task prefix, e.g.
   * `upgrade.a` on an A/B layout). Without it, every task declaring a raw range for a resource
   * must name the same range.
   */
  task?: string;
}

/**
 * A delta source for fwup-style layouts: each resource's old bytes are the raw block range of
 * `path` (the device, e.g. `/dev/mmcblk0`) that the delta's own meta.conf names with
 * `delta-source-raw-offset`/`-count` — exactly where fwup would read them. The meta.conf is the
 * target's, whose signature the verifier checks downstream before any rebuilt byte is released;
 * a range that does not hold the old resource fails the rebuild (`NH_DELTA_WRONG_SOURCE`) or the
 * signed digest. FAT sources (`delta-source-fat-*`) are not read: such a resource gets
 * `NH_DELTA_NO_SOURCE`.
 *
 * @param path - device or image file the running firmware was written to
 * @param options - `task`: the task prefix whose ranges apply
 * @throws DeltaError `NH_DELTA_NO_SOURCE` (when opened) for tasks naming different ranges
 *
 * @example
 * ```ts
 * import { rawDeltaSource } from 'nerves-hub-link/advanced';
 * const options: UpdateManagerOptions = { ...updateOptions, deltaSource: rawDeltaSource('/dev/mmcblk0', { task: 'upgrade.a' }) };
 * ```
 */
export function rawDeltaSource(path: string, options: RawDeltaSourceOptions = {}): DeltaSourceOpener {
  return ({ resource, metaConf }) => {
    const declared = readMetaConf(metaConf, FIRMWARE_VERIFIER_DEFAULTS.fwupVersion).deltaSources.get(resource) ?? [];
    const raw = declared.filter((s): s is Extract<MetaConfDeltaSource, { kind: 'raw' }> => s.kind === 'raw' && (options.task === undefined || s.task.startsWith(options.task)));
    if (raw.length === 0) return undefined;
    const first = raw[0]!;
    if (raw.some((s) => s.offsetBlocks !== first.offsetBlocks || s.countBlocks !== first.countBlocks)) {
      const tasks = raw.map((s) => s.task).join(', ');
      throw new DeltaError('NH_DELTA_NO_SOURCE', `the tasks ${tasks} name different raw source ranges for ${resource}: name the task this device runs`);
    }
    return rawRangeSource(path, first.offsetBlocks * FWUP_BLOCK_BYTES, first.countBlocks * FWUP_BLOCK_BYTES);
  };
}
