import { randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { NervesHubError } from '../errors.js';
import { crc32 } from '../firmware/crc32.js';
import type { FirmwareMetadata } from '../firmware/firmware-metadata.js';
import { FirmwareVerifier } from '../firmware/firmware-verifier.js';
import { FirmwareVerificationError } from '../firmware/verification-error.js';
import { ZipStreamParser } from '../firmware/zip-stream-parser.js';
import {
  ZipFlag,
  ZipMethod,
  ZipRecordSize,
  ZipSignature,
  centralFileHeader,
  dataDescriptor,
  endOfCentralDirectory,
  localFileHeader,
  put32,
  u16,
  u32,
  type ZipEntryFields,
} from '../firmware/zip-records.js';
import { decodeFwupPrivateKey, fwupSign } from './fwup-keys.js';

/**
 * Options of {@link signFirmware}.
 *
 * @example
 * ```ts
 * const options: SignFirmwareOptions = { input: 'app.fw', output: 'app-signed.fw', privateKey: await readFwupPrivateKey('fwup-key.priv') };
 * ```
 */
export interface SignFirmwareOptions {
  /** The archive to sign (signed or not). */
  input: string;
  /** Where the signed archive goes; may equal `input` (replaced atomically once verified). */
  output: string;
  /** The fwup private key: `NAME.priv` text or its 64 bytes (see `readFwupPrivateKey`). */
  privateKey: string | Uint8Array;
  /** Aborts the signing; the output is then left untouched. */
  signal?: AbortSignal;
}

/** What {@link signFirmware} did. */
export interface SignFirmwareResult {
  /** Base64 public key of the signing key: the devices must trust it. */
  publicKey: string;
  /** True when the input was signed already and its signature was replaced. */
  replacedSignature: boolean;
  /** Metadata of the signed archive (as verified). */
  metadata: FirmwareMetadata;
  /** Size of the signed archive in bytes. */
  size: number;
}

/** fwup refuses a meta.conf of 50000 bytes or more. */
const META_CONF_MAX_BYTES = 50_000;
const SIGNATURE_NAME = 'meta.conf.ed25519';
const COPY_CHUNK_BYTES = 1024 * 1024;
/** A central directory this big would list far more than the 1024 entries an archive may have. */
const CENTRAL_DIRECTORY_MAX_BYTES = 8 * 1024 * 1024;
/** Extended timestamp without a time, then Unix uid/gid 0/0: what libarchive writes for fwup. */
const SIGNATURE_EXTRA = Buffer.from('55540100007578' + '0b000104000000000400000000', 'hex');
/** DOS date 1980-01-01, time 0: the mtime-0 entries of fwup archives. */
const DOS_DATE_1980 = 0x0021;

function invalid(message: string, cause?: unknown): NervesHubError {
  return new NervesHubError('NH_PROV_ARCHIVE_INVALID', message, cause === undefined ? undefined : { cause });
}

/** The signature entry exactly as fwup (libarchive) writes it: stored, data descriptor, mtime 0. */
function signatureEntry(signature: Uint8Array): { local: Buffer; central: Buffer } {
  const name = Buffer.from(SIGNATURE_NAME, 'ascii');
  const crc = crc32(signature);
  const fields: ZipEntryFields = {
    flags: ZipFlag.dataDescriptor,
    method: ZipMethod.stored,
    dos: { time: 0, date: DOS_DATE_1980 },
    crc: 0,
    compressedSize: signature.length,
    size: signature.length,
    nameLength: name.length,
    extraLength: SIGNATURE_EXTRA.length,
  };
  const local = localFileHeader(fields);
  const descriptor = dataDescriptor(crc, signature.length, signature.length);
  const central = centralFileHeader({ ...fields, crc, localHeaderOffset: 0, madeBy: 0x030a });
  return {
    local: Buffer.concat([local, name, SIGNATURE_EXTRA, signature, descriptor]),
    central: Buffer.concat([central, name, SIGNATURE_EXTRA]),
  };
}

interface ArchiveHead {
  metaConf: Uint8Array;
  /** Offset of meta.conf's local header: everything before it is the old signature. */
  metaStart: number;
  signed: boolean;
}

/** Reads the archive up to the end of meta.conf (a few KiB), checking fwup's entry order. */
async function readHead(handle: FileHandle, signal: AbortSignal | undefined): Promise<ArchiveHead> {
  const metaParts: Uint8Array[] = [];
  let metaBytes = 0;
  let metaStart = -1;
  let signed = false;
  let done = false;
  const parser = new ZipStreamParser({
    entryStart(entry) {
      // The rest of the chunk that ended meta.conf is parsed too; the verifier checks it later.
      if (done) return () => {};
      const expected = entry.index === 0 ? [SIGNATURE_NAME, 'meta.conf'] : ['meta.conf'];
      if (!expected.includes(entry.name)) throw invalid(`not an fwup archive: expecting meta.conf at the beginning, found '${entry.name}'`);
      if (entry.name === SIGNATURE_NAME) {
        signed = true;
        return () => {};
      }
      metaStart = entry.localHeaderOffset;
      return (data) => {
        metaBytes += data.length;
        if (metaBytes >= META_CONF_MAX_BYTES) throw invalid(`not an fwup archive: meta.conf is ${META_CONF_MAX_BYTES} bytes or more`);
        metaParts.push(new Uint8Array(data));
      };
    },
    entryEnd(entry) {
      if (entry.name === 'meta.conf') done = true;
    },
    localEntriesEnd() {
      if (!done) throw invalid('not an fwup archive: it has no meta.conf');
    },
  });
  const buffer = Buffer.alloc(64 * 1024);
  let position = 0;
  try {
    while (!done) {
      signal?.throwIfAborted();
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) {
        await parser.finish();
        break;
      }
      position += bytesRead;
      await parser.push(buffer.subarray(0, bytesRead));
    }
  } catch (error) {
    if (error instanceof FirmwareVerificationError) throw invalid(`the archive is corrupt: ${error.message}`, error);
    throw error;
  } finally {
    parser.dispose();
  }
  if (!done) throw invalid('not an fwup archive: it has no meta.conf');
  return { metaConf: Buffer.concat(metaParts), metaStart, signed };
}

interface CentralDirectory {
  offset: number;
  size: number;
  bytes: Buffer;
  /** Length of the end record (with its comment). */
  endLength: number;
}

/** Finds the end record at the file's end and reads the central directory it points to. */
async function readCentralDirectory(handle: FileHandle, fileSize: number): Promise<CentralDirectory> {
  const tailLength = Math.min(fileSize, ZipRecordSize.endOfCentralDirectory + 0xffff);
  const tail = Buffer.alloc(tailLength);
  await handle.read(tail, 0, tailLength, fileSize - tailLength);
  for (let at = tailLength - ZipRecordSize.endOfCentralDirectory; at >= 0; at--) {
    if (u32(tail, at) !== ZipSignature.endOfCentralDirectory) continue;
    const endLength = ZipRecordSize.endOfCentralDirectory + u16(tail, at + 20);
    if (at + endLength !== tailLength) continue;
    const entries = u16(tail, at + 10);
    const size = u32(tail, at + 12);
    const offset = u32(tail, at + 16);
    if (entries === 0xffff || size === 0xffffffff || offset === 0xffffffff || (at >= 20 && u32(tail, at - 20) === ZipSignature.zip64Locator)) {
      throw invalid('zip64 archives (over 4 GiB or 65535 entries) are not supported');
    }
    const endPosition = fileSize - tailLength + at;
    if (offset + size !== endPosition || size > CENTRAL_DIRECTORY_MAX_BYTES) throw invalid('the archive is corrupt: its end record does not match its central directory');
    const bytes = Buffer.alloc(size);
    await handle.read(bytes, 0, size, offset);
    return { offset, size, bytes, endLength };
  }
  throw invalid('the archive is corrupt: ZIP end of central directory not found');
}

/** The central directory records to write: the old signature's dropped, offsets moved by `shift`. */
function movedCentralRecords(cd: CentralDirectory, head: ArchiveHead, shift: number): Buffer[] {
  const records: Buffer[] = [];
  for (let at = 0; at < cd.bytes.length; ) {
    if (at + ZipRecordSize.centralFileHeader > cd.bytes.length || u32(cd.bytes, at) !== ZipSignature.centralFile) {
      throw invalid('the archive is corrupt: bad ZIP central directory record');
    }
    const length = ZipRecordSize.centralFileHeader + u16(cd.bytes, at + 28) + u16(cd.bytes, at + 30) + u16(cd.bytes, at + 32);
    const record = Buffer.from(cd.bytes.subarray(at, at + length));
    const offset = u32(record, 42);
    if (offset === 0xffffffff) throw invalid('zip64 archives (over 4 GiB or 65535 entries) are not supported');
    if (offset < head.metaStart) {
      // Only the old signature lies before meta.conf; the verifier checks the rest below.
      if (!head.signed) throw invalid('the archive is corrupt: a central directory entry points before meta.conf');
    } else {
      put32(record, 42, offset + shift);
      records.push(record);
    }
    at += length;
  }
  return records;
}

async function copyRange(from: FileHandle, to: FileHandle, start: number, end: number, signal: AbortSignal | undefined): Promise<void> {
  const buffer = Buffer.allocUnsafe(COPY_CHUNK_BYTES);
  for (let position = start; position < end; ) {
    signal?.throwIfAborted();
    const { bytesRead } = await from.read(buffer, 0, Math.min(buffer.length, end - position), position);
    if (bytesRead === 0) throw invalid('the archive changed while it was being signed');
    await to.write(buffer, 0, bytesRead);
    position += bytesRead;
  }
}

/**
 * Signs (or re-signs) an fwup archive like `fwup -S`: Ed25519 over the meta.conf bytes exactly as
 * stored, a `meta.conf.ed25519` entry written first the way fwup writes it, any old signature
 * dropped, every other entry copied byte for byte in its order (fwup recompresses them; the bytes
 * they decompress to are the same). Streaming: memory stays at a few MiB whatever the archive's
 * size. The result goes to a temporary file next to `output`, is verified with the signing key's
 * public key (signature, resources, zip integrity), and only then renamed over `output`; a corrupt
 * archive is refused and nothing is written.
 *
 * @throws NervesHubError `NH_PROV_ARCHIVE_INVALID` (not an fwup archive, corrupt, zip64),
 *   `NH_PROV_KEY_INVALID` (a public key, a malformed key); the signal's reason on abort; I/O errors.
 * @example
 * ```ts
 * const privateKey = await readFwupPrivateKey('fwup-key.priv');
 * const { publicKey, metadata } = await signFirmware({ input: 'app.fw', output: 'app-signed.fw', privateKey });
 * ```
 */
export async function signFirmware(options: SignFirmwareOptions): Promise<SignFirmwareResult> {
  const { input, output, signal } = options;
  signal?.throwIfAborted();
  const privateKey = decodeFwupPrivateKey(options.privateKey);
  const publicKey = Buffer.from(privateKey.subarray(32)).toString('base64');
  const tmp = join(dirname(output), `.${basename(output)}.${randomBytes(6).toString('hex')}.tmp`);
  const source = await open(input, 'r');
  let target: FileHandle | undefined;
  try {
    const fileSize = (await source.stat()).size;
    const head = await readHead(source, signal);
    const cd = await readCentralDirectory(source, fileSize);
    if (cd.offset < head.metaStart) throw invalid('the archive is corrupt: its central directory starts before meta.conf');
    const entry = signatureEntry(fwupSign(head.metaConf, privateKey));
    const shift = entry.local.length - head.metaStart;
    const records = [entry.central, ...movedCentralRecords(cd, head, shift)];
    const centralBytes = Buffer.concat(records);
    const end = endOfCentralDirectory(records.length, centralBytes.length, cd.offset + shift);

    target = await open(tmp, 'wx', 0o644);
    await target.write(entry.local);
    await copyRange(source, target, head.metaStart, cd.offset, signal);
    await target.write(centralBytes);
    await target.write(end);
    await target.sync();
    await target.close();
    target = undefined;

    const result = await new FirmwareVerifier({ publicKeys: [publicKey] }).verify(tmp, signal ? { signal } : {});
    if (!result.valid) throw invalid(`the archive is corrupt: ${result.message} (${result.code})`);
    await rename(tmp, output);
    return { publicKey, replacedSignature: head.signed, metadata: result.metadata, size: cd.offset + shift + centralBytes.length + end.length };
  } catch (error) {
    await target?.close().catch(() => {});
    await rm(tmp, { force: true });
    throw error;
  } finally {
    await source.close();
  }
}
