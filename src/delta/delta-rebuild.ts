import { firmwareChunks } from '../firmware/byte-source.js';
import { ARCHIVE_LIMITS, archivePathToResourceName } from '../firmware/firmware-archive-checker.js';
import { FIRMWARE_VERIFIER_DEFAULTS } from '../firmware/firmware-verifier.js';
import { MetaConfError, readMetaConf, type MetaConfResource } from '../firmware/meta-conf.js';
import { FirmwareVerificationError, malformed } from '../firmware/verification-error.js';
import { ZipStreamParser, type ZipLocalEntry } from '../firmware/zip-stream-parser.js';
import { openArchiveResource } from './archive-delta-source.js';
import { DeltaError } from './delta-error.js';
import type { DeltaSource, DeltaSourceFile } from './delta-source.js';
import { StoredZipEmitter } from './stored-zip-emitter.js';
import { VcdiffDecoder } from './vcdiff-decoder.js';
import { isVcdiff } from './vcdiff-stream-parser.js';

/**
 * Options of {@link rebuildDeltaArchive}.
 *
 * @example
 * ```ts
 * const options: DeltaRebuildOptions = { signal, maxWindowBytes: 8 << 20, tempDir: '/data/tmp' };
 * ```
 */
export interface DeltaRebuildOptions {
  /** Aborts the rebuild. */
  signal?: AbortSignal;
  /** Largest VCDIFF target window accepted (default 16 MiB). */
  maxWindowBytes?: number;
  /** Where a deflated resource of a `{ archivePath }` source is inflated to (default: OS temp dir). */
  tempDir?: string;
  /** fwup version `require-fwup-version` is checked against (as the verifier's). */
  fwupVersion?: string;
}

/**
 * Zip input is fed to the parser in slices this large, so that what one slice inflates to (at most
 * ~1032× for deflate) and waits for the asynchronous decoder stays bounded (~32 MiB worst case).
 */
const SLICE_BYTES = 32 * 1024;

type ZipEvent =
  | { kind: 'start'; entry: ZipLocalEntry }
  | { kind: 'data'; bytes: Uint8Array }
  | { kind: 'end'; entry: ZipLocalEntry }
  | { kind: 'entries-end' };

/** Held input before the first resource shows whether the archive is a delta (meta entries are far smaller). */
const MAX_UNDECIDED_BYTES = ARCHIVE_LIMITS.maxMetaConfCompressedBytes + 2 * SLICE_BYTES;

const SIGNATURE_ENTRY = 'meta.conf.ed25519';
const META_CONF_ENTRY = 'meta.conf';

interface ResourceState {
  name: string;
  declared: MetaConfResource;
  sniff: Uint8Array[];
  sniffed: number;
  mode: 'sniff' | 'copy' | 'patch';
  decoder?: VcdiffDecoder;
  file?: DeltaSourceFile;
}

function lengthMismatch(name: string): FirmwareVerificationError {
  return new FirmwareVerificationError('NH_FW_LENGTH_MISMATCH', `ZIP data length mismatch for ${name}`);
}

async function openSource(source: DeltaSource, resource: string, metaConf: string, tempDir: string | undefined): Promise<DeltaSourceFile> {
  const file = typeof source === 'function' ? await source({ resource, metaConf }) : await openArchiveResource(source.archivePath, resource, tempDir);
  if (!file) throw new DeltaError('NH_DELTA_NO_SOURCE', `resource ${resource} is a delta, but the delta source has no ${resource}`);
  return file;
}

/**
 * Rebuilds the full firmware archive from a delta archive (NervesHub's: the target's signed
 * meta.conf and signature, and one `xdelta3 -A -S` VCDIFF patch per resource) and a delta source
 * (the resources the patches were made against). Yields, as a stream, an fwup archive with the
 * same signature and meta.conf and every resource in full (stored entries; a resource that is not
 * a patch is copied). An archive whose first resource is not a VCDIFF patch is a full firmware: it
 * passes through byte for byte, untouched.
 *
 * It proves nothing by itself: feed its output to `FirmwareVerifier.passThrough`, which checks the
 * signature (before this generator is asked to decode anything: meta.conf is yielded first), then
 * the length and BLAKE2b-256 of every rebuilt resource before its last byte is released. Memory
 * stays bounded: one VCDIFF window (checked against the signed `length` before allocation), a
 * small source cache, and what one 32 KiB input slice inflates to.
 *
 * @throws DeltaError (`NH_DELTA_*`) for a patch that is malformed, too large or made for another
 *   source; FirmwareVerificationError (`NH_FW_*`) for archive structure errors it meets first;
 *   the signal's reason on abort.
 *
 * @example
 * ```ts
 * const full = rebuildDeltaArchive(download, { archivePath: '/data/firmware/current.fw' }, { signal });
 * for await (const bytes of verifier.passThrough(full, { signal })) sink.write(bytes);
 * ```
 */
export async function* rebuildDeltaArchive(archive: AsyncIterable<Uint8Array>, source: DeltaSource, options: DeltaRebuildOptions = {}): AsyncGenerator<Uint8Array> {
  const { signal } = options;
  const rebuild = new DeltaRebuild(source, options);
  let verbatim = false;
  try {
    for await (const chunk of firmwareChunks(archive, signal)) {
      for (let at = 0; at < chunk.length; at += SLICE_BYTES) {
        signal?.throwIfAborted();
        if (verbatim) {
          yield at === 0 ? chunk : chunk.subarray(at);
          break;
        }
        const step = await rebuild.push(chunk.subarray(at, at + SLICE_BYTES));
        if (step === 'verbatim') {
          verbatim = true;
          yield* rebuild.takeHeld();
        } else {
          yield* step;
        }
      }
    }
    signal?.throwIfAborted();
    if (verbatim) return;
    const step = await rebuild.finish();
    if (step === 'verbatim') yield* rebuild.takeHeld();
    else yield* step;
  } finally {
    await rebuild.dispose();
  }
}

/** The state of one rebuild (see {@link rebuildDeltaArchive}). */
class DeltaRebuild {
  readonly #events: ZipEvent[] = [];
  readonly #parser: ZipStreamParser;
  readonly #emitter = new StoredZipEmitter();
  /** Input held until the first resource shows whether this is a delta; `undefined` once decided. */
  #held: Uint8Array[] | undefined = [];
  #heldBytes = 0;
  #signature: { bytes: Uint8Array[]; length: number; mtime: number } | undefined;
  #meta: { bytes: Uint8Array[]; length: number; mtime: number; text?: string } | undefined;
  #declared = new Map<string, MetaConfResource>();
  #resource: ResourceState | undefined;
  #firstEntry: ZipLocalEntry | undefined;
  #skipping = false;

  readonly #source: DeltaSource;
  readonly #options: DeltaRebuildOptions;

  constructor(
    source: DeltaSource,
    options: DeltaRebuildOptions,
  ) {
    this.#source = source;
    this.#options = options;
    const events = this.#events;
    this.#parser = new ZipStreamParser({
      entryStart: (entry) => {
        events.push({ kind: 'start', entry });
        return (bytes) => void events.push({ kind: 'data', bytes });
      },
      entryEnd: (entry) => void events.push({ kind: 'end', entry }),
      localEntriesEnd: () => void events.push({ kind: 'entries-end' }),
    });
  }

  /** Parses one input slice; `'verbatim'` once the archive turned out to be a full firmware. */
  async push(slice: Uint8Array): Promise<AsyncGenerator<Uint8Array> | 'verbatim'> {
    if (this.#held) {
      this.#held.push(new Uint8Array(slice));
      this.#heldBytes += slice.length;
    }
    await this.#parser.push(slice);
    return this.#processEvents();
  }

  /** Ends the input. */
  async finish(): Promise<AsyncGenerator<Uint8Array> | 'verbatim'> {
    await this.#parser.finish();
    const step = this.#processEvents();
    if (step === 'verbatim') return step;
    const emitter = this.#emitter;
    return (async function* () {
      yield* step;
      yield emitter.finish();
    })();
  }

  /** The input held back while undecided (verbatim mode). */
  takeHeld(): Uint8Array[] {
    const held = this.#held ?? [];
    this.#held = undefined;
    return held;
  }

  async dispose(): Promise<void> {
    this.#parser.dispose();
    await this.#resource?.file?.close?.();
  }

  /**
   * Decides as early as the events allow: a first resource starting with the VCDIFF magic makes
   * the archive a delta; anything else (or no resource at all) a full firmware.
   */
  #processEvents(): AsyncGenerator<Uint8Array> | 'verbatim' {
    if (this.#held) {
      while (this.#held && this.#events.length > 0) {
        const event = this.#events[0]!;
        if (this.#meta?.text === undefined || this.#firstEntry === undefined) {
          if (event.kind === 'entries-end') return 'verbatim';
          this.#events.shift();
          this.#collectHead(event);
          continue;
        }
        if (event.kind !== 'data') return 'verbatim'; // the first resource ended before 4 bytes, or no resource
        this.#events.shift();
        const state = this.#resource!;
        state.sniff.push(new Uint8Array(event.bytes));
        state.sniffed += event.bytes.length;
        if (state.sniffed < 4) continue;
        if (!isVcdiff(concat(state.sniff, 4))) return 'verbatim';
        this.#held = undefined;
        return this.#rebuildFromHere(true);
      }
      if (this.#heldBytes > MAX_UNDECIDED_BYTES) return 'verbatim'; // the verifier refuses it
      return (async function* () {})();
    }
    return this.#rebuildFromHere(false);
  }

  /** Records the signature and meta.conf entries and the first resource's start (undecided). */
  #collectHead(event: ZipEvent): void {
    if (event.kind === 'start') {
      const { entry } = event;
      if (this.#meta?.text !== undefined) {
        const name = archivePathToResourceName(entry.name);
        if (name === '') {
          this.#skipping = true; // a bare `data/` directory entry (zip -r writes one); the rebuilt archive has none
          return;
        }
        this.#firstEntry = entry;
        // meta.conf is read only if this turns out to be a delta: the declaration is looked up then
        this.#resource = { name, declared: { name, lengths: [], dataLength: 0, blake2b256: undefined }, sniff: [], sniffed: 0, mode: 'sniff' };
      } else if (entry.index === 0 && entry.name === SIGNATURE_ENTRY) {
        this.#signature = { bytes: [], length: 0, mtime: entry.modifiedTimeSeconds };
      } else if (entry.name === META_CONF_ENTRY && entry.index === (this.#signature ? 1 : 0)) {
        this.#meta = { bytes: [], length: 0, mtime: entry.modifiedTimeSeconds };
      } else {
        throw malformed('Expecting meta.conf to be at the beginning of the archive');
      }
    } else if (event.kind === 'data') {
      if (this.#skipping) return this.#checkDirectoryData(event.bytes);
      const target = this.#meta ?? this.#signature!;
      target.length += event.bytes.length;
      const limit = this.#meta ? ARCHIVE_LIMITS.maxMetaConfBytes : ARCHIVE_LIMITS.maxSignatureEntryBytes;
      if (target.length > limit) throw malformed(`Unexpected ${this.#meta ? META_CONF_ENTRY : SIGNATURE_ENTRY} size: ${target.length}`);
      target.bytes.push(new Uint8Array(event.bytes));
    } else if (event.kind === 'end') {
      if (this.#skipping) this.#skipping = false;
      else if (this.#meta) this.#meta.text = new TextDecoder('utf-8').decode(concat(this.#meta.bytes, this.#meta.length));
    }
  }

  #checkDirectoryData(bytes: Uint8Array): void {
    if (bytes.length > 0) throw new FirmwareVerificationError('NH_FW_UNEXPECTED_ENTRY', 'Unexpected data in a directory entry');
  }

  #resourceState(entry: ZipLocalEntry): ResourceState {
    const name = archivePathToResourceName(entry.name);
    const declared = this.#declared.get(name);
    if (!declared) throw new FirmwareVerificationError('NH_FW_UNEXPECTED_ENTRY', `Can't find file-resource for ${name}`);
    return { name, declared, sniff: [], sniffed: 0, mode: 'sniff' };
  }

  /**
   * The delta path. `first`: the signature and meta.conf go out before anything is decoded — the
   * verifier downstream checks them before it asks for more, so no patch is decoded (and no
   * source opened) for an archive it refuses.
   */
  async *#rebuildFromHere(first: boolean): AsyncGenerator<Uint8Array> {
    if (first) {
      let failure: FirmwareVerificationError | undefined;
      try {
        const conf = readMetaConf(this.#meta!.text!, this.#options.fwupVersion ?? FIRMWARE_VERIFIER_DEFAULTS.fwupVersion);
        this.#declared = new Map(conf.resources.map((r) => [r.name, r]));
      } catch (error) {
        if (!(error instanceof MetaConfError)) throw error;
        failure = malformed(error.message, error);
      }
      yield* this.#metaEntries();
      if (failure) throw failure;
      const state = this.#resourceState(this.#firstEntry!);
      state.sniff = this.#resource!.sniff;
      state.sniffed = this.#resource!.sniffed;
      this.#resource = state;
      yield this.#emitter.start(this.#firstEntry!.name, state.declared.dataLength, this.#firstEntry!.modifiedTimeSeconds);
      yield* this.#decide(state);
    }
    while (this.#events.length > 0) yield* this.#handle(this.#events.shift()!);
  }

  *#metaEntries(): Generator<Uint8Array> {
    const emitter = this.#emitter;
    const signature = this.#signature;
    const meta = this.#meta;
    if (signature) {
      yield emitter.start(SIGNATURE_ENTRY, signature.length, signature.mtime);
      yield emitter.data(concat(signature.bytes, signature.length));
      yield emitter.end();
    }
    yield emitter.start(META_CONF_ENTRY, meta!.length, meta!.mtime);
    yield emitter.data(concat(meta!.bytes, meta!.length));
    yield emitter.end();
  }

  async *#handle(event: ZipEvent): AsyncGenerator<Uint8Array> {
    if (event.kind === 'start') {
      this.#skipping = archivePathToResourceName(event.entry.name) === '';
      if (this.#skipping) return;
      const state = this.#resourceState(event.entry);
      this.#resource = state;
      yield this.#emitter.start(event.entry.name, state.declared.dataLength, event.entry.modifiedTimeSeconds);
    } else if (event.kind === 'data') {
      if (this.#skipping) return this.#checkDirectoryData(event.bytes);
      yield* this.#resourceData(this.#resource!, event.bytes);
    } else if (event.kind === 'end') {
      if (this.#skipping) {
        this.#skipping = false;
        return;
      }
      const state = this.#resource!;
      yield* this.#resourceEnd(state);
      this.#resource = undefined;
    }
  }

  async *#startPatch(state: ResourceState): AsyncGenerator<Uint8Array> {
    state.file = await openSource(this.#source, state.name, this.#meta!.text!, this.#options.tempDir);
    const { maxWindowBytes, signal } = this.#options;
    state.decoder = new VcdiffDecoder(state.file, {
      outputBytes: state.declared.dataLength,
      ...(maxWindowBytes === undefined ? {} : { maxWindowBytes }),
      ...(signal ? { signal } : {}),
    });
    for (const bytes of state.sniff) state.decoder.push(bytes);
    yield* this.#decoded(state.decoder.drain());
  }

  async *#decoded(windows: AsyncGenerator<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const out of windows) yield this.#emitter.data(out);
  }

  *#copy(state: ResourceState, bytes: Uint8Array): Generator<Uint8Array> {
    if (this.#emitter.written + bytes.length > state.declared.dataLength) throw lengthMismatch(state.name);
    yield this.#emitter.data(bytes);
  }

  /** Copy or patch, once 4 bytes (or the whole entry) are in. */
  async *#decide(state: ResourceState): AsyncGenerator<Uint8Array> {
    state.mode = isVcdiff(concat(state.sniff, Math.min(4, state.sniffed))) ? 'patch' : 'copy';
    if (state.mode === 'patch') yield* this.#startPatch(state);
    else for (const bytes of state.sniff) yield* this.#copy(state, bytes);
    state.sniff = [];
  }

  async *#resourceData(state: ResourceState, bytes: Uint8Array): AsyncGenerator<Uint8Array> {
    if (state.mode === 'sniff') {
      state.sniff.push(new Uint8Array(bytes));
      state.sniffed += bytes.length;
      if (state.sniffed >= 4) yield* this.#decide(state);
    } else if (state.mode === 'copy') {
      yield* this.#copy(state, bytes);
    } else {
      state.decoder!.push(bytes);
      yield* this.#decoded(state.decoder!.drain());
    }
  }

  async *#resourceEnd(state: ResourceState): AsyncGenerator<Uint8Array> {
    if (state.mode === 'sniff') yield* this.#decide(state);
    if (state.mode === 'patch') {
      yield* this.#decoded(state.decoder!.end());
      await state.file?.close?.();
      state.file = undefined;
    }
    if (this.#emitter.written !== state.declared.dataLength) throw lengthMismatch(state.name);
    yield this.#emitter.end();
  }
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    const n = Math.min(chunk.length, length - at);
    out.set(chunk.subarray(0, n), at);
    at += n;
    if (at >= length) break;
  }
  return out;
}
