/**
 * A zip archive as a list of entries (local record + central record), so the archive fuzzer can
 * duplicate, move, drop and insert entries and still produce a well-formed zip (offsets, counts
 * and the end-of-central-directory record are recomputed). Test helper only.
 */
import { createPrivateKey, sign } from 'node:crypto';
import { ZipStreamWriter } from '../../src/firmware/zip-stream-writer.js';

/** One entry: its local header, data and descriptor bytes, and its central-directory record. */
export interface ZipEntryRecord {
  name: string;
  local: Uint8Array;
  central: Uint8Array;
}

const LOCAL_SIG = 0x04034b50;
const CENTRAL_SIG = 0x02014b50;
const EOCD_SIG = 0x06054b50;

/** Splits an archive made by createFirmware (no comment, no zip64) into its entries. */
export function parseZip(bytes: Uint8Array): ZipEntryRecord[] {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const eocd = view.length - 22;
  if (view.readUInt32LE(eocd) !== EOCD_SIG) throw new Error('parseZip: no end-of-central-directory record at the end');
  const count = view.readUInt16LE(eocd + 10);
  const cdStart = view.readUInt32LE(eocd + 16);
  const records: Array<{ name: string; offset: number; central: Uint8Array }> = [];
  for (let i = 0, at = cdStart; i < count; i++) {
    const length = 46 + view.readUInt16LE(at + 28) + view.readUInt16LE(at + 30) + view.readUInt16LE(at + 32);
    const name = view.subarray(at + 46, at + 46 + view.readUInt16LE(at + 28)).toString('utf8');
    records.push({ name, offset: view.readUInt32LE(at + 42), central: new Uint8Array(view.subarray(at, at + length)) });
    at += length;
  }
  const starts = records.map((r) => r.offset).sort((a, b) => a - b);
  return records.map((r) => {
    const end = starts.find((s) => s > r.offset) ?? cdStart;
    return { name: r.name, local: new Uint8Array(view.subarray(r.offset, end)), central: r.central };
  });
}

/** Writes entries in order, then their central records (in `centralOrder`, default the same). */
export function buildZip(entries: readonly ZipEntryRecord[], centralOrder?: readonly number[]): Uint8Array {
  const offsets: number[] = [];
  let at = 0;
  for (const e of entries) {
    offsets.push(at);
    at += e.local.length;
  }
  const order = centralOrder ?? entries.map((_, i) => i);
  const centrals = order.map((i) => {
    const c = Buffer.from(entries[i]!.central);
    c.writeUInt32LE(offsets[i]!, 42);
    return c;
  });
  const cdSize = centrals.reduce((n, c) => n + c.length, 0);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(EOCD_SIG, 0);
  eocd.writeUInt16LE(centrals.length, 8);
  eocd.writeUInt16LE(centrals.length, 10);
  eocd.writeUInt32LE(cdSize, 12);
  eocd.writeUInt32LE(at, 16);
  return new Uint8Array(Buffer.concat([...entries.map((e) => e.local), ...centrals, eocd]));
}

/** A stored, empty entry (e.g. a directory `data/x/`) whose headers carry `extraBytes` of extra field. */
export function emptyEntryWithExtra(name: string, extraBytes: number): ZipEntryRecord {
  const nameBytes = Buffer.from(name, 'utf8');
  // One well-formed extra block (id 0xcafe) filling the requested size (at least its 4-byte header).
  const extra = Buffer.alloc(Math.max(4, Math.min(0xffff, extraBytes)));
  extra.writeUInt16LE(0xcafe, 0);
  extra.writeUInt16LE(extra.length - 4, 2);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(LOCAL_SIG, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(nameBytes.length, 26);
  local.writeUInt16LE(extra.length, 28);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(CENTRAL_SIG, 0);
  central.writeUInt16LE(0x031e, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(nameBytes.length, 28);
  central.writeUInt16LE(extra.length, 30);
  return {
    name,
    local: new Uint8Array(Buffer.concat([local, nameBytes, extra])),
    central: new Uint8Array(Buffer.concat([central, nameBytes, extra])),
  };
}

/** Entries written by the project's own zip writer, the way createFirmware writes them. */
export async function writtenEntries(
  files: ReadonlyArray<readonly [name: string, data: Uint8Array, compressionLevel: number]>,
  options: { dataDescriptor?: boolean; metaConfMtimeSeconds?: number } = {},
): Promise<ZipEntryRecord[]> {
  const chunks: Uint8Array[] = [];
  const zip = new ZipStreamWriter((chunk) => {
    chunks.push(new Uint8Array(chunk));
  });
  for (const [name, data, compressionLevel] of files) {
    // like createFirmware: only meta.conf carries a time (its mtime is fwup's meta-creation-date)
    const mtime = name === 'meta.conf' ? options.metaConfMtimeSeconds : undefined;
    await zip.addEntry(name, data, { compressionLevel, dataDescriptor: options.dataDescriptor ?? true, extendedTimestamp: mtime !== undefined, mtimeSeconds: mtime ?? 0 });
  }
  await zip.finish();
  return parseZip(new Uint8Array(Buffer.concat(chunks)));
}

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** Ed25519 signature of `message` with an fwup private key (base64 of 64 bytes, as in fwup-key.priv). */
export function fwupSign(message: Uint8Array, privateKeyBase64: string): Uint8Array {
  const seed = Buffer.from(privateKeyBase64.trim(), 'base64').subarray(0, 32);
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  return new Uint8Array(sign(null, message, key));
}
