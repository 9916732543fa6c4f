import { firmwareChunks } from '../firmware/byte-source.js';
import { ARCHIVE_LIMITS, archivePathToResourceName } from '../firmware/firmware-archive-checker.js';
import { FIRMWARE_VERIFIER_DEFAULTS } from '../firmware/firmware-verifier.js';
import { MetaConfError, readMetaConf, type MetaConfResource } from '../firmware/meta-conf.js';
import { FirmwareVerificationError, malformed } from '../firmware/verification-error.js';
import { ZipStreamParser, type ZipLocalEntry, type ZipStreamHandler } from '../firmware/zip-stream-parser.js';
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

type ZipEvent = { kind: 'start'; entry: ZipLocalEntry } | { kind: 'data'; bytes: Uint8Array } | { kind: 'end'; entry: ZipLocalEntry };

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
 * meta.conf and signature, and one `xdelta3 -A -S` VCDIFF patch per changed resource) and a delta
 * source (the resources the patches were made against). Yields, as a stream, an fwup archive with
 * the same signature and meta.conf and every resource in full (stored); resources that are not
 * patches are copied unchanged, so a full archive passes through as a full archive.
 *
 * It proves nothing by itself: feed its output to `FirmwareVerifier.passThrough`, which checks the
 * signature (before this generator is asked to decode any patch: meta.conf is yielded first), then
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
 * for await (const bytes of verifier.passThrough(full, { signal })) await applier.write(bytes);
 * ```
 */
export async function* rebuildDeltaArchive(archive: AsyncIterable<Uint8Array>, source: DeltaSource, options: DeltaRebuildOptions = {}): AsyncGenerator<Uint8Array> {
  const { signal } = options;
  const events: ZipEvent[] = [];
  const handler: ZipStreamHandler = {
    entryStart: (entry) => {
      events.push({ kind: 'start', entry });
      return (bytes) => void events.push({ kind: 'data', bytes });
    },
    entryEnd: (entry) => void events.push({ kind: 'end', entry }),
    localEntriesEnd: () => {},
  };
  const parser = new ZipStreamParser(handler);
  const emitter = new StoredZipEmitter();
  let signature: { bytes: Uint8Array[]; length: number; mtime: number } | undefined;
  let meta: { bytes: Uint8Array[]; length: number } | undefined;
  let metaText: string | undefined;
  let declared = new Map<string, MetaConfResource>();
  let resource: ResourceState | undefined;
  let skipping = false;

  async function* startPatch(state: ResourceState): AsyncGenerator<Uint8Array> {
    state.file = await openSource(source, state.name, metaText!, options.tempDir);
    state.decoder = new VcdiffDecoder(state.file, {
      outputBytes: state.declared.dataLength,
      ...(options.maxWindowBytes === undefined ? {} : { maxWindowBytes: options.maxWindowBytes }),
      ...(signal ? { signal } : {}),
    });
    for (const bytes of state.sniff) state.decoder.push(bytes);
    for await (const out of state.decoder.drain()) yield emitter.data(out);
  }

  function* copy(state: ResourceState, bytes: Uint8Array): Generator<Uint8Array> {
    if (emitter.written + bytes.length > state.declared.dataLength) throw lengthMismatch(state.name);
    yield emitter.data(bytes);
  }

  /** Decides copy or patch once 4 bytes (or the whole entry) are in. */
  async function* decide(state: ResourceState): AsyncGenerator<Uint8Array> {
    const head = concat(state.sniff, Math.min(4, state.sniffed));
    state.mode = isVcdiff(head) ? 'patch' : 'copy';
    if (state.mode === 'patch') {
      yield* startPatch(state);
    } else {
      for (const bytes of state.sniff) yield* copy(state, bytes);
    }
    state.sniff = [];
  }

  async function* resourceData(state: ResourceState, bytes: Uint8Array): AsyncGenerator<Uint8Array> {
    if (state.mode === 'sniff') {
      state.sniff.push(new Uint8Array(bytes));
      state.sniffed += bytes.length;
      if (state.sniffed >= 4) yield* decide(state);
    } else if (state.mode === 'copy') {
      yield* copy(state, bytes);
    } else {
      state.decoder!.push(bytes);
      for await (const out of state.decoder!.drain()) yield emitter.data(out);
    }
  }

  async function* resourceEnd(state: ResourceState): AsyncGenerator<Uint8Array> {
    if (state.mode === 'sniff') yield* decide(state);
    if (state.mode === 'patch') {
      for await (const out of state.decoder!.end()) yield emitter.data(out);
      await state.file?.close?.();
      state.file = undefined;
    }
    if (emitter.written !== state.declared.dataLength) throw lengthMismatch(state.name);
    yield emitter.end();
  }

  function metaEntries(): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (signature) {
      out.push(emitter.start(SIGNATURE_ENTRY, signature.length, signature.mtime));
      out.push(emitter.data(concat(signature.bytes, signature.length)), emitter.end());
    }
    return out;
  }

  async function* handle(event: ZipEvent): AsyncGenerator<Uint8Array> {
    if (event.kind === 'start') {
      const { entry } = event;
      if (metaText === undefined) {
        if (entry.index === 0 && entry.name === SIGNATURE_ENTRY) signature = { bytes: [], length: 0, mtime: entry.modifiedTimeSeconds };
        else if (entry.name === META_CONF_ENTRY && entry.index === (signature ? 1 : 0)) meta = { bytes: [], length: 0 };
        else throw malformed('Expecting meta.conf to be at the beginning of the archive');
        return;
      }
      const name = archivePathToResourceName(entry.name);
      skipping = name === '';
      if (skipping) return; // a bare `data/` directory entry (zip -r writes one); the rebuilt archive has none
      const declaration = declared.get(name);
      if (!declaration) throw new FirmwareVerificationError('NH_FW_UNEXPECTED_ENTRY', `Can't find file-resource for ${name}`);
      resource = { name, declared: declaration, sniff: [], sniffed: 0, mode: 'sniff' };
      yield emitter.start(entry.name, declaration.dataLength, entry.modifiedTimeSeconds);
    } else if (event.kind === 'data') {
      if (metaText === undefined) {
        const target = meta ?? signature!;
        target.length += event.bytes.length;
        const limit = meta ? ARCHIVE_LIMITS.maxMetaConfBytes : ARCHIVE_LIMITS.maxSignatureEntryBytes;
        if (target.length > limit) throw malformed(`Unexpected ${meta ? META_CONF_ENTRY : SIGNATURE_ENTRY} size: ${target.length}`);
        target.bytes.push(new Uint8Array(event.bytes));
      } else if (skipping) {
        if (event.bytes.length > 0) throw new FirmwareVerificationError('NH_FW_UNEXPECTED_ENTRY', 'Unexpected data in a directory entry');
      } else {
        yield* resourceData(resource!, event.bytes);
      }
    } else if (metaText === undefined) {
      if (!meta) return; // the signature entry ended; meta.conf comes next
      const bytes = concat(meta.bytes, meta.length);
      metaText = new TextDecoder('utf-8').decode(bytes);
      let failure: FirmwareVerificationError | undefined;
      try {
        declared = new Map(readMetaConf(metaText, options.fwupVersion ?? FIRMWARE_VERIFIER_DEFAULTS.fwupVersion).resources.map((r) => [r.name, r]));
      } catch (error) {
        if (!(error instanceof MetaConfError)) throw error;
        failure = malformed(error.message, error);
      }
      // Signature and meta.conf go out first: the verifier downstream checks them before it asks
      // for more, so no patch is decoded (and no source opened) for an archive it refuses.
      yield* metaEntries();
      yield emitter.start(META_CONF_ENTRY, bytes.length, event.entry.modifiedTimeSeconds);
      yield emitter.data(bytes);
      yield emitter.end();
      if (failure) throw failure;
    } else if (skipping) {
      skipping = false;
    } else {
      const state = resource!;
      resource = undefined;
      yield* resourceEnd(state);
    }
  }

  try {
    for await (const chunk of firmwareChunks(archive, signal)) {
      for (let at = 0; at < chunk.length; at += SLICE_BYTES) {
        signal?.throwIfAborted();
        await parser.push(chunk.subarray(at, at + SLICE_BYTES));
        while (events.length > 0) yield* handle(events.shift()!);
      }
    }
    signal?.throwIfAborted();
    await parser.finish();
    while (events.length > 0) yield* handle(events.shift()!);
    if (metaText === undefined) throw malformed('Expecting meta.conf to be at the beginning of the archive');
    yield emitter.finish();
  } finally {
    parser.dispose();
    await resource?.file?.close?.();
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
