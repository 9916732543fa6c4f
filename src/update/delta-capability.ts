import type { FirmwareApplier } from './firmware-applier.js';
import type { VerifierDeltaOptions } from './update-ports.js';

/**
 * Whether a device can take NervesHub delta firmware, and why. A device should report
 * `fwup_version` in its join (which is what makes NervesHub send deltas) only when
 * {@link DeltaCapability.canApplyDeltas} is true.
 *
 * @example
 * ```ts
 * const { canApplyDeltas, reason } = deltaCapability(applier, { hasDeltaSource: false });
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
 * What the device can do with delta firmware, given its applier and whether a delta source (the
 * firmware installed now, for the SDK's own VCDIFF rebuild) is configured. A configured delta
 * source wins: then every byte is verified before any applier sees it.
 *
 * @param applier - the applier updates are written with
 * @param options - `hasDeltaSource`: a delta source is configured
 *
 * @example
 * ```ts
 * deltaCapability(new FwupApplier({ devicePath: '/dev/mmcblk0' })); // { canApplyDeltas: true, via: 'applier', … }
 * deltaCapability(new FileApplier({ path: '/data/fw.fw' }));          // { canApplyDeltas: false, via: 'none', … }
 * ```
 */
export function deltaCapability(applier: FirmwareApplier, options: { hasDeltaSource?: boolean } = {}): DeltaCapability {
  if (options.hasDeltaSource === true) {
    return { canApplyDeltas: true, via: 'delta-source', reason: 'a delta source is configured: deltas are rebuilt into the full firmware and verified before apply' };
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
