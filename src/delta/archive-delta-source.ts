import { randomBytes } from 'node:crypto';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInflateRaw } from 'node:zlib';
import { crc32 } from '../firmware/crc32.js';
import { ZipMethod, ZipSignature, u16, u32 } from '../firmware/zip-records.js';
import { DeltaError } from './delta-error.js';
import type { DeltaSourceFile } from './delta-source.js';

/** Where a resource's bytes sit in an archive file. */
interface ArchiveEntry {
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

/** How far from the end the end-of-central-directory record may be (22 bytes + a 64 KiB comment). */
const EOCD_SEARCH_BYTES = 22 + 65_535;
const COPY_CHUNK_BYTES = 1024 * 1024;

function noSource(message: string, cause?: unknown): DeltaError {
  return new DeltaError('NH_DELTA_NO_SOURCE', message, cause === undefined ? undefined : { cause });
}

async function readAt(handle: FileHandle, position: number, length: number): Promise<Uint8Array> {
  const buffer = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) throw noSource(`the delta source archive ends at ${position + filled}, before the data it lists`);
    filled += bytesRead;
  }
  return buffer;
}

/** Finds `data/<resource>` in the archive's central directory (zip32, as fwup writes). */
async function findEntry(handle: FileHandle, fileSize: number, entryName: string): Promise<ArchiveEntry | undefined> {
  const tailLength = Math.min(fileSize, EOCD_SEARCH_BYTES);
  const tail = await readAt(handle, fileSize - tailLength, tailLength);
  let eocd = -1;
  for (let at = tail.length - 22; at >= 0; at--) {
    if (u32(tail, at) === ZipSignature.endOfCentralDirectory) {
      eocd = at;
      break;
    }
  }
  if (eocd < 0) throw noSource('the delta source is not a zip archive (no end of central directory)');
  const count = u16(tail, eocd + 10);
  const directorySize = u32(tail, eocd + 12);
  const directoryOffset = u32(tail, eocd + 16);
  if (directoryOffset + directorySize > fileSize || directorySize > 16 * 1024 * 1024) throw noSource('the delta source archive has a bad central directory');
  const directory = await readAt(handle, directoryOffset, directorySize);
  const wanted = new TextEncoder().encode(entryName);
  for (let at = 0, n = 0; n < count && at + 46 <= directory.length; n++) {
    if (u32(directory, at) !== ZipSignature.centralFile) throw noSource('the delta source archive has a bad central directory');
    const nameLength = u16(directory, at + 28);
    const name = directory.subarray(at + 46, at + 46 + nameLength);
    if (name.length === wanted.length && name.every((b, i) => b === wanted[i])) {
      return {
        method: u16(directory, at + 10),
        crc32: u32(directory, at + 16),
        compressedSize: u32(directory, at + 20),
        size: u32(directory, at + 24),
        localHeaderOffset: u32(directory, at + 42),
      };
    }
    at += 46 + nameLength + u16(directory, at + 30) + u16(directory, at + 32);
  }
  return undefined;
}

/** A stored entry: read straight from the archive. */
function storedFile(handle: FileHandle, dataOffset: number, size: number): DeltaSourceFile {
  return {
    size,
    read: (offset, length) => readAt(handle, dataOffset + offset, length),
    close: () => handle.close(),
  };
}

/**
 * A deflated entry cannot be read at random: inflate it once into a private temporary file
 * (checking its CRC-32 against the central directory) and read from there.
 */
async function inflatedFile(handle: FileHandle, dataOffset: number, entry: ArchiveEntry, tempDir: string): Promise<DeltaSourceFile> {
  const path = join(tempDir, `.nerves-hub-link-delta-source-${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
  const out = await open(path, 'wx+', 0o600);
  const release = async (): Promise<void> => {
    await out.close().catch(() => {});
    await unlink(path).catch(() => {});
  };
  try {
    const inflate = createInflateRaw();
    const pump = (async () => {
      for (let done = 0; done < entry.compressedSize; ) {
        const n = Math.min(COPY_CHUNK_BYTES, entry.compressedSize - done);
        const bytes = await readAt(handle, dataOffset + done, n);
        done += n;
        if (!inflate.write(bytes)) await new Promise((resolve) => inflate.once('drain', resolve));
      }
      inflate.end();
    })();
    let crc = 0;
    let size = 0;
    for await (const piece of inflate as AsyncIterable<Buffer>) {
      size += piece.length;
      if (size > entry.size) throw noSource('the delta source archive entry inflates past its recorded size');
      crc = crc32(piece, crc);
      await out.write(piece, 0, piece.length, size - piece.length);
    }
    await pump;
    if (size !== entry.size || crc !== entry.crc32) throw noSource('the delta source archive entry is corrupt (size or CRC-32 differ from its central directory)');
  } catch (error) {
    await release();
    throw error instanceof DeltaError ? error : noSource(`cannot read the delta source archive: ${(error as Error).message}`, error);
  } finally {
    await handle.close().catch(() => {});
  }
  return { size: entry.size, read: (offset, length) => readAt(out, offset, length), close: release };
}

/**
 * Opens `data/<resource>` of a firmware archive on disk (the one installed now) as a delta source.
 * Stored entries are read in place; deflated ones are inflated once into a temporary file in
 * `tempDir` (default: the OS temp directory; it needs room for the resource), removed on close.
 * Resolves `undefined` when the archive has no such resource.
 *
 * @throws DeltaError `NH_DELTA_NO_SOURCE` when the archive cannot be read or is corrupt.
 *
 * @example
 * ```ts
 * const file = await openArchiveResource('/data/firmware/current.fw', 'rootfs.img');
 * ```
 */
export async function openArchiveResource(archivePath: string, resource: string, tempDir: string = tmpdir()): Promise<DeltaSourceFile | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(archivePath, 'r');
  } catch (error) {
    throw noSource(`cannot open the delta source archive: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, error);
  }
  try {
    const { size: fileSize } = await handle.stat();
    const entryName = resource.startsWith('/') ? resource.slice(1) : `data/${resource}`;
    const entry = await findEntry(handle, fileSize, entryName);
    if (!entry) {
      await handle.close();
      return undefined;
    }
    const local = await readAt(handle, entry.localHeaderOffset, 30);
    if (u32(local, 0) !== ZipSignature.localFile) throw noSource('the delta source archive has a bad local header');
    const dataOffset = entry.localHeaderOffset + 30 + u16(local, 26) + u16(local, 28);
    if (entry.method === ZipMethod.stored) return storedFile(handle, dataOffset, entry.size);
    if (entry.method === ZipMethod.deflated) return await inflatedFile(handle, dataOffset, entry, tempDir);
    throw noSource(`the delta source archive uses compression method ${entry.method}`);
  } catch (error) {
    await handle.close().catch(() => {});
    throw error;
  }
}

/**
 * A delta source over a raw range of a device or image file, as fwup's
 * `delta-source-raw-offset`/`-count` name it (in 512-byte blocks) for the partition the running
 * firmware was written to.
 *
 * @example
 * ```ts
 * const deltaSource: DeltaSource = async ({ resource }) =>
 *   resource === 'rootfs.img' ? rawRangeSource('/dev/mmcblk0', 63_488 * 512, 286_720 * 512) : undefined;
 * ```
 */
export async function rawRangeSource(path: string, offset: number, length: number): Promise<DeltaSourceFile> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw noSource(`cannot open the delta source ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, error);
  }
  return { size: length, read: (at, n) => readAt(handle, offset + at, n), close: () => handle.close() };
}
