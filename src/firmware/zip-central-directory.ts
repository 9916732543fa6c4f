import { malformed } from './verification-error.js';
import { ZipExtraId, u16, u32, u64 } from './zip-records.js';

/** What the streaming parser saw of one local entry, to check the central directory against. */
export interface RecordedZipEntry {
  name: string;
  /** Local header bytes 4..14 (version needed, flags, method, DOS time, DOS date). */
  fields: Uint8Array;
  extra: Uint8Array;
  offset: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
}

/**
 * Checks the central directory and end records against the local entries already read: same
 * names, header fields, CRCs, sizes and offsets, same count, and a consistent end record. A
 * streaming reader (like libarchive's, which fwup uses) never looks at these; checking them makes
 * truncation and tampering of the tail detectable.
 */
export class CentralDirectoryCheck {
  #count = 0;
  #zip64EndSeen = false;

  readonly #recorded: readonly RecordedZipEntry[];
  /** Offset where the central directory starts. */
  readonly start: number;

  constructor(recorded: readonly RecordedZipEntry[], start: number) {
    this.#recorded = recorded;
    this.start = start;
  }

  /** Checks one complete central file header record. */
  header(header: Uint8Array): void {
    const expected = this.#recorded[this.#count];
    const where = `ZIP central directory entry ${this.#count}`;
    if (!expected) throw malformed(`${where} has no local entry`);
    const nameLength = u16(header, 28);
    const name = new TextDecoder('utf-8').decode(header.subarray(46, 46 + nameLength));
    let uncompressedSize = u32(header, 24);
    let compressedSize = u32(header, 20);
    let offset = u32(header, 42);
    const extra = header.subarray(46 + nameLength, 46 + nameLength + u16(header, 30));
    for (let at = 0; at + 4 <= extra.length; ) {
      const id = u16(extra, at);
      const size = u16(extra, at + 2);
      if (id === ZipExtraId.zip64) {
        const body = extra.subarray(at + 4, at + 4 + size);
        let field = 0;
        const next = (): number => {
          const value = body.length >= field + 8 ? u64(body, field) : NaN;
          field += 8;
          return value;
        };
        if (uncompressedSize === 0xffffffff) uncompressedSize = next();
        if (compressedSize === 0xffffffff) compressedSize = next();
        if (offset === 0xffffffff) offset = next();
      }
      at += 4 + size;
    }
    const centralFields = header.subarray(6, 16);
    const sameFields = expected.fields.every((b, i) => b === centralFields[i]);
    // libarchive (fwup), Python and createFirmware write identical extra fields in both places;
    // Info-ZIP abbreviates them in the central directory, so only same-length blocks are compared.
    const sameExtra = extra.length !== expected.extra.length || extra.every((b, i) => b === expected.extra[i]);
    if (
      name !== expected.name ||
      !sameFields ||
      !sameExtra ||
      u16(header, 34) !== 0 ||
      u32(header, 16) !== expected.crc32 ||
      compressedSize !== expected.compressedSize ||
      uncompressedSize !== expected.uncompressedSize ||
      offset !== expected.offset
    ) {
      throw malformed(`${where} (${name}) does not match the local entry`);
    }
    this.#count += 1;
  }

  /** Checks a complete zip64 end-of-central-directory record found at `position`. */
  zip64End(record: Uint8Array, position: number): void {
    if (
      u64(record, 32) !== this.#recorded.length ||
      u64(record, 40) !== position - this.start ||
      u64(record, 48) !== this.start
    ) {
      throw malformed('ZIP64 end of central directory does not match the archive');
    }
    this.#zip64EndSeen = true;
  }

  /** Checks the fixed part of the end-of-central-directory record found at `position`. */
  end(fixed: Uint8Array, position: number): void {
    if (this.#count !== this.#recorded.length) {
      throw malformed(`ZIP central directory lists ${this.#count} of ${this.#recorded.length} entries`);
    }
    const entries = u16(fixed, 10);
    const size = u32(fixed, 12);
    const offset = u32(fixed, 16);
    const escaped = (value: number, all: number): boolean => this.#zip64EndSeen && value === all;
    if (
      u16(fixed, 4) !== 0 ||
      u16(fixed, 6) !== 0 ||
      u16(fixed, 8) !== entries ||
      (entries !== this.#recorded.length && !escaped(entries, 0xffff)) ||
      (offset !== this.start && !escaped(offset, 0xffffffff)) ||
      (!this.#zip64EndSeen && size !== position - this.start)
    ) {
      throw malformed('ZIP end of central directory does not match the archive');
    }
  }
}
