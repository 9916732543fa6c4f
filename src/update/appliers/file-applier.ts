import { randomBytes } from 'node:crypto';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { NervesHubError, isNervesHubError } from '../../errors.js';
import type { ApplyContext, FirmwareApplier } from '../firmware-applier.js';
import { nextOrAbort, releaseSource } from './abortable-source.js';
import { ApplyErrorCodes, abortedApplyError } from './apply-errors.js';

/** Options of {@link FileApplier}. */
export interface FileApplierOptions {
  /** Where the archive ends up. */
  path: string;
  /** File mode of the result, default `0o644`. */
  mode?: number;
}

/** Defaults of {@link FileApplierOptions}. */
export const DEFAULT_FILE_APPLIER_OPTIONS = Object.freeze({ mode: 0o644 });

async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  let at = 0;
  while (at < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, at, chunk.length - at);
    at += bytesWritten;
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

/**
 * Stores the archive as a file, atomically: it is written to a temporary file in the same
 * directory, fsynced, renamed over `path`, and the directory fsynced. If the source fails or the
 * apply is aborted, the temporary file is removed and any previous file at `path` is untouched.
 * Useful for devices that hand the archive to another updater, and for tests.
 *
 * @example
 * ```ts
 * const applier = new FileApplier({ path: '/data/firmware/next.fw' });
 * ```
 */
export class FileApplier implements FirmwareApplier {
  readonly #path: string;
  readonly #mode: number;

  constructor(options: FileApplierOptions) {
    if (typeof options.path !== 'string' || options.path === '') throw new NervesHubError('NH_BAD_OPTIONS', 'FileApplier needs a path');
    this.#path = options.path;
    this.#mode = options.mode ?? DEFAULT_FILE_APPLIER_OPTIONS.mode;
  }

  /** Writes `source` to the file; resolves once it is durably in place. */
  async apply(source: AsyncIterable<Uint8Array>, context: ApplyContext): Promise<void> {
    if (context.signal.aborted) throw abortedApplyError(context.signal.reason, 'signal');
    const directory = dirname(this.#path);
    const temporary = join(directory, `.${basename(this.#path)}.${randomBytes(6).toString('hex')}.tmp`);
    let handle: FileHandle | undefined;
    const iterator = source[Symbol.asyncIterator]();
    try {
      try {
        handle = await open(temporary, 'wx', this.#mode);
      } catch (error) {
        throw new NervesHubError(ApplyErrorCodes.failed, `cannot create a temporary file next to ${this.#path}: ${(error as Error).message}`, { cause: error });
      }
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
        await writeAll(handle, next.value);
        bytes += next.value.length;
      }
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
      await handle?.close().catch(() => {});
      await unlink(temporary).catch(() => {});
      if (isNervesHubError(error)) throw error;
      throw new NervesHubError(ApplyErrorCodes.failed, `writing ${this.#path} failed: ${(error as Error).message}`, { cause: error });
    }
  }
}
