import { malformed } from './verification-error.js';
import { ZipExtraId, ZipFlag, ZipMethod, ZipRecordSize, dosTimeToUnixSeconds, u16, u32, u64 } from './zip-records.js';

/** One entry as its local file header describes it. */
export interface ZipLocalEntry {
  /** Position in the archive, from 0. */
  index: number;
  name: string;
  /** Length of the name in bytes, as stored. */
  nameLength: number;
  localHeaderOffset: number;
  method: number;
  flags: number;
  /** True when CRC and sizes follow the data (general-purpose bit 3). */
  hasDataDescriptor: boolean;
  /** True when the local header has a zip64 extra field (8-byte descriptor sizes). */
  zip64: boolean;
  headerCrc32: number;
  headerCompressedSize: number;
  headerUncompressedSize: number;
  /** Whether the local header gives the uncompressed size (libarchive's `archive_entry_size_is_set`). */
  sizeKnown: boolean;
  /** Modification time: extended timestamp (0x5455) when present, else the DOS time read as UTC. */
  modifiedTimeSeconds: number;
}

/**
 * Decodes a complete local file header (fixed part, name and extra field) found at `offset`.
 * Refuses encryption and compression methods other than stored and deflate (fwup uses only those).
 */
export function parseLocalHeader(header: Uint8Array, index: number, offset: number): ZipLocalEntry {
  const nameLength = u16(header, 26);
  const flags = u16(header, 6);
  const method = u16(header, 8);
  if (flags & ZipFlag.encrypted) throw malformed('Encrypted ZIP entries are not supported');
  if (method !== ZipMethod.stored && method !== ZipMethod.deflated) {
    throw malformed(`Unsupported ZIP compression method (${method})`);
  }
  const start = ZipRecordSize.localFileHeader;
  const name = new TextDecoder('utf-8').decode(header.subarray(start, start + nameLength));
  let uncompressedSize = u32(header, 22);
  let compressedSize = u32(header, 18);
  let zip64 = false;
  let modifiedTimeSeconds = dosTimeToUnixSeconds(u16(header, 10), u16(header, 12));
  const extra = header.subarray(start + nameLength, start + nameLength + u16(header, 28));
  for (let at = 0; at + 4 <= extra.length; ) {
    const id = u16(extra, at);
    const size = u16(extra, at + 2);
    const body = extra.subarray(at + 4, Math.min(extra.length, at + 4 + size));
    if (id === ZipExtraId.zip64) {
      zip64 = true;
      let field = 0;
      if (uncompressedSize === 0xffffffff && body.length >= field + 8) {
        uncompressedSize = u64(body, field);
        field += 8;
      }
      if (compressedSize === 0xffffffff && body.length >= field + 8) compressedSize = u64(body, field);
    } else if (id === ZipExtraId.extendedTimestamp && body.length >= 5 && (body[0]! & 1) !== 0) {
      modifiedTimeSeconds = u32(body, 1);
    }
    at += 4 + size;
  }
  const hasDataDescriptor = (flags & ZipFlag.dataDescriptor) !== 0;
  return {
    index,
    name,
    nameLength,
    localHeaderOffset: offset,
    method,
    flags,
    hasDataDescriptor,
    zip64,
    headerCrc32: u32(header, 14),
    headerCompressedSize: compressedSize,
    headerUncompressedSize: uncompressedSize,
    sizeKnown: !hasDataDescriptor || uncompressedSize > 0,
    modifiedTimeSeconds,
  };
}
