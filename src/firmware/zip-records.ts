/** Zip record signatures (little-endian uint32 values of the `PK..` magic). */
export const ZipSignature = Object.freeze({
  localFile: 0x04034b50,
  dataDescriptor: 0x08074b50,
  centralFile: 0x02014b50,
  endOfCentralDirectory: 0x06054b50,
  zip64EndOfCentralDirectory: 0x06064b50,
  zip64Locator: 0x07064b50,
});

/** Fixed sizes of zip records, in bytes. */
export const ZipRecordSize = Object.freeze({
  localFileHeader: 30,
  centralFileHeader: 46,
  endOfCentralDirectory: 22,
  zip64Locator: 20,
});

/** General-purpose flag bits used here. */
export const ZipFlag = Object.freeze({ encrypted: 0x0001, dataDescriptor: 0x0008, utf8: 0x0800 });

/** Compression methods fwup archives use. */
export const ZipMethod = Object.freeze({ stored: 0, deflated: 8 });

/** Extra-field ids used here. */
export const ZipExtraId = Object.freeze({ zip64: 0x0001, extendedTimestamp: 0x5455 });

/** Little-endian readers over a byte array. */
export function u16(bytes: Uint8Array, offset: number): number {
  return bytes[offset]! | (bytes[offset + 1]! << 8);
}

/** Reads an unsigned little-endian 32-bit value. */
export function u32(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24)) >>> 0;
}

/** Reads an unsigned little-endian 64-bit value as a number (exact up to 2^53). */
export function u64(bytes: Uint8Array, offset: number): number {
  return u32(bytes, offset) + u32(bytes, offset + 4) * 0x1_0000_0000;
}

/** Writes little-endian values into a byte array. */
export function put16(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value & 0xff;
  bytes[offset + 1] = (value >>> 8) & 0xff;
}

/** Writes an unsigned little-endian 32-bit value. */
export function put32(bytes: Uint8Array, offset: number, value: number): void {
  put16(bytes, offset, value & 0xffff);
  put16(bytes, offset + 2, (value >>> 16) & 0xffff);
}

/** Writes an unsigned little-endian 64-bit value (from a safe integer). */
export function put64(bytes: Uint8Array, offset: number, value: number): void {
  put32(bytes, offset, value % 0x1_0000_0000);
  put32(bytes, offset + 4, Math.floor(value / 0x1_0000_0000));
}

/** MS-DOS date/time fields → seconds since the epoch, read as UTC (libarchive uses local time). */
export function dosTimeToUnixSeconds(dosTime: number, dosDate: number): number {
  const year = ((dosDate >> 9) & 0x7f) + 1980;
  const month = ((dosDate >> 5) & 0x0f) - 1;
  const day = dosDate & 0x1f;
  const hours = (dosTime >> 11) & 0x1f;
  const minutes = (dosTime >> 5) & 0x3f;
  const seconds = (dosTime << 1) & 0x3e;
  return Math.floor(Date.UTC(year, month, day, hours, minutes, seconds) / 1000);
}

/** Seconds since the epoch → MS-DOS `{ time, date }` in UTC (clamped to 1980). */
export function unixSecondsToDos(seconds: number): { time: number; date: number } {
  const d = new Date(Math.max(seconds, 315532800) * 1000);
  return {
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1),
    date: ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  };
}

/** The 0x5455 "extended timestamp" extra field fwup's writer adds (mtime only; flags-only without one). @internal */
export function extendedTimestampExtra(mtime: number | undefined): Uint8Array {
  if (mtime === undefined) return Uint8Array.from([0x55, 0x54, 0x01, 0x00, 0x00]);
  const out = new Uint8Array(9);
  put16(out, 0, 0x5455);
  put16(out, 2, 5);
  out[4] = 1;
  put32(out, 5, mtime >>> 0);
  return out;
}

/** Joins byte arrays into one. @internal */
export function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The fields a local header and its central directory header share. */
export interface ZipEntryFields {
  flags: number;
  method: number;
  dos: { time: number; date: number };
  crc: number;
  compressedSize: number;
  size: number;
  nameLength: number;
  extraLength: number;
}

/** "Version needed to extract" as libarchive writes it: 1.0 for stored, 2.0 for deflated. */
function versionNeeded(method: number): number {
  return method === ZipMethod.stored ? 10 : 20;
}

/** The shared run of a local and a central header, from "version needed" to the extra length. */
function putEntryFields(header: Uint8Array, at: number, entry: ZipEntryFields): void {
  put16(header, at, versionNeeded(entry.method));
  put16(header, at + 2, entry.flags);
  put16(header, at + 4, entry.method);
  put16(header, at + 6, entry.dos.time);
  put16(header, at + 8, entry.dos.date);
  put32(header, at + 10, entry.crc);
  put32(header, at + 14, entry.compressedSize);
  put32(header, at + 18, entry.size);
  put16(header, at + 22, entry.nameLength);
  put16(header, at + 24, entry.extraLength);
}

/** A 30-byte local file header (name and extra field follow it). */
export function localFileHeader(entry: ZipEntryFields): Uint8Array {
  const header = new Uint8Array(ZipRecordSize.localFileHeader);
  put32(header, 0, ZipSignature.localFile);
  putEntryFields(header, 4, entry);
  return header;
}

/** A 16-byte data descriptor (with its signature, as libarchive writes it). */
export function dataDescriptor(crc: number, compressedSize: number, size: number): Uint8Array {
  const descriptor = new Uint8Array(16);
  put32(descriptor, 0, ZipSignature.dataDescriptor);
  put32(descriptor, 4, crc);
  put32(descriptor, 8, compressedSize);
  put32(descriptor, 12, size);
  return descriptor;
}

/**
 * A 46-byte central directory header for a regular 0644 file, "made by" Unix 3.0 unless `madeBy`
 * says otherwise (fwup's signature entry says Unix 1.0: 0x030a).
 */
export function centralFileHeader(entry: ZipEntryFields & { localHeaderOffset: number; madeBy?: number }): Uint8Array {
  const header = new Uint8Array(ZipRecordSize.centralFileHeader);
  put32(header, 0, ZipSignature.centralFile);
  put16(header, 4, entry.madeBy ?? 0x031e);
  putEntryFields(header, 6, entry);
  put32(header, 38, 0o100644 * 0x10000);
  put32(header, 42, entry.localHeaderOffset);
  return header;
}

/** A 22-byte end of central directory record without a comment. */
export function endOfCentralDirectory(entries: number, directorySize: number, directoryOffset: number): Uint8Array {
  const end = new Uint8Array(ZipRecordSize.endOfCentralDirectory);
  put32(end, 0, ZipSignature.endOfCentralDirectory);
  put16(end, 8, entries);
  put16(end, 10, entries);
  put32(end, 12, directorySize);
  put32(end, 16, directoryOffset);
  return end;
}
