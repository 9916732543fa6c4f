import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { DeltaSource } from '../../delta/delta-source.js';
import { NervesHubError, isNervesHubError, invalidOptions } from '../../errors.js';
import type { ApplyContext, FirmwareApplier } from '../firmware-applier.js';
import { nextOrAbort, releaseSource } from '../../internal/abortable-source.js';
import { ApplyErrorCodes, abortedApplyError } from './apply-errors.js';
import { BatchedFileWriter } from '../batched-file-writer.js';
import { chunkRecyclerOf } from '../chunk-recycling.js';

/**
 * Options of {@link FileApplier}.
 *
 * @example
 * ```ts
 * const applier = new FileApplier({ path: '/data/firmware/next.fw', mode: 0o600 });
 * ```
 * @category Updates
 */
export interface FileApplierOptions {
  /** Where the archive ends up. */
  path: string;
  /** File mode of the result, default `0o644`. */
  mode?: number;
  /**
   * Offer the file at `path` (the firmware applied last) as the delta source, so NervesHub delta
   * firmware is rebuilt against it and verified in full before it replaces the file. Default `true`.
   */
  useAsDeltaSource?: boolean;
}

/** Defaults of {@link FileApplierOptions}. */
export const FILE_APPLIER_DEFAULTS = Object.freeze({
  /** Default {@link FileApplierOptions.mode}: `rw-r--r--`. */
  mode: 0o644,
});

/**
 * True when `path` begins with a zip local file header, as every firmware archive does. Anything
 * else (no file, an empty or foreign file) cannot be a delta source: advertising deltas with it
 * would make NervesHub send updates that can only fail.
 */
function startsLikeFirmwareArchive(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const head = Buffer.alloc(4);
    return readSync(fd, head, 0, 4, 0) === 4 && head.readUInt32LE(0) === 0x04034b50;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** fsyncs a directory so a rename in it survives power loss (not possible on every platform). */
async function syncDirectory(path: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    await handle.sync();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'ENOTSUP') throw error;
  } finally {
    await handle?.close();
  }
}

/** Temporary files of applies running in this process (never removed as stale). */
const inFlight = new Set<string>();

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Matches this applier's temporary files for `target`: `.<name>.<pid>-<12 hex>.tmp`, and
 * `.<name>.<12 hex>.tmp` as written by versions before the pid was part of the name.
 */
function temporaryNamePattern(target: string): RegExp {
  return new RegExp(`^\\.${escapeRegExp(basename(target))}\\.(?:([1-9][0-9]{0,9})-)?[0-9a-f]{12}\\.tmp$`);
}

/** True while a process with this pid exists (EPERM: it exists, owned by someone else). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Stores the archive as a file, atomically: it is written to a temporary file in the same
 * directory, fsynced, renamed over `path`, and the directory fsynced. Chunks are written in
 * batches while the next ones are read, so the source must not reuse a chunk's memory after
 * yielding it (downloads, the verifier's pass-through and file read streams never do). If the source fails or the
 * apply is aborted, the temporary file is removed and any previous file at `path` is untouched.
 * A process killed mid-write cannot remove its temporary file: every `apply` first removes the
 * stale ones ({@link FileApplier.removeStaleTemporaryFiles}). Useful for devices that hand the
 * archive to another updater, and for tests.
 *
 * @example
 * ```ts
 * const applier = new FileApplier({ path: '/data/firmware/next.fw' });
 * ```
 * @category Updates
 */
export class FileApplier implements FirmwareApplier {
  readonly #path: string;
  readonly #mode: number;
  readonly #useAsDeltaSource: boolean;

  /** @throws NervesHubError `NH_INVALID_OPTIONS` without `path`. */
  constructor(options: FileApplierOptions) {
    if (typeof options.path !== 'string' || options.path === '') throw invalidOptions('FileApplier needs a path');
    this.#path = options.path;
    this.#mode = options.mode ?? FILE_APPLIER_DEFAULTS.mode;
    this.#useAsDeltaSource = options.useAsDeltaSource ?? true;
  }

  /**
   * The firmware applied last (`{ archivePath: path }`) while that file exists, starts like a
   * firmware archive (a zip local header) and `useAsDeltaSource` is not `false`: delta firmware is rebuilt against it. The new file is
   * written beside it and renamed over it only once the rebuilt archive is verified and durable.
   *
   * @example
   * ```ts
   * const source = new FileApplier({ path: '/data/firmware/current.fw' }).deltaSource();
   * ```
   */
  deltaSource(): DeltaSource | undefined {
    return this.#useAsDeltaSource && startsLikeFirmwareArchive(this.#path) ? { archivePath: this.#path } : undefined;
  }

  /**
   * Removes the temporary files a killed process left next to `path`: only names this applier
   * writes for this very `path` (`.<name>.<pid>-<random>.tmp`), only in its directory, and never
   * one whose process still runs (another process, or an apply in progress in this one). `apply`
   * calls it first; call it at start-up too to free the space before the next update. Never
   * throws (a file that cannot be removed is left for the next time).
   *
   * @returns the names removed
   * @example
   * ```ts
   * const applier = new FileApplier({ path: '/data/firmware/next.fw' });
   * await applier.removeStaleTemporaryFiles(); // at start-up, before any update
   * ```
   */
  async removeStaleTemporaryFiles(): Promise<string[]> {
    const directory = dirname(this.#path);
    const pattern = temporaryNamePattern(this.#path);
    let names: string[];
    try {
      names = await readdir(directory);
    } catch {
      return []; // a missing directory fails the apply itself, with a clear message
    }
    const removed: string[] = [];
    for (const name of names) {
      const match = pattern.exec(name);
      if (match === null) continue;
      const path = join(directory, name);
      const pid = match[1] === undefined ? undefined : Number(match[1]);
      // Same pid as ours but not in flight: a process before a reboot had our pid (common on devices).
      if (pid === process.pid ? inFlight.has(path) : pid !== undefined && processExists(pid)) continue;
      try {
        await unlink(path);
        removed.push(name);
      } catch {
        // gone already, or not a file: nothing to do
      }
    }
    return removed;
  }

  /** Writes `source` to the file; resolves once it is durably in place. */
  async apply(source: AsyncIterable<Uint8Array>, context: ApplyContext): Promise<void> {
    if (context.signal.aborted) throw abortedApplyError(context.signal.reason, 'signal');
    await this.removeStaleTemporaryFiles();
    const directory = dirname(this.#path);
    const temporary = join(directory, `.${basename(this.#path)}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
    inFlight.add(temporary);
    let handle: FileHandle | undefined;
    let writer: BatchedFileWriter | undefined;
    const iterator = source[Symbol.asyncIterator]();
    try {
      try {
        handle = await open(temporary, 'wx', this.#mode);
      } catch (error) {
        throw new NervesHubError(ApplyErrorCodes.failed, `cannot create a temporary file next to ${this.#path}: ${(error as Error).message}`, { cause: error });
      }
      // Chunks whose source lets us hand them back are released once written (their buffers are reused).
      const doneThrough = chunkRecyclerOf(source);
      writer = new BatchedFileWriter(handle, doneThrough ? { onWritten: doneThrough } : {});
      let bytes = 0;
      for (;;) {
        let next: IteratorResult<Uint8Array> | 'aborted';
        try {
          next = await nextOrAbort(iterator, context.signal);
        } catch (error) {
          throw abortedApplyError(error, 'source');
        }
        if (next === 'aborted') throw abortedApplyError(context.signal.reason, 'signal');
        if (next.done) break;
        await writer.add(next.value);
        bytes += next.value.length;
      }
      await writer.flush();
      if (context.signal.aborted) throw abortedApplyError(context.signal.reason, 'signal');
      await handle.sync();
      await handle.close();
      handle = undefined;
      await rename(temporary, this.#path);
      await syncDirectory(directory);
      try {
        context.onProgress(100);
        context.onMessage({ type: 'ok', message: `wrote ${bytes} bytes` });
      } catch {
        // Callbacks must not turn a durable write into a failure.
      }
    } catch (error) {
      releaseSource(iterator);
      await writer?.settled(); // a write still in flight must end before the handle is closed
      await handle?.close().catch(() => {});
      await unlink(temporary).catch(() => {});
      if (isNervesHubError(error)) throw error;
      throw new NervesHubError(ApplyErrorCodes.failed, `writing ${this.#path} failed: ${(error as Error).message}`, { cause: error });
    } finally {
      inFlight.delete(temporary);
    }
  }
}
