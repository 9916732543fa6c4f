import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NervesHubError, isNervesHubError, invalidOptions } from '../errors.js';
import { safeLog } from '../logging/logger.js';
import { PART_SIZE_BYTES, verifyFileChecksums } from '../download/sha256-parts.js';
import { BatchedFileWriter } from './batched-file-writer.js';
import { DownloadVerification } from './download-verification.js';
import { offerChunkRecycling } from './chunk-recycling.js';
import { lentFileChunks } from './lent-file-chunks.js';
import type { DownloadOptions } from '../download/download-options.js';
import { lendingStream } from '../download/lending-stream.js';
import { FirmwareVerifier } from '../firmware/firmware-verifier.js';
import type { StrategyContext, UpdateStrategy } from './update-strategy.js';

/** Defaults of the cached strategy. */
export const CACHED_STRATEGY_DEFAULTS = Object.freeze({
  /**
   * A background `fdatasync` of the partial file starts after this many new bytes (beside the
   * download, not stalling it), bounding what a power cut can lose.
   */
  syncEveryBytes: 4 * 1024 * 1024,
  /** Read size when verifying/applying from the cache (256 KiB: ~0.2 s less per 256 MiB than 64 KiB, about the same RSS). */
  readChunkBytes: 256 * 1024,
});

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const CACHE_FILE = /\.fw(\.partial|\.download\.json)?$/;

/** File-name stem for a firmware UUID (the UUID itself when it is a safe name, else its SHA-256). */
export function cacheStem(uuid: string): string {
  return SAFE_NAME.test(uuid) ? uuid : createHash('sha256').update(uuid).digest('hex');
}

/** Paths of one firmware in the cache directory (`identity`: which file of that firmware they hold). */
export function cachePaths(cacheDir: string, uuid: string): { partial: string; complete: string; identity: string } {
  const complete = join(cacheDir, `${cacheStem(uuid)}.fw`);
  return { partial: `${complete}.partial`, complete, identity: `${complete}.download.json` };
}

async function sizeOf(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

async function removeQuietly(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}

/** Deletes cached firmware files (`*.fw`, `*.fw.partial`) of other UUIDs; other files are left alone. */
async function pruneOtherFirmware(cacheDir: string, keepStem: string): Promise<void> {
  for (const name of await readdir(cacheDir)) {
    if (!CACHE_FILE.test(name) || [`${keepStem}.fw`, `${keepStem}.fw.partial`, `${keepStem}.fw.download.json`].includes(name)) continue;
    await removeQuietly(join(cacheDir, name));
  }
}

function readCachedFile(path: string, signal: AbortSignal): AsyncIterable<Uint8Array> {
  return createReadStream(path, { highWaterMark: CACHED_STRATEGY_DEFAULTS.readChunkBytes, signal }) as AsyncIterable<Uint8Array>;
}

/**
 * Which file of a firmware the cache holds. One target UUID may come as a full firmware or as a
 * NervesHub delta (whose `size` and checksum describe the delta file): bytes of one must never be
 * resumed into, or verified as, the other.
 */
function downloadIdentity(ctx: StrategyContext): { size: number | null; checksum: string | null } {
  return { size: ctx.info.size ?? null, checksum: ctx.info.checksum ?? null };
}

/** Same file unless a value known on both sides differs (a server may add a checksum on a re-offer). */
function sameDownload(stored: unknown, wanted: { size: number | null; checksum: string | null }): boolean {
  if (typeof stored !== 'object' || stored === null) return false;
  const { size, checksum } = stored as { size?: unknown; checksum?: unknown };
  const differs = (a: unknown, b: unknown): boolean => a !== null && a !== undefined && b !== null && a !== b;
  return !differs(size, wanted.size) && !differs(checksum, wanted.checksum);
}

/** Drops cached bytes of the same UUID that belong to another file (delta vs full); records this one. */
async function claimCache(ctx: StrategyContext, paths: { partial: string; complete: string; identity: string }): Promise<void> {
  const wanted = downloadIdentity(ctx);
  const text = await readFile(paths.identity, 'utf8').catch(() => null);
  let stored: unknown;
  try {
    stored = text === null ? null : JSON.parse(text);
  } catch {
    stored = null;
  }
  const cached = (await sizeOf(paths.partial)) !== null || (await sizeOf(paths.complete)) !== null;
  // cached bytes without a record predate it: kept (their checksums and the verifier still apply)
  if (cached && text !== null && !sameDownload(stored, wanted)) {
    safeLog(ctx.logger, 'info', 'the cached bytes of this firmware belong to another file (full vs delta); starting over', { uuid: ctx.info.firmwareMeta.uuid });
    await removeQuietly(paths.partial);
    await removeQuietly(paths.complete);
  }
  await writeFile(paths.identity, JSON.stringify(wanted), { mode: 0o600 });
}

/**
 * What a failed download means for the partial file: `keep` it for a later resume, `discard` it
 * (the body ran past the announced size: what it holds is suspect), or discard it and `restart`
 * from byte 0 (a 416: it is not a prefix of the file the server has).
 */
function partialVerdict(error: unknown): 'keep' | 'discard' | 'restart' {
  const code = isNervesHubError(error) ? error.code : undefined;
  if (code === 'NH_DOWNLOAD_RANGE_NOT_SATISFIABLE' || (error as { status?: unknown } | null)?.status === 416) return 'restart';
  if (code === 'NH_DOWNLOAD_BODY_TOO_LONG' || code === 'NH_DOWNLOAD_TOO_LARGE') return 'discard';
  return 'keep';
}

/** Where to resume: the partial file's size, 0 when it is longer than the announced size, rounded down to 1 MiB with part checksums. */
async function resumeOffset(ctx: StrategyContext, partial: string): Promise<number> {
  const { info } = ctx;
  let offset = (await sizeOf(partial)) ?? 0;
  if (info.size !== undefined && offset > info.size) {
    safeLog(ctx.logger, 'warn', 'the cached partial file is longer than the firmware; discarding it', { uuid: info.firmwareMeta.uuid, partial: offset, size: info.size });
    offset = 0; // not this file: start over (opened with 'w', so it is truncated)
  }
  if (info.partialsChecksums !== undefined) offset -= offset % PART_SIZE_BYTES;
  return offset;
}

/**
 * Downloads (resuming) into `<cacheDir>/<uuid>.fw.partial` and renames it to `<uuid>.fw` once
 * complete. A partial file the server refuses to continue (416) is discarded and the download
 * starts over from byte 0, once; a body that runs past the announced size deletes the partial, as
 * does an archive that fails verification. Resolves `true` when the file was verified while it
 * downloaded (a download from byte 0), `false` when it still has to be (a resumed one).
 */
async function downloadToCache(ctx: StrategyContext, paths: { partial: string; complete: string }): Promise<boolean> {
  const offset = await resumeOffset(ctx, paths.partial);
  let verified: boolean;
  for (let restarted = false; ; restarted = true) {
    try {
      verified = await fetchInto(ctx, paths.partial, restarted ? 0 : offset);
      break;
    } catch (error) {
      if (error instanceof RejectedArchive) {
        await removeQuietly(paths.partial);
        throw error.cause;
      }
      const verdict = ctx.signal.aborted ? 'keep' : partialVerdict(error);
      if (verdict === 'keep') throw error;
      await removeQuietly(paths.partial);
      if (verdict === 'discard' || restarted) throw error;
      safeLog(ctx.logger, 'warn', 'the server refused to resume the cached partial file (416); discarding it and starting over once', {
        uuid: ctx.info.firmwareMeta.uuid,
        offset,
      });
    }
  }
  await rename(paths.partial, paths.complete);
  return verified;
}

/** The archive failed the verification that ran beside its download (`cause`: the `NH_FW_*` error). */
class RejectedArchive extends Error {}

/**
 * Streams the firmware into the partial file from `offset` (resumed files are re-checked against
 * `checksum`/`partials_checksums` as a whole). The file never grows past `info.size`. A download
 * from byte 0 is verified as it arrives ({@link DownloadVerification}): resolves `true` then.
 */
async function fetchInto(ctx: StrategyContext, partial: string, offset: number): Promise<boolean> {
  const { info } = ctx;
  // The download's buffers are reused once the file writer and the verifier are both done with them:
  // the SDK's verify() keeps no view of a chunk once it asks for the next (another verifier might,
  // so then nothing is handed back, and the download never starts lending).
  const lend = offset > 0 || ctx.verifier.verify === FirmwareVerifier.prototype.verify;
  let written = offset;
  let consumed = offset === 0 ? 0 : Infinity;
  const release = (): void => {
    if (lend) download.doneThrough(Math.min(written, consumed));
  };
  // A resumed file's first bytes come from an earlier run: it is verified as a whole afterwards.
  const verification =
    offset === 0
      ? new DownloadVerification(
          (source, signal) => verifyArchive(ctx, source, signal),
          ctx.signal,
          (bytes) => {
            consumed = bytes;
            release();
          },
        )
      : undefined;
  const signal = verification?.signal ?? ctx.signal;
  const options: DownloadOptions = {
    signal,
    offset,
    expectedSize: info.size,
    checksum: info.checksum,
    partialsChecksums: info.partialsChecksums,
    onRequest: ({ attempt, offset: at }) => ctx.onConnect(attempt, at),
    onProgress: ({ received, total }) => {
      if (total !== undefined && total > 0) ctx.onDownloadProgress((received / total) * 100);
    },
  };
  const download = lendingStream(ctx.downloader, info.firmwareUrl, options);
  const handle = await open(partial, offset === 0 ? 'w' : 'r+', 0o600);
  const writer = new BatchedFileWriter(handle, {
    position: offset,
    backgroundSyncBytes: CACHED_STRATEGY_DEFAULTS.syncEveryBytes,
    // bytes on disk as soon as they arrive: a killed process resumes after them
    writeWhenIdle: true,
    onWritten: (end) => {
      written = end;
      release();
    },
  });
  try {
    await handle.truncate(offset);
    if (offset > 0) safeLog(ctx.logger, 'info', 'resuming cached firmware download', { uuid: info.firmwareMeta.uuid, offset });
    let position = offset;
    for await (const chunk of download.chunks) {
      if (info.size !== undefined && position + chunk.length > info.size) {
        // Defence in depth: the SDK's Downloader stops there itself; a custom source might not.
        throw new NervesHubError('NH_DOWNLOAD_BODY_TOO_LONG', `the download ran past the announced ${info.size} bytes`);
      }
      position += chunk.length;
      await writer.add(chunk);
      await verification?.push(chunk);
    }
    await writer.flush();
    await handle.sync();
    await verification?.finish();
  } catch (error) {
    const rejection = verification?.rejection;
    if (rejection !== undefined) throw new RejectedArchive('the archive failed verification', { cause: rejection.error });
    await verification?.abandon(error);
    // What was received is proven (the downloader hands on checked parts only): keep it for the
    // resume; a write error here must not hide the first error.
    await writer.flush().catch(() => undefined);
    throw error;
  } finally {
    await writer.settled();
    await handle.close();
  }
  if (offset > 0 && (info.checksum !== undefined || info.partialsChecksums !== undefined)) {
    // The downloader could only check the bytes it fetched; prove the resumed file as a whole.
    const check = await verifyFileChecksums(partial, { checksum: info.checksum, partialsChecksums: info.partialsChecksums, signal });
    if (!check.ok) {
      await removeQuietly(partial);
      throw new NervesHubError(
        'NH_DOWNLOAD_CHECKSUM_MISMATCH',
        `the resumed firmware file does not match its SHA-256 (${check.reason}${check.partIndex === undefined ? '' : ` ${check.partIndex}`}); the cached copy was deleted`,
      );
    }
  }
  return verification !== undefined;
}

/** Verifies an archive read from `source`; throws a `NervesHubError` (`NH_FW_*`) when it is not valid. */
async function verifyArchive(ctx: StrategyContext, source: AsyncIterable<Uint8Array>, signal: AbortSignal): Promise<void> {
  const { verifier } = ctx;
  if (verifier.verify === undefined) {
    for await (const chunk of verifier.passThrough(source, { signal })) void chunk; // draining proves it
    return;
  }
  const result = await verifier.verify(source, { signal });
  if (!result.valid) throw new NervesHubError(result.code, result.message);
}

/**
 * Creates the cached strategy (like nerves_hub_link's CachingUpdater, plus verification before
 * apply): download into `<cacheDir>/<uuid>.fw.partial`, resumable across process restarts (the
 * next attempt requests `Range: bytes=<partial size>-`), verify the complete archive with the
 * `FirmwareVerifier`, and only then stream the file into the applier, so the applier never sees an
 * unverified byte. A download from byte 0 is verified as it arrives, beside the download (the
 * bytes verified are the bytes written to the file; a wrongly signed archive stops the download
 * at its first bytes); a resumed download or a file already in the cache is verified after. A
 * file that fails verification is deleted. Cached files of other firmware are
 * deleted when a new one starts; a successfully applied file is deleted too.
 *
 * Choose it when the applier cannot roll back a half-written image (e.g. a plain file or
 * partition writer without fwup's own checks), when links are slow or flaky (a restart resumes
 * instead of starting over), or when downloads must finish before a maintenance window. It
 * needs free space for one whole firmware in `cacheDir`, which the SDK owns (keep it 0700 and
 * out of reach of other processes: the file is verified, then re-read for apply).
 *
 * Resumable: `UpdateManager.resumeFromJournal()` continues an interrupted download after a restart.
 *
 * @throws NervesHubError `NH_INVALID_OPTIONS` without a `cacheDir`.
 *
 * @example
 * ```ts
 * const manager = new UpdateManager({
 *   client, reporter: socket, applier, publicKeys: () => socket.fwupPublicKeys,
 *   strategy: cachedStrategy({ cacheDir: '/data/nerves-hub-link/firmware' }),
 *   stateDir: '/data/nerves-hub-link',
 * });
 * ```
 */
export function cachedStrategy(options: { cacheDir: string }): UpdateStrategy {
  const cacheDir = options?.cacheDir;
  if (typeof cacheDir !== 'string' || cacheDir === '') {
    throw invalidOptions('cachedStrategy needs cacheDir, a directory path');
  }
  const run = async (ctx: StrategyContext): Promise<void> => {
    const uuid = ctx.info.firmwareMeta.uuid;
    await mkdir(cacheDir, { recursive: true, mode: 0o700 });
    await pruneOtherFirmware(cacheDir, cacheStem(uuid));
    const paths = cachePaths(cacheDir, uuid);
    await claimCache(ctx, paths);
    let verified = false;
    if ((await sizeOf(paths.complete)) === null) {
      try {
        verified = await downloadToCache(ctx, paths);
      } catch (error) {
        // nothing left to resume: no record either
        if (((await sizeOf(paths.partial)) ?? 0) === 0) await removeQuietly(paths.identity);
        throw error;
      }
    } else {
      safeLog(ctx.logger, 'info', 'firmware already in the cache; verifying it again', { uuid });
    }
    ctx.signal.throwIfAborted();

    await ctx.onStage('verify');
    try {
      // Read with fresh buffers (the verifier may hold chunks), rather than handing it the path.
      if (!verified) await verifyArchive(ctx, readCachedFile(paths.complete, ctx.signal), ctx.signal);
    } catch (error) {
      if (!ctx.signal.aborted) {
        await removeQuietly(paths.complete);
        await removeQuietly(paths.identity);
      }
      throw error;
    }

    await ctx.onStage('apply');
    // A delta is rebuilt (and verified again on the way) rather than applied as downloaded.
    let applied: AsyncIterable<Uint8Array>;
    if (ctx.verifier.rewritesArchive === true) {
      applied = ctx.verifier.passThrough(readCachedFile(paths.complete, ctx.signal), { signal: ctx.signal });
    } else {
      // The file's bytes go to the applier as they are: its buffers are reused once it wrote them.
      const file = lentFileChunks(paths.complete, ctx.signal);
      applied = file.chunks;
      offerChunkRecycling(applied, file.doneThrough);
    }
    await ctx.applier.apply(applied, {
      signal: ctx.signal,
      publicKeys: ctx.publicKeys,
      onProgress: (percent) => ctx.onApplyProgress(percent),
      onMessage: (message) => ctx.onApplyMessage(message),
    });
    await removeQuietly(paths.complete);
    await removeQuietly(paths.identity);
  };
  return Object.freeze({ name: 'cached', resumable: true, downloadsBeforeApply: true, run });
}
