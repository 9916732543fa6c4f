import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { isNervesHubError, invalidOptions } from '../errors.js';
import { FirmwareVerifier } from '../firmware/firmware-verifier.js';
import type { Logger } from '../logging/logger.js';
import { safeLog, silentLogger } from '../logging/logger.js';
import type { ArchiveInfo } from '../protocol/archive-info.js';
import type { FirmwareDownloadSource } from '../update/update-ports.js';

/**
 * The app's side of archives (nerves_hub_link's `archive_available/1` and `archive_ready/2`).
 *
 * @example
 * ```ts
 * const client: ArchiveClient = {
 *   archiveAvailable: (info) => (info.version === wantedVersion ? 'download' : 'ignore'),
 *   archiveReady: async (info, path) => { await installBundle(path); await rm(path); },
 * };
 * ```
 */
export interface ArchiveClient {
  /** Download this archive? Default (no hook, a throw, or anything else): `ignore`. */
  archiveAvailable?(info: ArchiveInfo): 'download' | 'ignore' | Promise<'download' | 'ignore'>;
  /** A verified archive is at `path`; the app owns the file from now on (move or delete it). */
  archiveReady?(info: ArchiveInfo, path: string): void | Promise<void>;
}

/**
 * Options of {@link ArchiveManager}.
 *
 * @example
 * ```ts
 * const options: ArchiveManagerOptions = { dir: '/data/nerves-hub-link/archives', client: archiveClient, downloader, publicKeys: () => socket.archivePublicKeys };
 * ```
 */
export interface ArchiveManagerOptions {
  /** Where partial and verified archives are written (created when missing). */
  dir: string;
  /** The app's decisions and hand-off. */
  client: ArchiveClient;
  /** Downloads with resume (the SDK's `Downloader`: https only, bounded by `size`). */
  downloader: FirmwareDownloadSource;
  /** Archive public keys, read at each offer (the socket's: pinned, or sent by the server when the join asked). */
  publicKeys: () => readonly string[];
  /** Log sink (default: silent). */
  logger?: Logger;
}

/**
 * What became of one archive offer.
 *
 * @example
 * ```ts
 * socket.on('archive', async (archive) => {
 *   const outcome: ArchiveOutcome = await archives.handle(archive);
 *   if (outcome.status === 'failed') log(outcome.code, outcome.reason);
 * });
 * ```
 */
export interface ArchiveOutcome {
  /** `ready` (handed to the app), `ignored`, `refused` (no keys), `busy` (this one is already downloading) or `failed`. */
  status: 'ready' | 'ignored' | 'refused' | 'busy' | 'failed';
  /** The archive UUID. */
  uuid: string;
  /** Where the verified archive is (`ready` only). */
  path?: string;
  /** Stable code of a refusal or failure (`NH_ARCHIVE_NO_KEYS`, `NH_FW_BAD_SIGNATURE`, `NH_DOWNLOAD_*`…). */
  code?: string;
  /** Why, for logs. */
  reason?: string;
}

/** Error codes of archives. */
export const ArchiveErrorCodes = {
  /** No archive public keys: archives are never downloaded unverified. */
  noKeys: 'NH_ARCHIVE_NO_KEYS',
  /** Writing or moving the archive file failed. */
  io: 'NH_ARCHIVE_IO',
} as const;

/** Download codes after which the partial file cannot be resumed. */
const DISCARD_PARTIAL = new Set(['NH_DOWNLOAD_RANGE_NOT_SATISFIABLE', 'NH_DOWNLOAD_BAD_RANGE', 'NH_DOWNLOAD_BODY_TOO_LONG', 'NH_DOWNLOAD_SIZE_MISMATCH']);

/** A file name safe on any file system made from a server-chosen UUID. @internal */
export function archiveFileStem(uuid: string): string {
  const stem = uuid.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_').slice(0, 100);
  return stem === '' ? 'archive' : stem;
}

/**
 * Archives (reference §5.9): NervesHub offers a signed file bundle with `archive`; the app decides
 * (`download` / `ignore`); the archive is downloaded with resume into `<dir>/<uuid>.download`
 * (kept across restarts and resumed with `Range`), verified with the archive keys by
 * {@link FirmwareVerifier} (the same rules as firmware), renamed to `<dir>/<uuid>.fw` and handed to
 * the app (`archiveReady`). Without archive keys the offer is refused before the app is asked; a
 * file that fails verification is deleted and never handed on. Nothing is reported to NervesHub
 * (there is no archive status in the protocol).
 *
 * @example
 * ```ts
 * const archives = new ArchiveManager({ dir, client: archiveClient, downloader: new Downloader(), publicKeys: () => socket.archivePublicKeys });
 * socket.on('archive', (info) => void archives.handle(info));
 * ```
 */
export class ArchiveManager {
  readonly #o: ArchiveManagerOptions;
  readonly #logger: Logger;
  readonly #active = new Set<string>();
  readonly #stop = new AbortController();

  /** @throws NervesHubError `NH_INVALID_OPTIONS` without a `dir`. */
  constructor(options: ArchiveManagerOptions) {
    if (typeof options?.dir !== 'string' || options.dir === '') throw invalidOptions('ArchiveManager: dir is required');
    this.#o = options;
    this.#logger = options.logger ?? silentLogger;
  }

  /** Handles one offer; never throws. */
  async handle(info: ArchiveInfo): Promise<ArchiveOutcome> {
    const uuid = info.uuid;
    const keys = this.#o.publicKeys().filter((k) => k !== '');
    if (keys.length === 0) {
      return this.#end({ status: 'refused', uuid, code: ArchiveErrorCodes.noKeys, reason: 'Refusing unverified archive: no public keys available' });
    }
    if (this.#active.has(uuid)) return { status: 'busy', uuid };
    this.#active.add(uuid);
    try {
      if ((await this.#decide(info)) !== 'download') return this.#end({ status: 'ignored', uuid });
      return await this.#download(info, keys);
    } finally {
      this.#active.delete(uuid);
    }
  }

  /** Stops downloads in progress (their partial files stay for the next offer). */
  close(): void {
    this.#stop.abort(new Error('ArchiveManager closed'));
  }

  async #decide(info: ArchiveInfo): Promise<'download' | 'ignore'> {
    try {
      return (await this.#o.client.archiveAvailable?.(info)) === 'download' ? 'download' : 'ignore';
    } catch (error) {
      safeLog(this.#logger, 'error', 'archiveAvailable() threw; ignoring the archive', { error: String(error) });
      return 'ignore';
    }
  }

  async #download(info: ArchiveInfo, keys: readonly string[]): Promise<ArchiveOutcome> {
    const uuid = info.uuid;
    const stem = archiveFileStem(uuid);
    const partial = join(this.#o.dir, `${stem}.download`);
    const final = join(this.#o.dir, `${stem}.fw`);
    try {
      await mkdir(this.#o.dir, { recursive: true });
      let offset = (await stat(partial).catch(() => undefined))?.size ?? 0;
      if (info.size !== undefined && offset > info.size) {
        await rm(partial, { force: true });
        offset = 0;
      }
      const out = createWriteStream(partial, { flags: offset > 0 ? 'a' : 'w' });
      let writeError: unknown;
      out.on('error', (e) => (writeError ??= e));
      try {
        const source = this.#o.downloader.stream(info.url, { signal: this.#stop.signal, offset, ...(info.size !== undefined ? { expectedSize: info.size } : {}) });
        for await (const chunk of source) {
          if (writeError !== undefined) break;
          if (!out.write(chunk)) await new Promise<void>((r) => (out.once('drain', () => r()), out.once('error', () => r())));
        }
      } finally {
        out.end();
        await finished(out).catch(() => undefined);
      }
      if (writeError !== undefined) throw writeError;
    } catch (error) {
      const code = isNervesHubError(error) ? error.code : ArchiveErrorCodes.io;
      if (DISCARD_PARTIAL.has(code)) await rm(partial, { force: true });
      return this.#end({ status: 'failed', uuid, code, reason: error instanceof Error ? error.message : String(error) });
    }
    const verdict = await new FirmwareVerifier({ publicKeys: keys }).verify(partial, { signal: this.#stop.signal }).catch((error: unknown) => ({
      valid: false as const,
      code: 'NH_ARCHIVE_IO',
      message: error instanceof Error ? error.message : String(error),
    }));
    if (!verdict.valid) {
      await rm(partial, { force: true });
      return this.#end({ status: 'failed', uuid, code: verdict.code, reason: verdict.message });
    }
    try {
      await rename(partial, final);
    } catch (error) {
      return this.#end({ status: 'failed', uuid, code: ArchiveErrorCodes.io, reason: String(error) });
    }
    try {
      await this.#o.client.archiveReady?.(info, final);
    } catch (error) {
      safeLog(this.#logger, 'error', 'archiveReady() threw', { error: String(error) });
    }
    return this.#end({ status: 'ready', uuid, path: final });
  }

  #end(outcome: ArchiveOutcome): ArchiveOutcome {
    const level = outcome.status === 'failed' || outcome.status === 'refused' ? 'warn' : 'info';
    safeLog(this.#logger, level, `archive ${outcome.status}`, { uuid: outcome.uuid, ...(outcome.code ? { code: outcome.code, reason: outcome.reason } : {}) });
    return outcome;
  }
}
