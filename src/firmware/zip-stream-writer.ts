import { createDeflateRaw } from 'node:zlib';
import { crc32 } from './crc32.js';
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
} from './zip-records.js';

/** How one entry is written. */
export interface ZipEntryOptions {
  /** 0 = stored, 1…9 = deflate level. */
  compressionLevel: number;
  /** Write CRC and sizes after the data (bit 3), like fwup/libarchive. */
  dataDescriptor: boolean;
  /** Modification time in seconds since the epoch (written as DOS time, and as 0x5455 when `extendedTimestamp`). */
  mtimeSeconds: number;
  /** Add an extended-timestamp (0x5455) field carrying the mtime. */
  extendedTimestamp: boolean;
  /** Uncompressed size, when known in advance (required for stored entries of streamed data). */
  size?: number;
}

/** What the central directory needs of a written entry. */
interface CentralRecord extends Omit<ZipEntryFields, 'nameLength' | 'extraLength'> {
  name: Uint8Array;
  extra: Uint8Array;
  offset: number;
}

const UNIX_EXTRA = Uint8Array.from([0x75, 0x78, 0x0b, 0x00, 0x01, 0x04, 0, 0, 0, 0, 0x04, 0, 0, 0, 0]);

/**
 * Minimal streaming zip writer for fwup-style archives (test helper). Entries are written in order
 * through `write`; only the small central-directory records are kept in memory.
 */
export class ZipStreamWriter {
  #offset = 0;
  readonly #records: CentralRecord[] = [];

  constructor(private readonly write: (chunk: Uint8Array) => void | Promise<void>) {}

  async #out(chunk: Uint8Array): Promise<void> {
    if (chunk.length === 0) return;
    this.#offset += chunk.length;
    await this.write(chunk);
  }

  /** Writes one entry whose data comes from `data` (bytes or a chunk stream). */
  async addEntry(name: string, data: Uint8Array | AsyncIterable<Uint8Array>, options: ZipEntryOptions): Promise<void> {
    const nameBytes = new TextEncoder().encode(name);
    const method = options.compressionLevel > 0 ? ZipMethod.deflated : ZipMethod.stored;
    // mtime 0 is written as DOS time and date 0, not clamped to 1980-01-01, in both headers.
    const dos = options.mtimeSeconds === 0 ? { time: 0, date: 0 } : unixSecondsToDos(options.mtimeSeconds);
    const extra = concatBytes([
      extendedTimestampExtra(options.extendedTimestamp ? options.mtimeSeconds : undefined),
      UNIX_EXTRA,
    ]);
    const offset = this.#offset;
    if (!options.dataDescriptor && !(data instanceof Uint8Array)) {
      throw new TypeError('entries without a data descriptor need their data as bytes');
    }
    const knownSize = data instanceof Uint8Array ? data.length : options.size;
    if (method === ZipMethod.stored && knownSize === undefined) {
      throw new TypeError('stored entries of streamed data need options.size');
    }
    // Without a descriptor, CRC and sizes must be in the local header: compute them first.
    let precomputed: { crc: number; compressed: Uint8Array } | undefined;
    if (!options.dataDescriptor && data instanceof Uint8Array) {
      const compressed = method === ZipMethod.stored ? data : await deflateAll(data, options.compressionLevel);
      precomputed = { crc: crc32(data), compressed };
    }
    const flags = options.dataDescriptor ? ZipFlag.dataDescriptor : 0;
    const header = localFileHeader({
      flags,
      method,
      dos,
      crc: precomputed?.crc ?? 0,
      compressedSize: precomputed ? precomputed.compressed.length : method === ZipMethod.stored ? knownSize! : 0,
      size: knownSize ?? 0,
      nameLength: nameBytes.length,
      extraLength: extra.length,
    });
    await this.#out(concatBytes([header, nameBytes, extra]));

    let crc = 0;
    let size = 0;
    let compressedSize = 0;
    if (precomputed) {
      crc = precomputed.crc;
      size = knownSize!;
      compressedSize = precomputed.compressed.length;
      await this.#out(precomputed.compressed);
    } else {
      const chunks = data instanceof Uint8Array ? [data] : data;
      if (method === ZipMethod.stored) {
        for await (const chunk of chunks) {
          crc = crc32(chunk, crc);
          size += chunk.length;
          await this.#out(chunk);
        }
        compressedSize = size;
      } else {
        const deflate = createDeflateRaw({ level: options.compressionLevel });
        const pumped = (async () => {
          for await (const chunk of chunks) {
            crc = crc32(chunk, crc);
            size += chunk.length;
            if (!deflate.write(chunk)) await new Promise((resolve) => deflate.once('drain', resolve));
          }
          deflate.end();
        })();
        for await (const piece of deflate as AsyncIterable<Buffer>) {
          compressedSize += piece.length;
          await this.#out(piece);
        }
        await pumped;
      }
      if (knownSize !== undefined && knownSize !== size) throw new TypeError(`entry ${name}: size ${size} != ${knownSize}`);
      await this.#out(dataDescriptor(crc, compressedSize, size));
    }
    this.#records.push({ name: nameBytes, flags, method, dos, crc, compressedSize, size, offset, extra });
  }

  /** Writes the central directory and end record. */
  async finish(): Promise<void> {
    const start = this.#offset;
    for (const r of this.#records) {
      const header = centralFileHeader({ ...r, nameLength: r.name.length, extraLength: r.extra.length, localHeaderOffset: r.offset });
      await this.#out(concatBytes([header, r.name, r.extra]));
    }
    await this.#out(endOfCentralDirectory(this.#records.length, this.#offset - start, start));
  }
}

async function deflateAll(data: Uint8Array, level: number): Promise<Uint8Array> {
  const { deflateRaw } = await import('node:zlib');
  return new Promise((resolve, reject) => {
    deflateRaw(data, { level }, (error, result) => (error ? reject(error) : resolve(new Uint8Array(result))));
  });
}
