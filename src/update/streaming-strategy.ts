import { NervesHubError } from '../errors.js';
import { lendingStream } from '../download/lending-stream.js';
import { FirmwareVerifier } from '../firmware/firmware-verifier.js';
import { offerChunkRecycling } from './chunk-recycling.js';
import type { StrategyContext, UpdateStrategy } from './update-strategy.js';

/**
 * The streaming strategy (the default, like nerves_hub_link's StreamingUpdater): bytes flow
 * download → `FirmwareVerifier.passThrough` → applier as they arrive, so nothing is stored on
 * the device besides what the applier writes. The verifier withholds the end of each resource
 * until its digest is proven, and a verification or download error aborts the applier (its
 * `ApplyContext.signal` fires and its source throws) before it can complete. Progress is reported
 * only once the verifier has released its first byte, i.e. after the signature is verified.
 *
 * Choose it when storage is tight or the applier verifies as well (fwup with `--public-key`, which
 * the `FwupApplier` always passes). An interrupted process restarts the download from byte 0.
 *
 * @example
 * ```ts
 * const manager = new UpdateManager({ client, reporter: socket, applier, publicKeys: () => socket.fwupPublicKeys, strategy: streamingStrategy() });
 * ```
 */
export function streamingStrategy(): UpdateStrategy {
  return STREAMING;
}

const STREAMING: UpdateStrategy = Object.freeze({ name: 'streaming', resumable: false, downloadsBeforeApply: false, run: runStreamingUpdate });

/** Runs one streaming update (see {@link streamingStrategy}). */
async function runStreamingUpdate(ctx: StrategyContext): Promise<void> {
  const { info, signal } = ctx;
  const pipeline = new AbortController();
  const forwardAbort = (): void => pipeline.abort(signal.reason);
  if (signal.aborted) forwardAbort();
  else signal.addEventListener('abort', forwardAbort, { once: true });

  let sourceError: unknown;
  let drained = false;
  // No progress is reported before the signature is proven: the verifier yields its first byte only
  // after that, so until then the latest percent is held (a wrongly signed firmware reports none).
  let signatureProven = false;
  let heldPercent: number | undefined;
  const download = lendingStream(ctx.downloader, info.firmwareUrl, {
    signal: pipeline.signal,
    expectedSize: info.size,
    checksum: info.checksum,
    partialsChecksums: info.partialsChecksums,
    onRequest: ({ attempt, offset }) => ctx.onConnect(attempt, offset),
    onProgress: ({ received, total }) => {
      if (total === undefined || total <= 0) return;
      const percent = (received / total) * 100;
      if (signatureProven) ctx.onDownloadProgress(percent);
      else heldPercent = percent;
    },
  });
  const verified = ctx.verifier.passThrough(download.chunks, { signal: pipeline.signal });

  // Remembers the first download/verification error (the applier may wrap or replace it) and
  // aborts the applier so a bad archive can never be completed.
  async function* watched(): AsyncGenerator<Uint8Array, void, undefined> {
    try {
      for await (const chunk of verified) {
        if (!signatureProven) {
          signatureProven = true;
          if (heldPercent !== undefined) ctx.onDownloadProgress(heldPercent);
        }
        yield chunk;
      }
      drained = true;
    } catch (error) {
      sourceError ??= error;
      pipeline.abort(error);
      throw error;
    }
  }

  // The SDK's pass-through yields the archive's bytes in order, as views of the download's buffers,
  // and keeps none it has yielded: what the applier is done with, the download may reuse. (Another
  // verifier might keep what it yielded: then nothing is reused.)
  const chunks = watched();
  if (ctx.verifier.passThrough === FirmwareVerifier.prototype.passThrough) offerChunkRecycling(chunks, download.doneThrough);
  try {
    await ctx.applier.apply(chunks, {
      signal: pipeline.signal,
      publicKeys: ctx.publicKeys,
      onProgress: (percent) => ctx.onApplyProgress(percent),
      onMessage: (message) => ctx.onApplyMessage(message),
    });
  } catch (error) {
    throw sourceError ?? error;
  } finally {
    signal.removeEventListener('abort', forwardAbort);
    if (!pipeline.signal.aborted) pipeline.abort(new Error('update finished'));
  }
  if (sourceError !== undefined) throw sourceError;
  if (!drained) {
    // The verifier only proves the last resource when the stream ends: an applier that stops
    // early has written bytes nobody verified completely.
    throw new NervesHubError(
      'NH_UPDATE_SOURCE_NOT_DRAINED',
      'the applier finished before reading the whole firmware, so its end was never verified',
    );
  }
}
