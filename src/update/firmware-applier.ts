import type { FwupMessage } from './update-client.js';

/** Context handed to a {@link FirmwareApplier} for one apply. */
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
 *     for await (const chunk of source) await flash.write(chunk);
 *     ctx.onProgress(100);
 *   },
 * };
 * ```
 */
export interface FirmwareApplier {
  /** Apply the archive read from `source`. Rejects with a `NervesHubError` on failure. */
  apply(source: AsyncIterable<Uint8Array>, context: ApplyContext): Promise<void>;
}
