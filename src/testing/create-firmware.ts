import { createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { once } from 'node:events';
import { createBlake2b256 } from '../firmware/blake2b.js';
import { computeFirmwareUuid } from '../firmware/firmware-uuid.js';
import { formatMetaConf, type FirmwareMetaOptions, type FirmwareTask } from '../firmware/meta-conf-writer.js';
import { ZipStreamWriter } from '../firmware/zip-stream-writer.js';
import { invalidOptions } from '../errors.js';

export type { FirmwareMetaOptions, FirmwareTask, FirmwareTaskDeltaSource, FwupCall } from '../firmware/meta-conf-writer.js';

/** A resource's content: bytes, or a file read twice (hash pass, then write pass) for big ones. */
export type FirmwareResourceSource =
  | Uint8Array
  | {
      /** A file to read the resource from. */
      path: string;
    };

/**
 * Options of {@link createFirmware} / {@link writeFirmware}.
 *
 * @example
 * ```ts
 * const options: CreateFirmwareOptions = {
 *   resources: { 'rootfs.img': new Uint8Array(4096) },
 *   meta: { product: 'demo', version: '1.0.1' },
 *   privateKey: seed,
 * };
 * ```
 */
export interface CreateFirmwareOptions {
  /** Resources in archive order: name → content. Names starting with `/` go to the archive root. */
  resources: Record<string, FirmwareResourceSource> | ReadonlyArray<readonly [string, FirmwareResourceSource]>;
  /** `meta-*` values (and require-fwup-version / block-cache-size-mb). */
  meta: FirmwareMetaOptions;
  /** fwup private key (base64 text of `fwup-key.priv`, or its 64 bytes, or a 32-byte seed); omit for unsigned. */
  privateKey?: string | Uint8Array | null;
  /** Task sections (fwup needs one to apply; verification does not). */
  tasks?: readonly FirmwareTask[];
  /** Deflate level for meta.conf and resources: 0 = stored, 1…9 (fwup's default is 9). */
  compression?: number;
  /** Write CRC/sizes in data descriptors like fwup (default) or in the local headers. */
  dataDescriptors?: boolean;
  /** meta.conf mtime = `meta-creation-date`, seconds since the epoch (default: now). */
  creationTimeSeconds?: number;
}

const CREATE_FIRMWARE_DEFAULTS = Object.freeze({ compression: 9, dataDescriptors: true });

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function privateKeySeed(key: string | Uint8Array): Uint8Array {
  const bytes = typeof key === 'string' ? new Uint8Array(Buffer.from(key.trim(), 'base64')) : key;
  if (bytes.length === 64 || bytes.length === 32) return bytes.subarray(0, 32);
  throw invalidOptions('privateKey must be fwup base64 (64 bytes) or a 32-byte seed');
}

/** Signs meta.conf like `fwup -s`: Ed25519 over the exact bytes. */
function signMetaConf(metaConf: Uint8Array, key: string | Uint8Array): Uint8Array {
  const keyObject = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, privateKeySeed(key)]),
    format: 'der',
    type: 'pkcs8',
  });
  return new Uint8Array(sign(null, metaConf, keyObject));
}

function resourceArchivePath(name: string): string {
  if (name === '' || name === '/meta.conf' || name === '/data' || name.startsWith('/data/')) {
    throw invalidOptions(`resource name not allowed by fwup: '${name}'`);
  }
  return name.startsWith('/') ? name.slice(1) : `data/${name}`;
}

async function* fileChunks(path: string): AsyncGenerator<Uint8Array> {
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) yield chunk as Buffer;
}

async function describe(source: FirmwareResourceSource): Promise<{ size: number; blake2b256: string }> {
  const hasher = await createBlake2b256();
  if (source instanceof Uint8Array) {
    hasher.update(source);
    return { size: source.length, blake2b256: hasher.digestHex() };
  }
  for await (const chunk of fileChunks(source.path)) hasher.update(chunk);
  return { size: (await stat(source.path)).size, blake2b256: hasher.digestHex() };
}

/**
 * Writes an fwup-format archive to `sink` chunk by chunk (bounded memory: big resources can be
 * files). Entry order, meta.conf printer format, data descriptors and extra fields follow fwup.
 *
 * @param sink - a file path, or a function receiving each chunk in order
 * @example
 * ```ts
 * await writeFirmware({ resources: [['rootfs.img', { path: 'rootfs.img' }]], meta: { product: 'x' },
 *   privateKey: readFileSync('fwup-key.priv', 'utf8'), compression: 0 }, 'big.fw');
 * ```
 */
export async function writeFirmware(
  options: CreateFirmwareOptions,
  sink: string | ((chunk: Uint8Array) => void | Promise<void>),
): Promise<void> {
  await writeArchive(options, sink);
}

/** Writes the archive; returns its meta.conf bytes (they define the firmware UUID). */
async function writeArchive(
  options: CreateFirmwareOptions,
  sink: string | ((chunk: Uint8Array) => void | Promise<void>),
): Promise<Uint8Array> {
  const level = options.compression ?? CREATE_FIRMWARE_DEFAULTS.compression;
  if (!Number.isInteger(level) || level < 0 || level > 9) throw invalidOptions('compression must be 0…9');
  const dataDescriptor = options.dataDescriptors ?? CREATE_FIRMWARE_DEFAULTS.dataDescriptors;
  const entries = Array.isArray(options.resources)
    ? [...(options.resources as ReadonlyArray<readonly [string, FirmwareResourceSource]>)]
    : Object.entries(options.resources as Record<string, FirmwareResourceSource>);
  const described = [];
  for (const [name, source] of entries) {
    const archivePath = resourceArchivePath(name);
    described.push({ name, archivePath, source, ...(await describe(source)) });
  }
  const metaConfText = formatMetaConf(
    options.meta,
    described.map((r) => ({ name: r.name, lengths: [r.size], blake2b256: r.blake2b256 })),
    options.tasks ?? [],
  );
  const metaConf = new TextEncoder().encode(metaConfText);
  const creation = options.creationTimeSeconds ?? Math.floor(Date.now() / 1000);

  let write: (chunk: Uint8Array) => void | Promise<void>;
  let close = async (): Promise<void> => {};
  if (typeof sink === 'string') {
    const file = createWriteStream(sink);
    write = async (chunk) => {
      if (!file.write(chunk)) await once(file, 'drain');
    };
    close = async () => {
      file.end();
      await once(file, 'finish');
    };
  } else {
    write = sink;
  }
  const zip = new ZipStreamWriter(write);
  const common = { dataDescriptor, extendedTimestamp: false, mtimeSeconds: 0 };
  if (options.privateKey) {
    await zip.addEntry('meta.conf.ed25519', signMetaConf(metaConf, options.privateKey), {
      ...common,
      compressionLevel: 0,
    });
  }
  await zip.addEntry('meta.conf', metaConf, {
    ...common,
    compressionLevel: level,
    mtimeSeconds: creation,
    extendedTimestamp: true,
  });
  for (const resource of described) {
    const data = resource.source instanceof Uint8Array ? resource.source : fileChunks(resource.source.path);
    await zip.addEntry(resource.archivePath, data, { ...common, compressionLevel: level, size: resource.size });
  }
  await zip.finish();
  await close();
  return metaConf;
}

/**
 * A firmware archive built by {@link createFirmware}: its bytes (a `Uint8Array`, so it can be
 * hosted, written or verified as is) plus its fwup `meta-uuid`, which a test needs for
 * `firmwareMeta.uuid` when it offers the firmware.
 */
export interface CreatedFirmware extends Uint8Array {
  /** fwup's `meta-uuid` of the archive (what `fwup -m` prints and NervesHub sends as `firmware_meta.uuid`). */
  readonly uuid: string;
}

/**
 * Builds an fwup-format firmware archive in memory (signed when `privateKey` is given), for tests
 * and demos: `meta.conf.ed25519` (stored, 64 bytes), `meta.conf` in fwup's printer format, then
 * one `data/<name>` entry per resource. fwup 1.16 verifies and applies the result.
 *
 * @returns the archive bytes, carrying its `uuid`
 * @example
 * ```ts
 * const keys = createFwupKeyPair();
 * const fw = await createFirmware({
 *   resources: { 'rootfs.img': new Uint8Array(4096) },
 *   meta: { product: 'demo', version: '1.0.0' },
 *   privateKey: keys.privateKey,
 *   tasks: [{ name: 'complete', onResource: { 'rootfs.img': [['raw_write', 0]] } }],
 * });
 * console.log(fw.uuid, fw.byteLength);
 * ```
 */
export async function createFirmware(options: CreateFirmwareOptions): Promise<CreatedFirmware> {
  const chunks: Uint8Array[] = [];
  const metaConf = await writeArchive(options, (chunk) => {
    chunks.push(new Uint8Array(chunk));
  });
  const bytes = new Uint8Array(Buffer.concat(chunks));
  // Computed from meta.conf like fwup, so it exists even for the malformed archives tests build.
  // Not enumerable: the value still compares and serialises as plain bytes.
  return Object.defineProperty(bytes, 'uuid', { value: await computeFirmwareUuid(metaConf), enumerable: false }) as CreatedFirmware;
}

/** An fwup signing key pair in fwup's own file formats. */
export interface FwupKeyPair {
  /** Base64 of the 32-byte Ed25519 public key: the contents of `fwup-key.pub` (`fwupPublicKeys`). */
  publicKey: string;
  /** Base64 of the 64-byte private key (seed, then public key): the contents of `fwup-key.priv`. */
  privateKey: string;
}

/**
 * Generates a fresh fwup signing key pair, like `fwup -g`, for tests: sign firmware with
 * `privateKey` ({@link createFirmware}) and trust `publicKey` on the device.
 *
 * @example
 * ```ts
 * const keys = createFwupKeyPair();
 * const server = await NervesHubTestServer.start({ fwupPublicKeys: [keys.publicKey] });
 * const fw = await createFirmware({ resources: { 'rootfs.img': new Uint8Array(16) }, meta: { version: '1.0.1' }, privateKey: keys.privateKey });
 * ```
 */
export function createFwupKeyPair(): FwupKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d ?? '', 'base64url');
  return { publicKey: pub.toString('base64'), privateKey: Buffer.concat([seed, pub]).toString('base64') };
}
