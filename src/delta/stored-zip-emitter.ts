import { crc32 } from '../firmware/crc32.js';
import {
  ZipFlag,
  ZipMethod,
  centralFileHeader,
  concatBytes,
  dataDescriptor,
  endOfCentralDirectory,
  extendedTimestampExtra,
  localFileHeader,
  unixSecondsToDos,
  type ZipEntryFields,
} from '../firmware/zip-records.js';
import { DeltaError } from './delta-error.js';

interface CentralRecord {
  header: Uint8Array;
  name: Uint8Array;
  extra: Uint8Array;
}

const MAX_ZIP32 = 0xffff_ffff;

/**
 * Writes the rebuilt archive as stored (uncompressed) zip entries, piece by piece, so that it can
 * be streamed: a local header, the data as it is produced, a data descriptor with the CRC-32.
 * Sizes are known in advance (meta.conf declares them) and written into the local headers, so a
 * reader never has to scan for the end of an entry. Modification times are kept (meta.conf's is
 * the firmware's creation date when meta.conf has none).
 */
export class StoredZipEmitter {
  #offset = 0;
  readonly #records: CentralRecord[] = [];
  #current: { fields: ZipEntryFields; offset: number; name: Uint8Array; extra: Uint8Array; written: number; crc: number } | undefined;

  /** Starts an entry of `size` bytes; returns the local header. */
  start(name: string, size: number, mtimeSeconds: number): Uint8Array {
    if (size > MAX_ZIP32) throw new DeltaError('NH_DELTA_TOO_LARGE', `resource ${name} is larger than 4 GiB, which the delta rebuild does not support`);
    const nameBytes = new TextEncoder().encode(name);
    const extra = extendedTimestampExtra(mtimeSeconds);
    const dos = unixSecondsToDos(mtimeSeconds);
    const fields: ZipEntryFields = {
      flags: size > 0 ? ZipFlag.dataDescriptor : 0,
      method: ZipMethod.stored,
      dos,
      crc: 0,
      compressedSize: size,
      size,
      nameLength: nameBytes.length,
      extraLength: extra.length,
    };
    this.#current = { fields, offset: this.#offset, name: nameBytes, extra, written: 0, crc: 0 };
    return this.#out(concatBytes([localFileHeader(fields), nameBytes, extra]));
  }

  /** Data of the current entry (returned as is, after it is counted). */
  data(bytes: Uint8Array): Uint8Array {
    const entry = this.#current!;
    entry.crc = crc32(bytes, entry.crc);
    entry.written += bytes.length;
    return this.#out(bytes);
  }

  /** Bytes written into the current entry so far. */
  get written(): number {
    return this.#current?.written ?? 0;
  }

  /** Ends the current entry; returns its data descriptor (nothing for an empty entry). */
  end(): Uint8Array {
    const entry = this.#current!;
    this.#current = undefined;
    const central = centralFileHeader({ ...entry.fields, crc: entry.crc, localHeaderOffset: entry.offset });
    this.#records.push({ header: central, name: entry.name, extra: entry.extra });
    if (entry.fields.size === 0) return new Uint8Array(0);
    return this.#out(dataDescriptor(entry.crc, entry.written, entry.written));
  }

  /** The central directory and end record. */
  finish(): Uint8Array {
    const start = this.#offset;
    const parts = this.#records.flatMap((r) => [r.header, r.name, r.extra]);
    const size = parts.reduce((n, p) => n + p.length, 0);
    return this.#out(concatBytes([...parts, endOfCentralDirectory(this.#records.length, size, start)]));
  }

  #out(bytes: Uint8Array): Uint8Array {
    this.#offset += bytes.length;
    if (this.#offset > MAX_ZIP32) throw new DeltaError('NH_DELTA_TOO_LARGE', 'the rebuilt archive would be larger than 4 GiB, which the delta rebuild does not support');
    return bytes;
  }
}
