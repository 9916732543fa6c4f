import { crc32 } from '../firmware/crc32.js';
import { ZipFlag, ZipMethod, ZipSignature, concatBytes, extendedTimestampExtra, put16, put32, unixSecondsToDos } from '../firmware/zip-records.js';
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
  #current: { header: Uint8Array; name: Uint8Array; extra: Uint8Array; size: number; written: number; crc: number } | undefined;

  /** Starts an entry of `size` bytes; returns the local header. */
  start(name: string, size: number, mtimeSeconds: number): Uint8Array {
    if (size > MAX_ZIP32) throw new DeltaError('NH_DELTA_TOO_LARGE', `resource ${name} is larger than 4 GiB, which the delta rebuild does not support`);
    const nameBytes = new TextEncoder().encode(name);
    const extra = extendedTimestampExtra(mtimeSeconds);
    const dos = unixSecondsToDos(mtimeSeconds);
    const header = new Uint8Array(30);
    put32(header, 0, ZipSignature.localFile);
    put16(header, 4, 10);
    put16(header, 6, size > 0 ? ZipFlag.dataDescriptor : 0);
    put16(header, 8, ZipMethod.stored);
    put16(header, 10, dos.time);
    put16(header, 12, dos.date);
    put32(header, 18, size);
    put32(header, 22, size);
    put16(header, 26, nameBytes.length);
    put16(header, 28, extra.length);
    this.#current = { header, name: nameBytes, extra, size, written: 0, crc: 0 };
    return this.#out(concatBytes([header, nameBytes, extra]));
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
    const central = new Uint8Array(46);
    put32(central, 0, ZipSignature.centralFile);
    put16(central, 4, 0x031e);
    central.set(entry.header.subarray(4, 14), 6);
    put32(central, 16, entry.crc);
    put32(central, 20, entry.size);
    put32(central, 24, entry.size);
    put16(central, 28, entry.name.length);
    put16(central, 30, entry.extra.length);
    put32(central, 38, 0o100644 * 0x10000);
    put32(central, 42, this.#offset - entry.written - 30 - entry.name.length - entry.extra.length);
    this.#records.push({ header: central, name: entry.name, extra: entry.extra });
    if (entry.size === 0) return new Uint8Array(0);
    const descriptor = new Uint8Array(16);
    put32(descriptor, 0, ZipSignature.dataDescriptor);
    put32(descriptor, 4, entry.crc);
    put32(descriptor, 8, entry.written);
    put32(descriptor, 12, entry.written);
    return this.#out(descriptor);
  }

  /** The central directory and end record. */
  finish(): Uint8Array {
    const start = this.#offset;
    const parts = this.#records.flatMap((r) => [r.header, r.name, r.extra]);
    const size = parts.reduce((n, p) => n + p.length, 0);
    const end = new Uint8Array(22);
    put32(end, 0, ZipSignature.endOfCentralDirectory);
    put16(end, 8, this.#records.length);
    put16(end, 10, this.#records.length);
    put32(end, 12, size);
    put32(end, 16, start);
    return this.#out(concatBytes([...parts, end]));
  }

  #out(bytes: Uint8Array): Uint8Array {
    this.#offset += bytes.length;
    if (this.#offset > MAX_ZIP32) throw new DeltaError('NH_DELTA_TOO_LARGE', 'the rebuilt archive would be larger than 4 GiB, which the delta rebuild does not support');
    return bytes;
  }
}
