// Delta test helpers: real patches from Debian's xdelta3 (as NervesHub makes them), delta .fw
// archives built like nerves_hub_web's DeltaUpdater.Default, in-memory delta sources.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DeltaSourceFile } from '../../src/delta/delta-source.js';
import { ZipStreamParser } from '../../src/firmware/zip-stream-parser.js';
import { ZipStreamWriter } from '../../src/firmware/zip-stream-writer.js';

export const DELTA_FIXTURES = fileURLToPath(new URL('../fixtures/fwup-delta/', import.meta.url));
export const deltaFixture = (name: string): string => join(DELTA_FIXTURES, name);

/** True when xdelta3 can be run (Debian's package; `.ci/run` installs it). */
export const HAS_XDELTA3 = spawnSync('xdelta3', ['-V'], { stdio: 'ignore' }).status === 0;

/** A private temp dir removed by the returned function. */
export function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'nhl-delta-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `xdelta3 -A -S -f -s <source> <target> <out>`, exactly NervesHub's command line. */
export function xdelta3Encode(source: Uint8Array, target: Uint8Array): Uint8Array {
  const t = tempDir();
  try {
    writeFileSync(join(t.dir, 'source'), source);
    writeFileSync(join(t.dir, 'target'), target);
    execFileSync('xdelta3', ['-A', '-S', '-f', '-s', join(t.dir, 'source'), join(t.dir, 'target'), join(t.dir, 'out')]);
    return new Uint8Array(readFileSync(join(t.dir, 'out')));
  } finally {
    t.remove();
  }
}

/** `xdelta3 -d -f -s <source> <patch> <out>`: the reference decoder. */
export function xdelta3Decode(source: Uint8Array, patch: Uint8Array): Uint8Array {
  const t = tempDir();
  try {
    writeFileSync(join(t.dir, 'source'), source);
    writeFileSync(join(t.dir, 'patch'), patch);
    execFileSync('xdelta3', ['-d', '-f', '-s', join(t.dir, 'source'), join(t.dir, 'patch'), join(t.dir, 'out')]);
    return new Uint8Array(readFileSync(join(t.dir, 'out')));
  } finally {
    t.remove();
  }
}

/** A delta source over bytes in memory, counting reads. */
export function memorySource(bytes: Uint8Array): DeltaSourceFile & { reads: number } {
  const file = {
    size: bytes.length,
    reads: 0,
    read: async (offset: number, length: number) => {
      file.reads++;
      return bytes.slice(offset, offset + length);
    },
  };
  return file;
}

/** Feeds `bytes` in chunks of `size` (to exercise every split point of the streaming parsers). */
export async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.slice(at, at + size);
}

/** Collects a byte stream. */
export async function collect(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of stream) parts.push(new Uint8Array(part));
  return new Uint8Array(Buffer.concat(parts));
}

/** The entries of a zip archive, uncompressed, in order (through the project's own parser). */
export async function zipEntries(archive: Uint8Array): Promise<Array<{ name: string; data: Uint8Array; mtime: number }>> {
  const entries: Array<{ name: string; data: Uint8Array; mtime: number }> = [];
  const parser = new ZipStreamParser({
    entryStart: (entry) => {
      const parts: Uint8Array[] = [];
      entries.push({ name: entry.name, data: new Uint8Array(0), mtime: entry.modifiedTimeSeconds });
      return (data) => {
        parts.push(new Uint8Array(data));
        entries[entries.length - 1]!.data = new Uint8Array(Buffer.concat(parts));
      };
    },
    entryEnd: () => {},
    localEntriesEnd: () => {},
  });
  await parser.push(archive);
  await parser.finish();
  parser.dispose();
  return entries;
}

/**
 * Builds a delta .fw as nerves_hub_web's `Firmwares.DeltaUpdater.Default` does: the target's
 * meta.conf and signature unchanged, every other file replaced by
 * `xdelta3 -A -S -f -s <source file> <target file> <out>`, zipped deflated with the meta files
 * first (and the `data/` directory entry `zip -r` writes). `tamper` may change a patch first.
 */
export async function makeDeltaFirmware(
  source: Uint8Array,
  target: Uint8Array,
  tamper?: (name: string, patch: Uint8Array) => Uint8Array,
): Promise<Uint8Array> {
  const before = new Map((await zipEntries(source)).map((e) => [e.name, e.data]));
  const after = await zipEntries(target);
  const out: Uint8Array[] = [];
  const zip = new ZipStreamWriter((chunk) => void out.push(new Uint8Array(chunk)));
  const options = { compressionLevel: 6, dataDescriptor: false, mtimeSeconds: 1_700_000_000, extendedTimestamp: true };
  for (const name of ['meta.conf.ed25519', 'meta.conf']) {
    const entry = after.find((e) => e.name === name);
    if (entry) await zip.addEntry(name, entry.data, options);
  }
  await zip.addEntry('data/', new Uint8Array(0), { ...options, compressionLevel: 0 });
  for (const entry of after) {
    if (!entry.name.startsWith('data/')) continue;
    let patch = xdelta3Encode(before.get(entry.name) ?? new Uint8Array(0), entry.data);
    if (tamper) patch = tamper(entry.name, patch);
    await zip.addEntry(entry.name, patch, options);
  }
  await zip.finish();
  return new Uint8Array(Buffer.concat(out));
}

/** Deterministic pseudo-random bytes (xorshift32), so big fixtures need no storage. */
export function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
