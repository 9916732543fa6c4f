import type { Blake2b256 } from './blake2b.js';
import type { Blake2bWorkerHasher } from './blake2b-worker.js';
import { formatFwupTimestamp, type FirmwareMetadata } from './firmware-metadata.js';
import { FWUP_UUID_NAMESPACE, uuidFromDigest } from './firmware-uuid.js';
import { DeltaEntryCheck, type FirmwareDeltaResource } from './delta-resource.js';
import type { MetaConfDeltaSource } from './meta-conf-delta.js';
import { MetaConfError, readMetaConf, type MetaConf, type MetaConfResource } from './meta-conf.js';
import { ED25519_SIGNATURE_LENGTH, verifyWithAnyKey } from './signature.js';
import type { TrustedKey } from './signature.js';
import { FirmwareVerificationError, malformed } from './verification-error.js';
import { ZipStreamParser, type ZipEntryTotals, type ZipLocalEntry, type ZipStreamHandler } from './zip-stream-parser.js';

/**
 * A resource entry that passed its length and BLAKE2b-256 checks.
 *
 * @example
 * ```ts
 * const result = await verifier.verify('firmware.fw');
 * if (result.valid) for (const r of result.resources) console.log(r.name, r.length, r.blake2b256);
 * ```
 */
export interface FirmwareResource {
  /** Resource name as in meta.conf (`rootfs.img`, or `/name` for entries outside `data/`). */
  name: string;
  /** Entry path inside the zip (`data/rootfs.img`). */
  archivePath: string;
  /** Bytes stored in the entry (for sparse resources, the data runs only). */
  length: number;
  /** Lowercase hex BLAKE2b-256 of the entry's bytes. */
  blake2b256: string;
}

/** Limits fwup applies to the first two entries. */
export const ARCHIVE_LIMITS = Object.freeze({
  /** meta.conf must be at least this long… */
  minMetaConfBytes: 10,
  /** …and shorter than this (fwup: `max_meta_conf_size`). */
  maxMetaConfBytes: 50_000,
  /** Compressed meta.conf input beyond this is refused (bounds what waits before verification). */
  maxMetaConfCompressedBytes: 1024 * 1024,
  /** A signature entry is 64 bytes; stop reading a bogus one early. */
  maxSignatureEntryBytes: 65_536,
});

const SIGNATURE_ENTRY = 'meta.conf.ed25519';
/** fwup's FWFILE_MAX_ARCHIVE_PATH: a resource name must be shorter than this many bytes. */
const FWUP_MAX_RESOURCE_PATH = 512;
const META_CONF_ENTRY = 'meta.conf';

/** Options for one {@link FirmwareArchiveCheck}. */
export interface FirmwareArchiveCheckOptions {
  keys: readonly TrustedKey[];
  /** Name used in fwup's "Expecting meta.conf to be at the beginning of …" message. */
  label: string;
  /** fwup version `require-fwup-version` is compared against. */
  fwupVersion: string;
  hasher: Blake2b256;
  /**
   * Skip the signature checks when `keys` is empty (only for reading metadata like `fwup -m`
   * without `-p`; never for accepting firmware).
   */
  metadataWithoutSignature?: boolean;
  /** Called once meta.conf is verified, before any resource byte is processed. */
  onMetadata?: (metadata: FirmwareMetadata) => void;
  /** Accept delta (VCDIFF) resources whose delta source meta.conf declares (the applier proves their output). */
  allowDeltaResources?: boolean;
  /** Task prefix whose `on-resource` must declare the delta source (default: any task). */
  deltaTask?: string;
  /**
   * Inflate into one reused buffer (see {@link ZipStreamHandler.transientChunks}) instead of zlib's
   * stream API, which allocates a fresh output buffer per chunk. Verifying a 256 MiB deflated file:
   * 1.15 → 0.65 s, RSS 97 → 62 MB; in a download (pass-through) no time changed and the peak RSS
   * went 96–98 → 89–93 MB (5 same-run A/B rounds, bench/update-e2e.mjs, 2026-11-30). (An earlier
   * build measured the opposite, 95 → 102–110 MB, while `node:repl` was still loaded at import.)
   */
  reuseInflateBuffer?: boolean;
  /**
   * Hashes resources of at least `minBytes` on a worker thread ({@link Blake2bWorkerHasher}),
   * started by `create` at the first one; `create` returning `undefined` (or throwing) keeps the
   * hashing on this thread.
   */
  workerHashing?: { minBytes: number; create(): Blake2bWorkerHasher | undefined };
}

interface DeclaredResource {
  declaration: MetaConfResource;
  processed: boolean;
}

/** fwup's archive-path → resource-name mapping (`data/x` → `x`, anything else `x` → `/x`). */
export function archivePathToResourceName(path: string): string {
  return path.startsWith('data/') ? path.slice(5) : `/${path}`;
}

/**
 * One verification pass over a .fw archive, fed chunk by chunk. Applies fwup 1.16's checks in its
 * order (signature entry, meta.conf size, signature, meta.conf contents, then every resource's
 * length and BLAKE2b-256, then missing resources) on top of the zip-level checks of
 * {@link ZipStreamParser}. Every failure is a {@link FirmwareVerificationError}.
 */
export class FirmwareArchiveCheck implements ZipStreamHandler {
  readonly #parser = new ZipStreamParser(this);
  #signature: Uint8Array | undefined;
  #signatureBytes = 0;
  #signatureChunks: Uint8Array[] = [];
  #sawSignatureEntry = false;
  #metaChunks: Uint8Array[] = [];
  #metaBytes = 0;
  #declared = new Map<string, DeclaredResource>();
  #deltaSources = new Map<string, MetaConfDeltaSource[]>();
  #currentDelta: DeltaEntryCheck | undefined;
  readonly #verifiedDeltas: FirmwareDeltaResource[] = [];
  #verifiedMetadata: FirmwareMetadata | undefined;
  readonly #verifiedResources: FirmwareResource[] = [];
  #currentBytes = 0;
  #currentLimit = 0;
  /** The worker hasher, once a large resource started it (`null`: it could not start). */
  #worker: Blake2bWorkerHasher | null | undefined;
  /** The worker hashing the current resource (`undefined`: the calling thread's hasher). */
  #currentWorker: Blake2bWorkerHasher | undefined;

  constructor(private readonly options: FirmwareArchiveCheckOptions) {}

  /** Every sink here copies, hashes or scans its chunk at once; reuse is the caller's choice. */
  get transientChunks(): boolean {
    return this.options.reuseInflateBuffer === true;
  }

  /** Metadata once meta.conf is verified. */
  get metadata(): FirmwareMetadata | undefined {
    return this.#verifiedMetadata;
  }

  /** Resources verified so far, in archive order. */
  get resources(): FirmwareResource[] {
    return this.#verifiedResources;
  }

  /** Delta resources accepted so far (structure checked, output to be proven by the applier). */
  get deltaResources(): FirmwareDeltaResource[] {
    return this.#verifiedDeltas;
  }

  /** Offset up to which bytes may be passed on (0 until meta.conf is verified). */
  get releasableOffset(): number {
    return this.#verifiedMetadata ? this.#parser.releasableOffset : 0;
  }

  /** Feeds the next archive bytes. */
  async push(chunk: Uint8Array): Promise<void> {
    if (!this.#verifiedMetadata && this.#parser.offset > ARCHIVE_LIMITS.maxMetaConfCompressedBytes) {
      throw malformed(`Unexpected meta.conf size: ${this.#metaBytes}`);
    }
    await this.#parser.push(chunk);
  }

  /** Ends the input; throws when the archive is incomplete or a resource is missing. */
  async finish(): Promise<void> {
    await this.#parser.finish();
  }

  /** Releases zlib state and the hashing worker. */
  dispose(): void {
    this.#parser.dispose();
    this.#worker?.close();
    this.#worker = undefined;
  }

  // ---- ZipStreamHandler -------------------------------------------------------------------

  entryStart(entry: ZipLocalEntry): (data: Uint8Array) => void {
    if (this.#verifiedMetadata) return this.#resourceStart(entry);
    const first = entry.index === 0;
    if (first && entry.name === SIGNATURE_ENTRY) {
      return (data) => {
        if (this.#signatureBytes < ED25519_SIGNATURE_LENGTH) {
          const keep = data.subarray(0, ED25519_SIGNATURE_LENGTH - this.#signatureBytes);
          this.#signatureChunks.push(new Uint8Array(keep));
        }
        this.#signatureBytes += data.length;
        if (this.#signatureBytes > ARCHIVE_LIMITS.maxSignatureEntryBytes) {
          throw malformed(`Unexpected meta.conf.ed25519 size: more than ${ARCHIVE_LIMITS.maxSignatureEntryBytes}`);
        }
      };
    }
    if (entry.name !== META_CONF_ENTRY || entry.index !== (this.#sawSignatureEntry ? 1 : 0)) {
      throw malformed(`Expecting meta.conf to be at the beginning of ${this.options.label}`);
    }
    this.#metaChunks = [];
    return (data) => {
      this.#metaBytes += data.length;
      if (this.#metaBytes >= ARCHIVE_LIMITS.maxMetaConfBytes) {
        throw malformed(`Unexpected meta.conf size: ${ARCHIVE_LIMITS.maxMetaConfBytes}`);
      }
      this.#metaChunks.push(new Uint8Array(data));
    };
  }

  async entryEnd(entry: ZipLocalEntry, totals: ZipEntryTotals): Promise<void> {
    if (this.#verifiedMetadata) {
      await this.#resourceEnd(entry, totals);
    } else if (entry.index === 0 && entry.name === SIGNATURE_ENTRY) {
      if (this.#signatureBytes !== ED25519_SIGNATURE_LENGTH) {
        throw malformed(`Unexpected meta.conf.ed25519 size: ${this.#signatureBytes}`);
      }
      this.#signature = concat(this.#signatureChunks, ED25519_SIGNATURE_LENGTH);
      this.#signatureChunks = [];
      this.#sawSignatureEntry = true;
    } else {
      this.#metaConfEnd(entry);
    }
  }

  localEntriesEnd(): void {
    if (!this.#verifiedMetadata) {
      if (this.#sawSignatureEntry) throw malformed('Expecting more than meta.conf.ed25519 in archive');
      throw malformed(`Expecting meta.conf to be at the beginning of ${this.options.label}`);
    }
    // fwup keeps its resource list in reverse declaration order and reports the first miss.
    const declarations = [...this.#declared.values()].reverse();
    const missing = declarations.find((r) => !r.processed);
    if (missing) {
      throw new FirmwareVerificationError(
        'NH_FW_MISSING_RESOURCE',
        `Resource ${missing.declaration.name} not found in archive`,
      );
    }
  }

  // ---- meta.conf --------------------------------------------------------------------------

  #metaConfEnd(entry: ZipLocalEntry): void {
    const size = this.#metaBytes;
    if (size < ARCHIVE_LIMITS.minMetaConfBytes || size >= ARCHIVE_LIMITS.maxMetaConfBytes) {
      throw malformed(`Unexpected meta.conf size: ${size}`);
    }
    const bytes = concat(this.#metaChunks, size);
    this.#metaChunks = [];
    const skipSignature = this.options.metadataWithoutSignature === true && this.options.keys.length === 0;
    if (!skipSignature && !this.#signature) {
      throw new FirmwareVerificationError('NH_FW_UNSIGNED', 'Expecting signed firmware archive.');
    }
    if (!skipSignature && !verifyWithAnyKey(bytes, this.#signature!, this.options.keys)) {
      throw new FirmwareVerificationError(
        'NH_FW_BAD_SIGNATURE',
        "Firmware archive's meta.conf fails digital signature verification.",
      );
    }
    if (bytes.includes(0)) throw malformed('Unexpected error parsing meta.conf');
    let conf: MetaConf;
    try {
      conf = readMetaConf(new TextDecoder('utf-8').decode(bytes), this.options.fwupVersion);
    } catch (error) {
      if (error instanceof MetaConfError) throw malformed(error.message, error);
      throw error;
    }
    for (const declaration of conf.resources) this.#declared.set(declaration.name, { declaration, processed: false });
    this.#deltaSources = conf.deltaSources;
    const { hasher } = this.options;
    hasher.reset();
    hasher.update(FWUP_UUID_NAMESPACE);
    hasher.update(bytes);
    const uuid = uuidFromDigest(hasher.digestBytes());
    const meta = conf.meta;
    const metadata: FirmwareMetadata = { uuid };
    const set = (field: Exclude<keyof FirmwareMetadata, 'uuid'>, key: string): void => {
      const value = meta.get(key);
      if (value !== undefined && value !== '') metadata[field] = value;
    };
    set('product', 'meta-product');
    set('description', 'meta-description');
    set('version', 'meta-version');
    set('author', 'meta-author');
    set('platform', 'meta-platform');
    set('architecture', 'meta-architecture');
    metadata.creationDate = meta.get('meta-creation-date') || formatFwupTimestamp(entry.modifiedTimeSeconds);
    set('fwupVersion', 'meta-fwup-version');
    set('misc', 'meta-misc');
    set('vcsIdentifier', 'meta-vcs-identifier');
    this.#verifiedMetadata = metadata;
    this.options.onMetadata?.(metadata);
  }

  // ---- resources --------------------------------------------------------------------------

  #resourceStart(entry: ZipLocalEntry): (data: Uint8Array) => void {
    const name = archivePathToResourceName(entry.name);
    // fwup maps the name into a 512-byte buffer (FWFILE_MAX_ARCHIVE_PATH) and refuses longer ones.
    const resourceNameBytes = entry.name.startsWith('data/') ? entry.nameLength - 5 : entry.nameLength + 1;
    if (resourceNameBytes >= FWUP_MAX_RESOURCE_PATH) throw malformed('Bad path found in archive');
    if (name === '') {
      // fwup skips a bare `data/` directory entry; one that carries data is refused (it could
      // otherwise make us inflate an unbounded amount of data nobody checks).
      return (data) => {
        if (data.length > 0) {
          throw new FirmwareVerificationError('NH_FW_UNEXPECTED_ENTRY', `Unexpected data in directory entry ${entry.name}`);
        }
      };
    }
    const declared = this.#declared.get(name);
    if (!declared) throw new FirmwareVerificationError('NH_FW_UNEXPECTED_ENTRY', `Can't find file-resource for ${name}`);
    if (declared.processed) {
      throw new FirmwareVerificationError('NH_FW_UNEXPECTED_ENTRY', `Processing ${name} twice. Archive is corrupt.`);
    }
    declared.processed = true;
    const expected = declared.declaration.dataLength;
    this.#currentDelta = undefined;
    if (entry.sizeKnown && entry.headerUncompressedSize !== expected) {
      // fwup takes this for an xdelta3 patch. Its output cannot be proven without the old image, so
      // it is accepted only for an applier that proves it (fwup) and only where meta.conf declares
      // the delta source; otherwise it is refused with a message naming the delta.
      const task = this.options.deltaTask;
      const delta = new DeltaEntryCheck(
        {
          name,
          archivePath: entry.name,
          patchLength: entry.headerUncompressedSize,
          targetLength: expected,
          targetBlake2b256: declared.declaration.blake2b256,
          sparse: declared.declaration.lengths.length > 1,
          sources: (this.#deltaSources.get(name) ?? []).filter((s) => task === undefined || s.task.startsWith(task)),
        },
        this.options.allowDeltaResources === true,
        task,
      );
      this.#currentDelta = delta;
      return (data) => delta.push(data);
    }
    this.#currentBytes = 0;
    this.#currentLimit = expected;
    const worker = this.#workerFor(expected);
    this.#currentWorker = worker;
    const hasher = worker ?? this.options.hasher;
    if (worker === undefined) this.options.hasher.reset();
    return (data) => {
      this.#currentBytes += data.length;
      if (this.#currentBytes > this.#currentLimit) {
        throw new FirmwareVerificationError('NH_FW_LENGTH_MISMATCH', `ZIP data length mismatch for ${name}`);
      }
      hasher.update(data);
    };
  }

  /** Starts the hashing worker before the first large resource (when worker hashing applies). */
  prestartWorker(): void {
    const offload = this.options.workerHashing;
    if (offload === undefined || this.#worker !== undefined) return;
    try {
      this.#worker = offload.create() ?? null;
    } catch {
      this.#worker = null;
    }
  }

  /** The worker hasher for a resource of `length` bytes, when worker hashing applies and could start. */
  #workerFor(length: number): Blake2bWorkerHasher | undefined {
    const offload = this.options.workerHashing;
    if (offload === undefined || length < offload.minBytes) return undefined;
    this.prestartWorker();
    return this.#worker ?? undefined;
  }

  async #resourceEnd(entry: ZipLocalEntry, totals: ZipEntryTotals): Promise<void> {
    const name = archivePathToResourceName(entry.name);
    if (name === '') return;
    if (this.#currentDelta !== undefined) {
      const delta = this.#currentDelta;
      this.#currentDelta = undefined;
      this.#verifiedDeltas.push(delta.end());
      return;
    }
    const declaration = this.#declared.get(name)!.declaration;
    if (totals.uncompressedSize !== declaration.dataLength) {
      throw new FirmwareVerificationError('NH_FW_LENGTH_MISMATCH', `ZIP data length mismatch for ${name}`);
    }
    const expected = declaration.blake2b256;
    if (expected === undefined || expected.length !== 64) throw malformed(`invalid blake2b-256 hash for '${name}'`);
    const actual = this.#currentWorker ? await this.#currentWorker.digestHex() : this.options.hasher.digestHex();
    if (actual !== expected) {
      throw new FirmwareVerificationError('NH_FW_DIGEST_MISMATCH', `Detected blake2b digest mismatch for ${name}`);
    }
    this.#verifiedResources.push({ name, archivePath: entry.name, length: totals.uncompressedSize, blake2b256: actual });
  }
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk.subarray(0, length - at), at);
    at += chunk.length;
    if (at >= length) break;
  }
  return out;
}
