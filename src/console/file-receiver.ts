import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from '../logging/logger.js';
import { safeLog } from '../logging/logger.js';
import { sanitizeForLog } from '../logging/log-sanitizer.js';

/** Largest console file transfer, both ways (nerves_hub_link: files must be < 10 485 760 bytes). */
export const CONSOLE_MAX_FILE_BYTES = 10 * 1024 * 1024;

/**
 * Reduces an uploaded file name to a safe base name: the last path segment (either separator),
 * no control characters, not `.`/`..`, no leading dot (no hidden or partial-file names), at most
 * 200 characters. `undefined` when nothing usable is left.
 *
 * @example
 * ```ts
 * safeUploadName('../../etc/passwd'); // 'passwd'
 * safeUploadName('C:\\Users\\me\\notes.txt'); // 'notes.txt'
 * ```
 */
export function safeUploadName(name: unknown): string | undefined {
  if (typeof name !== 'string') return undefined;
  const base = (name.split(/[/\\]/).pop() ?? '').split('').filter((c) => c.charCodeAt(0) > 0x1f && c.charCodeAt(0) !== 0x7f).join('').replace(/^\.+/, '').trim().slice(0, 200);
  return base === '' ? undefined : base;
}

/** Limits and the completion callback of a {@link FileReceiver}. @internal */
interface FileReceiverOptions {
  maxBytes: number;
  idleMs: number;
  onDone?: (result: { name: string; path?: string; bytes: number; error?: string }) => void;
}

interface Upload {
  original: string;
  name: string;
  partial: string;
  fd: number;
  bytes: number;
  uploadedBy: string;
  idle: NodeJS.Timeout;
}

/**
 * Receives `file-data/start` / `file-data` / `file-data/stop` uploads into one directory:
 * safe base names only, at most {@link CONSOLE_MAX_FILE_BYTES}, written to a hidden partial file
 * that is renamed into place at `file-data/stop` and removed when the upload is abandoned (a new
 * upload starts, it goes idle, it grows too large, or the console closes).
 * @internal
 */
export class FileReceiver {
  #upload: Upload | undefined;
  readonly #dir: string | undefined;
  readonly #logger: Logger;
  readonly #options: FileReceiverOptions;

  constructor(dir: string | undefined, logger: Logger, options: FileReceiverOptions) {
    this.#dir = dir;
    this.#logger = logger;
    this.#options = options;
  }

  start(payload: Record<string, unknown>): void {
    this.abandon('a new upload started');
    const original = typeof payload.filename === 'string' ? payload.filename : '';
    const uploadedBy = typeof payload.uploaded_by === 'string' ? sanitizeForLog(payload.uploaded_by, 100) : 'unknown';
    if (!this.#dir) return this.#refuse(original, 'file uploads are off (no upload directory configured)');
    const name = safeUploadName(original);
    if (!name) return this.#refuse(original, 'the file name is not usable');
    const partial = join(this.#dir, `.${name}.${randomBytes(4).toString('hex')}.upload`);
    let fd: number;
    try {
      fd = openSync(partial, 'wx', 0o600);
    } catch (error) {
      return this.#refuse(original, `cannot write in the upload directory: ${(error as Error).message}`);
    }
    const idle = setTimeout(() => this.abandon('no data for a while'), this.#options.idleMs);
    idle.unref();
    this.#upload = { original, name, partial, fd, bytes: 0, uploadedBy, idle };
    safeLog(this.#logger, 'info', `console upload of ${name} started`, { uploadedBy });
  }

  data(payload: Record<string, unknown>): void {
    const u = this.#upload;
    if (!u || payload.filename !== u.original) return;
    const chunk = typeof payload.data === 'string' ? Buffer.from(payload.data, 'base64') : Buffer.alloc(0);
    if (u.bytes + chunk.length > this.#options.maxBytes) {
      this.abandon(`larger than ${this.#options.maxBytes} bytes`);
      return;
    }
    try {
      writeSync(u.fd, chunk);
    } catch (error) {
      this.abandon(`write failed: ${(error as Error).message}`);
      return;
    }
    u.bytes += chunk.length;
    u.idle.refresh();
  }

  stop(payload: Record<string, unknown>): void {
    const u = this.#upload;
    if (!u || payload.filename !== u.original) return;
    this.#upload = undefined;
    clearTimeout(u.idle);
    const path = join(this.#dir ?? '', u.name);
    try {
      closeSync(u.fd);
      // rename never follows a symlink at the destination: the file stays inside the directory
      renameSync(u.partial, path);
    } catch (error) {
      rmSync(u.partial, { force: true });
      this.#refuse(u.original, `could not be saved: ${(error as Error).message}`);
      return;
    }
    safeLog(this.#logger, 'info', `console upload of ${u.name} saved (${u.bytes} bytes)`, { uploadedBy: u.uploadedBy });
    this.#options.onDone?.({ name: u.name, path, bytes: u.bytes });
  }

  /** Drops the upload in progress and removes its partial file. */
  abandon(why: string): void {
    const u = this.#upload;
    if (!u) return;
    this.#upload = undefined;
    clearTimeout(u.idle);
    try {
      closeSync(u.fd);
    } catch {
      // already closed
    }
    rmSync(u.partial, { force: true });
    this.#refuse(u.original, why);
  }

  #refuse(original: string, why: string): void {
    const name = sanitizeForLog(original, 100);
    safeLog(this.#logger, 'warn', `console upload of ${name} dropped: ${why}`);
    this.#options.onDone?.({ name, bytes: 0, error: why });
  }
}
