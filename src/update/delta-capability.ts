import { deltaSourceOf, type DeltaSource } from '../delta/delta-source.js';
import type { FirmwareApplier } from './firmware-applier.js';
import type { VerifierDeltaOptions } from './update-ports.js';

/**
 * Whether a device can take NervesHub delta firmware, and why. A device should report
 * `fwup_version` in its join (which is what makes NervesHub send deltas) only when
 * {@link DeltaCapability.canApplyDeltas} is true.
 *
 * @example
 * ```ts
 * const { canApplyDeltas, reason } = deltaCapability(applier, { deltaSource: updateOptions.deltaSource });
 * console.log(canApplyDeltas ? `deltas: yes (${reason})` : `deltas: no (${reason})`);
 * ```
 */
export interface DeltaCapability {
  /** True: a delta can be verified and applied on this device. */
  canApplyDeltas: boolean;
  /**
   * Who proves the patched output: `delta-source` (the SDK rebuilds the full target from the
   * delta and the installed firmware and verifies it like any full firmware), `applier` (the
   * applier proves it, e.g. fwup checks each patched resource's BLAKE2b-256), or `none`.
   */
  via: 'delta-source' | 'applier' | 'none';
  /** One sentence for logs and `doctor`. */
  reason: string;
}

/**
 * What the device can do with delta firmware, given its applier and the explicit delta source
 * (the `deltaSource` option of `UpdateManager`/`NervesHubLink`). The one rule the library, `run`
 * and `doctor` all follow: a delta source in force — the explicit one, else the applier's own
 * (`FileApplier`: the firmware archive it applied last) — wins, since then every byte is verified
 * before any applier sees it; else an applier that proves patched output itself (fwup); else none.
 *
 * @param applier - the applier updates are written with
 * @param options - `deltaSource`: the explicitly configured delta source, if any
 *
 * @example
 * ```ts
 * deltaCapability(new FwupApplier({ devicePath: '/dev/mmcblk0' }));                        // { canApplyDeltas: true, via: 'applier', … }
 * deltaCapability(new FileApplier({ path: '/data/fw.fw', useAsDeltaSource: false }));    // { canApplyDeltas: false, via: 'none', … }
 * ```
 */
export function deltaCapability(applier: FirmwareApplier, options: { deltaSource?: DeltaSource | undefined } = {}): DeltaCapability {
  if (options.deltaSource !== undefined) {
    return { canApplyDeltas: true, via: 'delta-source', reason: 'a delta source is configured: deltas are rebuilt into the full firmware and verified before apply' };
  }
  if (deltaSourceOf(applier) !== undefined) {
    return { canApplyDeltas: true, via: 'delta-source', reason: 'the firmware archive the applier wrote last is the delta source: deltas are rebuilt into the full firmware and verified before apply' };
  }
  if (applier.verifiesDeltaOutput === true) {
    return { canApplyDeltas: true, via: 'applier', reason: 'the applier (fwup) applies delta firmware and checks each patched resource against the signed BLAKE2b-256' };
  }
  return { canApplyDeltas: false, via: 'none', reason: 'delta firmware needs fwup or a delta source, and this device has neither' };
}

/**
 * The verifier's delta options for an applier: delta resources pass only to an applier that
 * proves their patched output (`verifiesDeltaOutput`), checked against its task's delta sources.
 *
 * @example
 * ```ts
 * new FirmwareVerifier({ publicKeys, ...verifierDeltaOptions(applier) });
 * ```
 */
export function verifierDeltaOptions(applier: FirmwareApplier): VerifierDeltaOptions {
  if (applier.verifiesDeltaOutput !== true) return { allowDeltaResources: false };
  const task = applier.deltaTask;
  return typeof task === 'string' && task !== '' ? { allowDeltaResources: true, deltaTask: task } : { allowDeltaResources: true };
}
