// Makes NervesHub delta firmware exactly as nerves_hub_web's Firmwares.DeltaUpdater.Default does:
// unzip source and target; meta.conf and meta.conf.ed25519 of the target unchanged; every other
// file replaced by `xdelta3 -A -S -f -s <source file> <target file> <out>`; zipped again (deflated
// where that helps, as zip does), meta files first. Needs Debian's xdelta3 (installed by .ci/run).
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { deflateRawSync } from 'node:zlib';
import { ZipStreamParser } from '../../src/firmware/zip-stream-parser.js';
import { ZipStreamWriter } from '../../src/firmware/zip-stream-writer.js';

const run = promisify(execFile);

/** True when `xdelta3` can be run here. */
export function hasXdelta3(): boolean {
  try {
    execFileSync('xdelta3', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Entries of a zip archive in order (name → uncompressed bytes), read with the SDK's own parser. */
export async function unzipEntries(archive: Uint8Array): Promise<Array<[string, Uint8Array]>> {
  const entries: Array<[string, Uint8Array]> = [];
  let parts: Uint8Array[] = [];
  const parser = new ZipStreamParser({
    entryStart: () => {
      parts = [];
      return (data) => parts.push(new Uint8Array(data));
    },
    entryEnd: (entry) => void entries.push([entry.name, Buffer.concat(parts)]),
    localEntriesEnd: () => undefined,
  });
  try {
    await parser.push(archive);
    await parser.finish();
  } finally {
    parser.dispose();
  }
  return entries;
}

/** `xdelta3 -A -S -f -s source target out`, in a temp dir; returns the patch. */
export async function xdelta3Encode(source: Uint8Array, target: Uint8Array): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), 'nhl-xdelta-'));
  try {
    await writeFile(join(dir, 'source'), source);
    await writeFile(join(dir, 'target'), target);
    await run('xdelta3', ['-A', '-S', '-f', '-s', join(dir, 'source'), join(dir, 'target'), join(dir, 'out')]);
    return new Uint8Array(await readFile(join(dir, 'out')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `xdelta3 -d -s source patch out`; returns the patched output. */
export async function xdelta3Decode(source: Uint8Array, patch: Uint8Array): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), 'nhl-xdelta-'));
  try {
    await writeFile(join(dir, 'source'), source);
    await writeFile(join(dir, 'patch'), patch);
    await run('xdelta3', ['-d', '-f', '-s', join(dir, 'source'), join(dir, 'patch'), join(dir, 'out')]);
    return new Uint8Array(await readFile(join(dir, 'out')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Zips entries in order without data descriptors, deflating (level 6, zip's default) only where it shrinks. */
export async function zipLikeZip(entries: ReadonlyArray<readonly [string, Uint8Array]>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const writer = new ZipStreamWriter((chunk) => void chunks.push(new Uint8Array(chunk)));
  for (const [name, data] of entries) {
    const deflates = data.length > 0 && deflateRawSync(data, { level: 6 }).length < data.length;
    await writer.addEntry(name, data, { compressionLevel: deflates ? 6 : 0, dataDescriptor: false, mtimeSeconds: 1_700_000_000, extendedTimestamp: true });
  }
  await writer.finish();
  return Buffer.concat(chunks);
}

/** The server's delta of two signed firmware archives (every resource patched, unchanged ones too). */
export async function makeServerDelta(source: Uint8Array, target: Uint8Array): Promise<Uint8Array> {
  const sourceEntries = new Map(await unzipEntries(source));
  const out: Array<[string, Uint8Array]> = [];
  const targetEntries = await unzipEntries(target);
  const meta = targetEntries.filter(([name]) => name === 'meta.conf.ed25519' || name === 'meta.conf');
  out.push(...meta);
  for (const [name, data] of targetEntries) {
    if (name === 'meta.conf.ed25519' || name === 'meta.conf') continue;
    const old = sourceEntries.get(name);
    if (old === undefined) throw new Error(`the source firmware has no ${name}: the server cannot make a delta`);
    out.push([name, await xdelta3Encode(old, data)]);
  }
  return zipLikeZip(out);
}
