import type { DeltaSource } from '../delta/delta-source.js';
import type { FwupMessage } from './update-client.js';

/**
 * Context handed to a {@link FirmwareApplier} for one apply.
 *
 * @example
 * ```ts
 * // inside FirmwareApplier.apply(source, ctx), for a firmware of `total` bytes:
 * let written = 0;
 * for await (const chunk of source) {
 *   if (ctx.signal.aborted) throw ctx.signal.reason;
 *   written += (await out.write(chunk)).bytesWritten;
 *   ctx.onProgress(Math.floor((written / total) * 100));
 * }
 * ```
 * @category Updates
 */
export interface ApplyContext {
  /** Aborts the apply (the applier must stop and leave the current firmware untouched). */
  signal: AbortSignal;
  /** Base64 Ed25519 public keys the archive must be signed with (passed to fwup as `--public-key`). */
  publicKeys: readonly string[];
  /** Report apply progress, 0..100. */
  onProgress(percent: number): void;
  /** Report a message from the applier. */
  onMessage(message: FwupMessage): void;
}

/**
 * Writes a firmware archive to its destination. The source yields the archive bytes in order; it
 * throws if verification fails (streaming strategy), in which case the applier must abort and leave
 * the current firmware intact. Resolve only when the firmware is durably applied.
 *
 * @example
 * ```ts
 * const applier: FirmwareApplier = {
 *   async apply(source, ctx) {
 *     for await (const chunk of source) await out.write(chunk);
 *     ctx.onProgress(100);
 *   },
 * };
 * ```
 * @category Updates
 */
export interface FirmwareApplier {
  /**
   * Apply the archive read from `source`.
   * @throws NervesHubError on failure, e.g. `NH_APPLY_ABORTED`, `NH_APPLY_FAILED`, `NH_FWUP_FAILED` (as a rejection).
   */
  apply(source: AsyncIterable<Uint8Array>, context: ApplyContext): Promise<void>;
  /**
   * What delta firmware can be rebuilt against for this applier (the firmware it applied last),
   * or `undefined`. With one, the `UpdateManager` rebuilds delta archives in TypeScript and this
   * applier receives the verified full archive. `FileApplier` returns its current file.
   */
  deltaSource?(): DeltaSource | undefined;
  /**
   * `true` when this applier takes NervesHub delta firmware (VCDIFF patches inside the signed
   * archive) and itself proves every patched resource's length and BLAKE2b-256 against the signed
   * meta.conf before the update can complete, as fwup does. Only then does the verifier let delta
   * resources through to it (after proving everything provable without the old image), and only
   * then (or with a delta source configured) does the device tell NervesHub it can take deltas.
   * Absent or `false`: delta firmware is refused before any byte reaches the applier.
   */
  readonly verifiesDeltaOutput?: boolean;
  /**
   * The fwup task (prefix, like `fwup --task`) this applier runs. With {@link verifiesDeltaOutput},
   * a delta resource is accepted only when an `on-resource` of a task with this prefix declares its
   * delta source (`delta-source-raw-offset`/`-count` or `delta-source-fat-offset`/`-path`).
   * Absent: any task may declare it.
   */
  readonly deltaTask?: string;
}
