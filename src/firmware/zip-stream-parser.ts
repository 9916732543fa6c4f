import { crc32 } from './crc32.js';
import { IncrementalInflater, InflateError, Z_BUF_ERROR, type EntryInflater } from './inflater.js';
import { createReusingInflater } from './reusing-inflater.js';

/** A data descriptor's signature, `PK\x07\x08`. */
const DESCRIPTOR_SIGNATURE = Buffer.from([0x50, 0x4b, 0x07, 0x08]);
import { CentralDirectoryCheck, type RecordedZipEntry } from './zip-central-directory.js';
import { FirmwareVerificationError, malformed } from './verification-error.js';
import { parseLocalHeader, type ZipLocalEntry } from './zip-local-header.js';
import { ZipMethod, ZipRecordSize, ZipSignature, u16, u32, u64 } from './zip-records.js';

export type { ZipLocalEntry } from './zip-local-header.js';


/** What the parser measured over an entry's data. */
export interface ZipEntryTotals {
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
}

/** Receives parse events. Throwing from any method stops the parse with that error. */
export interface ZipStreamHandler {
  /** A local entry begins; returns where its uncompressed bytes go (synchronously, in order). */
  entryStart(entry: ZipLocalEntry): (data: Uint8Array) => void;
  /**
   * True when every sink consumes each chunk before returning and keeps no reference to it (e.g.
   * it hashes it): deflated entries are then inflated into one reused buffer, which keeps memory
   * flat. Sinks that keep chunks must leave this unset.
   */
  readonly transientChunks?: boolean;
  /** The entry's data ended and its zip CRC and sizes checked out. */
  entryEnd(entry: ZipLocalEntry, totals: ZipEntryTotals): void | Promise<void>;
  /** The central directory (or end record) was reached: there are no more local entries. */
  localEntriesEnd(): void;
}

/**
 * What one archive may hold, so that memory stays bounded whatever it contains: the parser keeps a
 * small record per entry (name, 10 header bytes, extra field) to check the central directory, and
 * the pass-through holds the central directory back until the end. Real fwup archives are far
 * below every limit:
 * - entries: a signature, meta.conf and one entry per `file-resource`. meta.conf is under 50,000
 *   bytes and a verifiable resource takes at least ~92 of them (`file-resource a{blake2b-256=…}`
 *   with 64 hex digits), so at most ~540 resources can exist; Nerves archives have a handful.
 * - names: fwup refuses a resource name of 512 bytes or more ("Bad path found in archive",
 *   FWFILE_MAX_ARCHIVE_PATH), i.e. an entry name longer than `data/` + 511 bytes.
 * - extra fields: libarchive writes 0x5455 + 0x7875 (~20 bytes), zip64 adds 20; alignment
 *   padding (zipalign-style) stays under a page.
 * - comments: fwup writes none.
 */
export const ZIP_LIMITS = Object.freeze({
  maxEntries: 1024,
  maxNameBytes: 5 + 511,
  maxExtraBytes: 4096,
  maxCommentBytes: 1024,
});

type State = 'record' | 'data' | 'descriptor' | 'done';

/**
 * Deflate input is gathered into one buffer of this size before zlib sees it: each zlib write is a
 * thread-pool round trip, and network chunks are ≤ 16 KiB (64 round trips per MiB otherwise).
 */
export const INFLATE_INPUT_BATCH_BYTES = 1024 * 1024;

/** Refuses a header (local: `entriesBefore` ≥ 0) that would exceed {@link ZIP_LIMITS}. */
function checkRecordLimits(entriesBefore: number, nameLength: number, extraLength: number, commentLength: number): void {
  if (entriesBefore >= ZIP_LIMITS.maxEntries) {
    throw new FirmwareVerificationError(
      'NH_FW_UNEXPECTED_ENTRY',
      `Too many entries in ZIP archive (more than ${ZIP_LIMITS.maxEntries})`,
    );
  }
  // fwup's own refusal of over-long names.
  if (nameLength > ZIP_LIMITS.maxNameBytes) throw malformed('Bad path found in archive');
  if (extraLength > ZIP_LIMITS.maxExtraBytes) {
    throw malformed(`ZIP extra field too long (${extraLength} bytes, at most ${ZIP_LIMITS.maxExtraBytes})`);
  }
  if (commentLength > ZIP_LIMITS.maxCommentBytes) {
    throw malformed(`ZIP file comment too long (${commentLength} bytes, at most ${ZIP_LIMITS.maxCommentBytes})`);
  }
}


/**
 * Forward-only zip reader over pushed chunks, in the spirit of libarchive's streaming mode that fwup
 * uses: local headers in order, deflate end found by inflating (data descriptors), stored entries
 * with or without descriptors, CRC-32 and size checks at each entry's end. Stricter than libarchive:
 * no garbage between records, the central directory and end record must match the local entries, and
 * nothing may follow the end record. Memory stays bounded by one input chunk plus small headers.
 */
export class ZipStreamParser {
  readonly #queue: Uint8Array[] = [];
  #queued = 0;
  #position = 0;
  #state: State = 'record';
  #central: CentralDirectoryCheck | undefined;
  readonly #recorded: RecordedZipEntry[] = [];
  #entry: ZipLocalEntry | undefined;
  #entryFields = new Uint8Array(0);
  #entryExtra = new Uint8Array(0);
  #sink: ((data: Uint8Array) => void) | undefined;
  #inflater: EntryInflater | undefined;
  #entryCrc = 0;
  #compressedRead = 0;
  #uncompressedRead = 0;
  /** Small deflate input chunks gathered for one zlib write (reused: its bytes are copies). */
  #staging: Uint8Array | undefined;
  #staged = 0;

  constructor(private readonly handler: ZipStreamHandler) {}

  /** Offset up to which the input has been parsed and checked (see the pass-through contract). */
  get releasableOffset(): number {
    if (this.#central) return this.#central.start;
    if (this.#state === 'record') return this.#position;
    return Math.max(this.#entry?.localHeaderOffset ?? 0, this.#position - 1);
  }

  /** Total bytes consumed so far. */
  get offset(): number {
    return this.#position;
  }

  /** Parses as much of `chunk` (and earlier leftovers) as possible. */
  async push(chunk: Uint8Array): Promise<void> {
    if (chunk.length === 0) return;
    if (this.#state === 'done') throw malformed('Unexpected data after the end of the ZIP archive');
    let rest = chunk;
    while (rest.length > 0) {
      if (!this.#canStage(rest)) {
        await this.#flushStaged();
        await this.#process(rest);
        return;
      }
      // Inside deflated data with nothing else pending: gather (copy) instead of a zlib write.
      this.#staging ??= new Uint8Array(INFLATE_INPUT_BATCH_BYTES);
      const take = Math.min(rest.length, INFLATE_INPUT_BATCH_BYTES - this.#staged);
      this.#staging.set(rest.subarray(0, take), this.#staged);
      this.#staged += take;
      rest = rest.subarray(take);
      if (this.#staged === INFLATE_INPUT_BATCH_BYTES) await this.#flushStaged();
    }
  }

  /** Signals end of input; throws when the archive is incomplete. */
  async finish(): Promise<void> {
    await this.#flushStaged();
    await this.#run(true);
    if (this.#state !== 'done') throw malformed('Truncated ZIP file: end of central directory not found');
  }

  /** True when `chunk` is small deflate input that can wait in the staging buffer. */
  #canStage(chunk: Uint8Array): boolean {
    if (this.#state !== 'data' || this.#inflater === undefined || this.#queued > 0) return false;
    // A chunk as large as a batch goes to zlib directly (no copy), unless a batch is being gathered.
    return this.#staged > 0 || chunk.length < INFLATE_INPUT_BATCH_BYTES;
  }

  /** Feeds the gathered deflate input to the parser. */
  async #flushStaged(): Promise<void> {
    if (this.#staged === 0) return;
    const bytes = this.#staging!.subarray(0, this.#staged);
    this.#staged = 0;
    await this.#process(bytes);
  }

  async #process(chunk: Uint8Array): Promise<void> {
    if (this.#state === 'done') throw malformed('Unexpected data after the end of the ZIP archive');
    this.#queue.push(chunk);
    this.#queued += chunk.length;
    await this.#run(false);
    // Keep no views into the caller's buffer or the staging buffer (both are reused; Buffer#slice is
    // a view, hence new Uint8Array): leftovers are only a partial header or a few descriptor bytes.
    if (this.#queued > 0) {
      const rest = new Uint8Array(this.#peek(this.#queued));
      this.#queue.length = 0;
      this.#queue.push(rest);
    }
  }

  /** Frees zlib state after an error or abort. */
  dispose(): void {
    this.#inflater?.close();
    this.#inflater = undefined;
  }

  async #run(eof: boolean): Promise<void> {
    for (;;) {
      if (this.#state === 'record') {
        if (!this.#readRecord(eof)) return;
      } else if (this.#state === 'data') {
        if (!(await this.#readData(eof))) return;
      } else if (this.#state === 'descriptor') {
        if (!(await this.#readDescriptor(eof))) return;
      } else {
        if (this.#queued > 0) throw malformed('Unexpected data after the end of the ZIP archive');
        return;
      }
    }
  }

  // ---- byte queue -------------------------------------------------------------------------

  /** Copies (or views) the first `length` queued bytes without consuming them. */
  #peek(length: number): Uint8Array {
    const first = this.#queue[0]!;
    if (first.length >= length) return first.subarray(0, length);
    const out = new Uint8Array(length);
    let filled = 0;
    for (const part of this.#queue) {
      const n = Math.min(part.length, length - filled);
      out.set(part.subarray(0, n), filled);
      filled += n;
      if (filled === length) break;
    }
    return out;
  }

  #consume(length: number): void {
    let left = length;
    while (left > 0) {
      const first = this.#queue[0]!;
      if (first.length <= left) {
        this.#queue.shift();
        left -= first.length;
      } else {
        this.#queue[0] = first.subarray(left);
        left = 0;
      }
    }
    this.#queued -= length;
    this.#position += length;
  }

  #need(length: number, eof: boolean, what: string): boolean {
    if (this.#queued >= length) return true;
    if (eof) throw malformed(`Truncated ZIP file: ${what} cut short at offset ${this.#position + this.#queued}`);
    return false;
  }

  // ---- records ----------------------------------------------------------------------------

  #readRecord(eof: boolean): boolean {
    if (this.#queued === 0 && eof) {
      if (this.#recorded.length === 0 && this.#position === 0) throw malformed('Truncated ZIP file header');
      throw malformed('Truncated ZIP file: end of central directory not found');
    }
    if (!this.#need(4, eof, 'record signature')) return false;
    const signature = u32(this.#peek(4), 0);
    switch (signature) {
      case ZipSignature.localFile:
        if (this.#central) throw malformed('ZIP local file header found inside the central directory');
        return this.#readLocalHeader(eof);
      case ZipSignature.centralFile:
        this.#enterCentralDirectory();
        return this.#readCentralHeader(eof);
      case ZipSignature.zip64EndOfCentralDirectory:
        this.#enterCentralDirectory();
        return this.#readZip64End(eof);
      case ZipSignature.zip64Locator:
        this.#enterCentralDirectory();
        if (!this.#need(ZipRecordSize.zip64Locator, eof, 'zip64 locator')) return false;
        this.#consume(ZipRecordSize.zip64Locator);
        return true;
      case ZipSignature.endOfCentralDirectory:
        this.#enterCentralDirectory();
        return this.#readEnd(eof);
      default:
        throw malformed(`Bad ZIP file: unexpected record signature 0x${signature.toString(16)} at offset ${this.#position}`);
    }
  }

  #enterCentralDirectory(): void {
    if (this.#central) return;
    this.#central = new CentralDirectoryCheck(this.#recorded, this.#position);
    this.handler.localEntriesEnd();
  }

  #readLocalHeader(eof: boolean): boolean {
    if (!this.#need(ZipRecordSize.localFileHeader, eof, 'local file header')) return false;
    const fixed = this.#peek(ZipRecordSize.localFileHeader);
    const nameLength = u16(fixed, 26);
    const extraLength = u16(fixed, 28);
    // Limits are checked on the fixed part, before anything of the entry is buffered or kept.
    checkRecordLimits(this.#recorded.length, nameLength, extraLength, 0);
    const total = ZipRecordSize.localFileHeader + nameLength + extraLength;
    if (!this.#need(total, eof, 'local file header')) return false;
    const header = this.#peek(total);
    const entry = parseLocalHeader(header, this.#recorded.length, this.#position);
    const extra = header.subarray(ZipRecordSize.localFileHeader + nameLength, total);
    this.#entryFields = new Uint8Array(header.subarray(4, 14));
    this.#entryExtra = new Uint8Array(extra);
    this.#consume(total);
    this.#entry = entry;
    this.#entryCrc = 0;
    this.#compressedRead = 0;
    this.#uncompressedRead = 0;
    this.#sink = this.handler.entryStart(entry);
    if (entry.method === ZipMethod.deflated) {
      const emit = (data: Uint8Array): void => this.#emit(data);
      this.#inflater = (this.handler.transientChunks ? createReusingInflater(emit) : undefined) ?? new IncrementalInflater(emit);
    }
    this.#state = 'data';
    return true;
  }

  #emit(data: Uint8Array): void {
    if (data.length === 0) return;
    this.#entryCrc = crc32(data, this.#entryCrc);
    this.#uncompressedRead += data.length;
    this.#sink!(data);
  }

  // ---- entry data -------------------------------------------------------------------------

  async #readData(eof: boolean): Promise<boolean> {
    const entry = this.#entry!;
    if (entry.method === ZipMethod.deflated) return this.#readDeflated(entry, eof);
    if (!entry.hasDataDescriptor || entry.headerCompressedSize > 0) return this.#readStoredSized(entry, eof);
    return this.#readStoredScanning(entry, eof);
  }

  #readStoredSized(entry: ZipLocalEntry, eof: boolean): boolean {
    for (;;) {
      const remaining = entry.headerCompressedSize - this.#compressedRead;
      if (remaining === 0) {
        this.#state = 'descriptor';
        return true;
      }
      if (this.#queued === 0) {
        if (eof) throw malformed(`Truncated ZIP file data for ${entry.name}`);
        return false;
      }
      const first = this.#queue[0]!;
      const piece = first.length <= remaining ? first : first.subarray(0, remaining);
      this.#compressedRead += piece.length;
      this.#consume(piece.length);
      this.#emit(piece);
    }
  }

  /** Stored entry of unknown size: the data ends where a descriptor that matches it starts. */
  #readStoredScanning(entry: ZipLocalEntry, eof: boolean): boolean {
    const descriptorLength = entry.zip64 ? 24 : 16;
    for (;;) {
      if (this.#queued < descriptorLength) {
        if (eof) throw malformed(`Truncated ZIP file data for ${entry.name}`);
        return false;
      }
      if (this.#queue[0]!.length < descriptorLength) this.#mergeHead(descriptorLength);
      const view = this.#queue[0]!;
      const limit = view.length - descriptorLength;
      // Native search for the signature (a byte-by-byte JS loop cost ≈ 0.1 s per 256 MiB).
      const bytes = Buffer.from(view.buffer, view.byteOffset, view.length);
      let found = -1;
      for (let i = bytes.indexOf(DESCRIPTOR_SIGNATURE, 0); i >= 0 && i <= limit; i = bytes.indexOf(DESCRIPTOR_SIGNATURE, i + 1)) {
        const length = this.#compressedRead + i;
        const crc = crc32(view.subarray(0, i), this.#entryCrc);
        const csize = entry.zip64 ? u64(view, i + 8) : u32(view, i + 8);
        const usize = entry.zip64 ? u64(view, i + 16) : u32(view, i + 12);
        if (u32(view, i + 4) === crc && csize === length && usize === length) {
          found = i;
          break;
        }
      }
      const take = found >= 0 ? found : limit + 1;
      const piece = view.subarray(0, take);
      this.#compressedRead += take;
      this.#consume(take);
      this.#emit(piece);
      if (found >= 0) {
        this.#state = 'descriptor';
        return true;
      }
    }
  }

  /** Makes the first queued chunk at least `length` bytes long by moving bytes from the next ones. */
  #mergeHead(length: number): void {
    const merged = this.#peek(Math.min(this.#queued, Math.max(length, 64)));
    let drop = merged.length;
    while (drop > 0) {
      const first = this.#queue[0]!;
      if (first.length <= drop) {
        this.#queue.shift();
        drop -= first.length;
      } else {
        this.#queue[0] = first.subarray(drop);
        drop = 0;
      }
    }
    this.#queue.unshift(merged);
  }

  async #readDeflated(entry: ZipLocalEntry, eof: boolean): Promise<boolean> {
    const inflater = this.#inflater!;
    for (;;) {
      const sized = !entry.hasDataDescriptor;
      const remaining = sized ? entry.headerCompressedSize - this.#compressedRead : Infinity;
      if (remaining === 0) {
        // All declared compressed bytes are in: the stream must end exactly here.
        try {
          await inflater.finish();
        } catch (error) {
          if (error instanceof InflateError) throw malformed(error.message, error);
          throw error;
        }
        inflater.close();
        this.#inflater = undefined;
        this.#state = 'descriptor';
        return true;
      }
      if (this.#queued === 0) {
        if (eof) throw malformed(`ZIP decompression failed (${Z_BUF_ERROR})`);
        return false;
      }
      const first = this.#queue[0]!;
      const piece = first.length <= remaining ? first : first.subarray(0, remaining);
      let step;
      try {
        step = await inflater.write(piece);
      } catch (error) {
        if (error instanceof InflateError) throw malformed(error.message, error);
        throw error;
      }
      if (step.consumed === 0 && !step.ended) throw malformed(`ZIP decompression failed (${Z_BUF_ERROR})`);
      this.#compressedRead += step.consumed;
      this.#consume(step.consumed);
      if (step.ended) {
        inflater.close();
        this.#inflater = undefined;
        this.#state = 'descriptor';
        return true;
      }
    }
  }

  // ---- descriptor and entry end -----------------------------------------------------------

  async #readDescriptor(eof: boolean): Promise<boolean> {
    const entry = this.#entry!;
    let declared: ZipEntryTotals;
    if (entry.hasDataDescriptor) {
      if (!this.#need(4, eof, 'data descriptor')) return false;
      const signed = u32(this.#peek(4), 0) === ZipSignature.dataDescriptor;
      const bodyLength = entry.zip64 ? 20 : 12;
      const length = (signed ? 4 : 0) + bodyLength;
      if (!this.#need(length, eof, 'data descriptor')) return false;
      const bytes = this.#peek(length);
      const at = signed ? 4 : 0;
      declared = entry.zip64
        ? { crc32: u32(bytes, at), compressedSize: u64(bytes, at + 4), uncompressedSize: u64(bytes, at + 12) }
        : { crc32: u32(bytes, at), compressedSize: u32(bytes, at + 4), uncompressedSize: u32(bytes, at + 8) };
      this.#consume(length);
      if (entry.headerUncompressedSize > 0 && entry.headerUncompressedSize !== this.#uncompressedRead) {
        throw malformed(
          `ZIP uncompressed data is wrong size (read ${this.#uncompressedRead}, expected ${entry.headerUncompressedSize})`,
        );
      }
    } else {
      declared = {
        crc32: entry.headerCrc32,
        compressedSize: entry.headerCompressedSize,
        uncompressedSize: entry.headerUncompressedSize,
      };
    }
    const totals: ZipEntryTotals = {
      crc32: this.#entryCrc >>> 0,
      compressedSize: this.#compressedRead,
      uncompressedSize: this.#uncompressedRead,
    };
    if (declared.compressedSize !== totals.compressedSize) {
      throw malformed(`ZIP compressed data is wrong size (read ${totals.compressedSize}, expected ${declared.compressedSize})`);
    }
    if (declared.uncompressedSize !== totals.uncompressedSize) {
      throw malformed(
        `ZIP uncompressed data is wrong size (read ${totals.uncompressedSize}, expected ${declared.uncompressedSize})`,
      );
    }
    if (declared.crc32 !== totals.crc32) {
      throw malformed(`ZIP bad CRC: 0x${totals.crc32.toString(16)} should be 0x${declared.crc32.toString(16)}`);
    }
    if (entry.hasDataDescriptor) {
      // With a descriptor the local header's CRC and sizes must be zero or the real values.
      const header = [entry.headerCrc32, entry.headerCompressedSize, entry.headerUncompressedSize];
      const actual = [totals.crc32, totals.compressedSize, totals.uncompressedSize];
      if (header.some((value, i) => value !== 0 && value !== actual[i])) {
        throw malformed(`ZIP local header of ${entry.name} does not match its data descriptor`);
      }
    }
    this.#recorded.push({
      name: entry.name,
      fields: this.#entryFields,
      extra: this.#entryExtra,
      offset: entry.localHeaderOffset,
      ...totals,
    });
    await this.handler.entryEnd(entry, totals);
    this.#entry = undefined;
    this.#sink = undefined;
    this.#state = 'record';
    return true;
  }

  // ---- central directory (checked by CentralDirectoryCheck) ------------------------------

  #readCentralHeader(eof: boolean): boolean {
    if (!this.#need(ZipRecordSize.centralFileHeader, eof, 'central directory')) return false;
    const fixed = this.#peek(ZipRecordSize.centralFileHeader);
    checkRecordLimits(0, u16(fixed, 28), u16(fixed, 30), u16(fixed, 32));
    const total = ZipRecordSize.centralFileHeader + u16(fixed, 28) + u16(fixed, 30) + u16(fixed, 32);
    if (!this.#need(total, eof, 'central directory')) return false;
    this.#central!.header(this.#peek(total));
    this.#consume(total);
    return true;
  }

  #readZip64End(eof: boolean): boolean {
    if (!this.#need(12, eof, 'zip64 end of central directory')) return false;
    const size = u64(this.#peek(12), 4);
    if (size < 44 || size > 65_536) throw malformed('Bad zip64 end of central directory record');
    const total = 12 + size;
    if (!this.#need(total, eof, 'zip64 end of central directory')) return false;
    this.#central!.zip64End(this.#peek(total), this.#position);
    this.#consume(total);
    return true;
  }

  #readEnd(eof: boolean): boolean {
    if (!this.#need(ZipRecordSize.endOfCentralDirectory, eof, 'end of central directory')) return false;
    const fixed = this.#peek(ZipRecordSize.endOfCentralDirectory);
    const total = ZipRecordSize.endOfCentralDirectory + u16(fixed, 20);
    if (!this.#need(total, eof, 'end of central directory')) return false;
    this.#central!.end(fixed, this.#position);
    this.#consume(total);
    this.#state = 'done';
    return true;
  }
}
