import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { WireFirmwareMeta } from '../protocol/wire-firmware-meta.js';
import type { Logger } from '../logging/logger.js';
import { safeLog, silentLogger } from '../logging/logger.js';

/**
 * Where an update stood when the journal was last written: `download` (also the whole streaming
 * update: it verifies and applies while downloading), `verify` (re-checking the complete cached
 * file, read-only), `apply` (the applier is writing).
 */
export type UpdateStage = 'download' | 'verify' | 'apply';

/** What kind of failure ended an update attempt (decides whether retrying can help). */
export type UpdateFailureKind = 'download' | 'verification' | 'apply' | 'unexpected';

/**
 * The update being downloaded/applied, as recorded on disk so a restart can resume it.
 *
 * @example
 * ```ts
 * const pending = (await journal.load()).pending;
 * if (pending) console.log(`interrupted update ${pending.uuid}, attempt ${pending.attempts}`);
 * ```
 */
export interface JournalPendingUpdate {
  /** UUID of the firmware being installed. */
  uuid: string;
  /** The firmware URL, query included (needed to resume). Secret: never log it; the file is mode 0600. */
  firmwareUrl: string;
  /** Its metadata, as offered. */
  firmwareMeta: WireFirmwareMeta;
  /** Size the server announced. */
  size?: number;
  /** Whole-file SHA-256 the server sent. */
  checksum?: string;
  /** Per-MiB SHA-256s the server sent. */
  partialsChecksums?: string[];
  /** Name of the strategy it runs with; only a resumable strategy of that name resumes it. */
  strategy: string;
  /** ISO-8601 time of the first attempt. */
  startedAt: string;
  /**
   * How many times this firmware was started on this device (across restarts). A restart that
   * interrupted only the re-verification of a complete cached file does not count.
   */
  attempts: number;
  /** Where the update stood (absent in journals of older versions: counted as `download`). */
  stage?: UpdateStage;
}

/**
 * The last failure of one firmware UUID on this device.
 *
 * @example
 * ```ts
 * const state = await journal.load();
 * for (const f of state.failures) console.log(f.uuid, f.kind, f.count, f.reason);
 * ```
 */
export interface JournalFailure {
  /** UUID of the firmware that failed. */
  uuid: string;
  /** Consecutive failures of this kind. */
  count: number;
  /** What failed. */
  kind: UpdateFailureKind;
  /** The reason reported to the server. */
  reason: string;
  /** ISO-8601 time of the last failure. */
  at: string;
}

/**
 * Everything in the journal file.
 *
 * @example
 * ```ts
 * const state: JournalState = await new UpdateJournal({ stateDir: '/data/nerves-hub-link' }).load();
 * ```
 */
export interface JournalState {
  /** File format version. */
  version: 1;
  /** The update in progress, or `null`. */
  pending: JournalPendingUpdate | null;
  /** Most recent last; bounded to `maxFailures` entries of {@link JOURNAL_DEFAULTS}. */
  failures: JournalFailure[];
}

/** Defaults of the journal. */
export const JOURNAL_DEFAULTS = Object.freeze({
  /** Journal file name inside `stateDir`. */
  fileName: 'update-journal.json',
  /** Failure records kept (oldest dropped first). */
  maxFailures: 16,
});

/** A fresh, empty journal state. */
export function emptyJournalState(): JournalState {
  return { version: 1, pending: null, failures: [] };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parsePending(v: unknown): JournalPendingUpdate | null {
  if (!isRecord(v)) return null;
  const { uuid, firmwareUrl, firmwareMeta, strategy, startedAt, attempts } = v;
  if (typeof uuid !== 'string' || typeof firmwareUrl !== 'string' || !isRecord(firmwareMeta)) return null;
  if (firmwareMeta.uuid !== uuid) return null;
  if (typeof strategy !== 'string' || strategy === '') return null;
  if (typeof startedAt !== 'string' || typeof attempts !== 'number' || !Number.isSafeInteger(attempts)) return null;
  const p: JournalPendingUpdate = {
    uuid,
    firmwareUrl,
    firmwareMeta: firmwareMeta as unknown as WireFirmwareMeta,
    strategy,
    startedAt,
    attempts,
  };
  if (typeof v.size === 'number' && Number.isSafeInteger(v.size) && v.size >= 0) p.size = v.size;
  if (typeof v.checksum === 'string') p.checksum = v.checksum;
  if (v.stage === 'download' || v.stage === 'verify' || v.stage === 'apply') p.stage = v.stage;
  if (Array.isArray(v.partialsChecksums) && v.partialsChecksums.every((c) => typeof c === 'string')) {
    p.partialsChecksums = v.partialsChecksums as string[];
  }
  return p;
}

const FAILURE_KINDS: readonly string[] = ['download', 'verification', 'apply', 'unexpected'];

function parseFailure(v: unknown): JournalFailure | null {
  if (!isRecord(v)) return null;
  const { uuid, count, kind, reason, at } = v;
  if (typeof uuid !== 'string' || typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) return null;
  if (typeof kind !== 'string' || !FAILURE_KINDS.includes(kind)) return null;
  if (typeof reason !== 'string' || typeof at !== 'string') return null;
  return { uuid, count, kind: kind as UpdateFailureKind, reason, at };
}

/**
 * Parses journal file contents; anything unreadable yields `null` (the caller starts empty).
 * Unknown or malformed entries are dropped individually.
 */
export function parseJournalState(text: string): JournalState | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isRecord(raw) || raw.version !== 1) return null;
  const failures = Array.isArray(raw.failures)
    ? raw.failures.map(parseFailure).filter((f): f is JournalFailure => f !== null)
    : [];
  return { version: 1, pending: parsePending(raw.pending), failures: failures.slice(-JOURNAL_DEFAULTS.maxFailures) };
}

/**
 * A small crash-safe record of the update in progress and of recent failures, in
 * `<stateDir>/update-journal.json`. Every write replaces the file atomically (temp file, fsync,
 * rename, directory fsync), with mode 0600 because the pending firmware URL is a credential.
 * Writes are serialised; reads return the last state written by this instance.
 *
 * @example
 * ```ts
 * const journal = new UpdateJournal({ stateDir: '/data/nerves-hub' });
 * const state = await journal.load();
 * if (state.pending) console.log('interrupted update', state.pending.uuid);
 * ```
 */
export class UpdateJournal {
  /** Full path of the journal file. */
  readonly path: string;
  readonly #stateDir: string;
  readonly #logger: Logger;
  #state: JournalState | null = null;
  #queue: Promise<unknown> = Promise.resolve();

  /**
   * Opens (lazily) the journal in `stateDir`; nothing is read or written until the first call.
   *
   * @param options - `stateDir`: directory for the journal (created 0700 if missing); `logger`
   */
  constructor(options: { stateDir: string; logger?: Logger }) {
    this.#stateDir = options.stateDir;
    this.path = join(options.stateDir, JOURNAL_DEFAULTS.fileName);
    this.#logger = options.logger ?? silentLogger;
  }

  /** Reads the file once (later calls return the cached state). A missing or corrupt file reads as empty. */
  async load(): Promise<JournalState> {
    if (this.#state) return structuredClone(this.#state);
    let text: string | null = null;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        safeLog(this.#logger, 'warn', 'update journal unreadable; starting empty', { error: String(err) });
      }
    }
    let parsed = text === null ? null : parseJournalState(text);
    if (text !== null && parsed === null) {
      safeLog(this.#logger, 'warn', 'update journal corrupt; starting empty', { path: this.path });
    }
    parsed ??= emptyJournalState();
    this.#state ??= parsed;
    return structuredClone(this.#state);
  }

  /**
   * Applies `change` to the current state and writes the result atomically. Serialised with other
   * updates. Rejects if the file cannot be written (the in-memory state is still updated).
   */
  update(change: (state: JournalState) => void): Promise<JournalState> {
    const run = this.#queue.then(async () => {
      const state = await this.load();
      change(state);
      state.failures = state.failures.slice(-JOURNAL_DEFAULTS.maxFailures);
      this.#state = state;
      await this.#write(state);
      return structuredClone(state);
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #write(state: JournalState): Promise<void> {
    await mkdir(this.#stateDir, { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.tmp`;
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(JSON.stringify(state), 'utf8');
      await handle.chmod(0o600); // an existing temp file keeps its old mode otherwise
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(tmp, this.path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    await syncDirectory(this.#stateDir);
  }
}

/** fsync a directory so a rename in it survives power loss; not supported everywhere (ignored). */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const h = await open(dir, 'r');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  } catch {
    // Some platforms/filesystems cannot fsync a directory; the rename is still atomic.
  }
}
