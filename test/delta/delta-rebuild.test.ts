// The delta rebuild: NervesHub delta .fw + delta source → the full archive, verified by the
// unchanged FirmwareVerifier. A wrong or tampered delta never yields an unverified resource byte.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openArchiveResource, rawRangeSource } from '../../src/delta/archive-delta-source.js';
import { rebuildDeltaArchive } from '../../src/delta/delta-rebuild.js';
import type { DeltaSource, DeltaSourceRequest } from '../../src/delta/delta-source.js';
import { isNervesHubError } from '../../src/errors.js';
import { FirmwareVerifier } from '../../src/firmware/firmware-verifier.js';
import { createFirmware } from '../../src/testing/create-firmware.js';
import { KEY_A, PRIVATE_KEY_A } from '../firmware/fwup-fixtures.js';
import { HAS_XDELTA3, chunked, collect, deltaFixture, memorySource, makeDeltaFirmware, pseudoRandomBytes, tempDir, xdelta3Encode, zipEntries } from './helpers.js';

const DELTA_KEY = readFileSync(deltaFixture('keys/delta-key.pub'), 'utf8');
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** Rebuild → passThrough, like the update path; returns what a consumer received and the error. */
async function rebuildAndVerify(delta: Uint8Array, source: DeltaSource, key: string, chunkSize = 4096): Promise<{ out: Uint8Array; error: unknown }> {
  const verifier = new FirmwareVerifier({ publicKeys: [key] });
  const parts: Uint8Array[] = [];
  try {
    for await (const part of verifier.passThrough(rebuildDeltaArchive(chunked(delta, chunkSize), source))) parts.push(new Uint8Array(part));
    return { out: new Uint8Array(Buffer.concat(parts)), error: undefined };
  } catch (error) {
    return { out: new Uint8Array(Buffer.concat(parts)), error };
  }
}

async function resourcesOf(archive: Uint8Array): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await zipEntries(archive)) if (e.name !== 'data/') out[e.name] = Buffer.from(e.data).toString('hex');
  return out;
}

/** fwup-style source: the raw block ranges `delta-source-raw-offset/-count` name in the fixture's upgrade task. */
function fixtureRawSource(image: string, opened: string[] = []): DeltaSource {
  const ranges: Record<string, [number, number]> = { 'rootfs.bin': [256, 136], 'boot.cfg': [64, 1] };
  return async ({ resource }: DeltaSourceRequest) => {
    opened.push(resource);
    const range = ranges[resource];
    return range ? rawRangeSource(image, range[0] * 512, range[1] * 512) : undefined;
  };
}

describe('delta rebuild: the fwup-delta fixture (real fwup archives, Debian xdelta3)', () => {
  const delta = new Uint8Array(readFileSync(deltaFixture('fw/delta-1-to-2.fw')));
  const v2 = new Uint8Array(readFileSync(deltaFixture('fw/v2.fw')));

  it('from the raw ranges of the device image (as fwup reads them): the verified full v2 archive', async () => {
    for (const chunkSize of [1, 700, 1 << 20]) {
      const { out, error } = await rebuildAndVerify(delta, fixtureRawSource(deltaFixture('expected/source-after-v1-complete.img')), DELTA_KEY, chunkSize);
      expect(error).toBeUndefined();
      expect(await resourcesOf(out)).toEqual(await resourcesOf(v2));
      const verdict = await new FirmwareVerifier({ publicKeys: [DELTA_KEY] }).verify(out);
      const reference = await new FirmwareVerifier({ publicKeys: [DELTA_KEY] }).verify(v2);
      // Same UUID (it hashes meta.conf) and resources. The creation date may differ: without
      // meta-creation-date it is meta.conf's zip mtime, which the server's re-zip does not keep.
      const { creationDate: _a, ...metadata } = verdict.valid ? verdict.metadata : {};
      const { creationDate: _b, ...expectedMetadata } = reference.valid ? reference.metadata : {};
      expect(verdict.valid && reference.valid).toBe(true);
      expect(metadata).toEqual(expectedMetadata);
      expect(verdict.valid && verdict.resources).toEqual(reference.valid && reference.resources);
    }
  });

  it('from the installed v1.fw ({ archivePath }: deflated entries inflated to a temp file)', async () => {
    const { out, error } = await rebuildAndVerify(delta, { archivePath: deltaFixture('fw/v1.fw') }, DELTA_KEY);
    expect(error).toBeUndefined();
    expect(await resourcesOf(out)).toEqual(await resourcesOf(v2));
  });

  it('the tampered delta (fwup -V accepts it): refused with a typed error before any byte of rootfs is released', async () => {
    const tampered = new Uint8Array(readFileSync(deltaFixture('fw/delta-1-to-2-tampered.fw')));
    const { out, error } = await rebuildAndVerify(tampered, { archivePath: deltaFixture('fw/v1.fw') }, DELTA_KEY);
    expect(isNervesHubError(error) && /^NH_(DELTA|FW)_/.test(error.code)).toBe(true);
    const released = await zipEntries(out).catch(() => []);
    expect(released.find((e) => e.name === 'data/rootfs.bin')).toBeUndefined();
  });

  it('a delta signed with another key: refused (NH_FW_BAD_SIGNATURE) before the source is even opened', async () => {
    const opened: string[] = [];
    const { out, error } = await rebuildAndVerify(delta, fixtureRawSource(deltaFixture('expected/source-after-v1-complete.img'), opened), KEY_A);
    expect(error).toMatchObject({ code: 'NH_FW_BAD_SIGNATURE' });
    expect(out.length).toBe(0);
    expect(opened).toEqual([]);
  });

  it('against the wrong source (other bytes of the same size): NH_DELTA_WRONG_SOURCE', async () => {
    // (v2 itself would do: this patch only copies the ranges v1 and v2 share)
    const other = pseudoRandomBytes(69_632, 41);
    const { error } = await rebuildAndVerify(delta, () => memorySource(other), DELTA_KEY);
    expect(error).toMatchObject({ code: 'NH_DELTA_WRONG_SOURCE' });
  });

  it('a source without the resource: NH_DELTA_NO_SOURCE', async () => {
    const { error } = await rebuildAndVerify(delta, () => undefined, DELTA_KEY);
    expect(error).toMatchObject({ code: 'NH_DELTA_NO_SOURCE' });
  });

  it('a full archive passes through byte for byte (no source needed)', async () => {
    const { out, error } = await rebuildAndVerify(v2, () => {
      throw new Error('must not be asked');
    }, DELTA_KEY);
    expect(error).toBeUndefined();
    expect(Buffer.from(out).equals(v2)).toBe(true);
  });
});

describe.skipIf(!HAS_XDELTA3)('delta rebuild: createFirmware pairs made into deltas as NervesHub does', () => {
  const rootfs1 = pseudoRandomBytes(400_000, 31);
  const rootfs2 = new Uint8Array(rootfs1);
  rootfs2.set(pseudoRandomBytes(3000, 32), 123_456);
  const app1 = pseudoRandomBytes(50_000, 33);
  const app2 = new Uint8Array(Buffer.concat([pseudoRandomBytes(30_000, 34), app1, pseudoRandomBytes(70_000, 35)])); // larger, mostly new
  const boot = new TextEncoder().encode('console=ttyS0 quiet\n'); // unchanged

  async function pair(): Promise<{ v1Path: string; v1: Uint8Array; v2: Uint8Array }> {
    const t = tempDir();
    cleanups.push(t.remove);
    const v1 = await createFirmware({ resources: { 'rootfs.img': rootfs1, 'boot.cfg': boot, 'app.img': app1 }, meta: { product: 'delta', version: '1.0.0' }, privateKey: PRIVATE_KEY_A });
    const v2 = await createFirmware({ resources: { 'rootfs.img': rootfs2, 'boot.cfg': boot, 'app.img': app2 }, meta: { product: 'delta', version: '2.0.0' }, privateKey: PRIVATE_KEY_A });
    const v1Path = join(t.dir, 'current.fw');
    writeFileSync(v1Path, v1);
    return { v1Path, v1, v2 };
  }

  it('small and large differences, an unchanged resource, a larger target: rebuilt = v2, verified', async () => {
    const { v1Path, v1, v2 } = await pair();
    const delta = await makeDeltaFirmware(v1, v2);
    expect(delta.length).toBeLessThan(v2.length / 2);
    const { out, error } = await rebuildAndVerify(delta, { archivePath: v1Path }, KEY_A);
    expect(error).toBeUndefined();
    expect(await resourcesOf(out)).toEqual(await resourcesOf(v2));
  });

  it('a patch whose output differs from the signed digest: NH_FW_DIGEST_MISMATCH, the resource is never released whole', async () => {
    const { v1Path, v1, v2 } = await pair();
    const wrong = new Uint8Array(rootfs2);
    wrong[200_000]! ^= 0xff; // same length, valid patch, valid Adler-32: only the signed BLAKE2b-256 can tell
    const delta = await makeDeltaFirmware(v1, v2, (name, patch) => (name === 'data/rootfs.img' ? xdelta3Encode(rootfs1, wrong) : patch));
    const { out, error } = await rebuildAndVerify(delta, { archivePath: v1Path }, KEY_A);
    expect(error).toMatchObject({ code: 'NH_FW_DIGEST_MISMATCH' });
    expect(Buffer.from(out).includes(Buffer.from(wrong.subarray(wrong.length - 64)))).toBe(false);
    expect(Buffer.from(out).includes(Buffer.from(wrong.subarray(0, 64)))).toBe(true); // streamed, up to the held-back end
  });

  it('a patch whose output has another length: NH_FW_LENGTH_MISMATCH or NH_DELTA_TOO_LARGE, nothing past the signed length', async () => {
    const { v1Path, v1, v2 } = await pair();
    const longer = new Uint8Array(Buffer.concat([rootfs2, new Uint8Array(10)]));
    const delta = await makeDeltaFirmware(v1, v2, (name, patch) => (name === 'data/rootfs.img' ? xdelta3Encode(rootfs1, longer) : patch));
    const { error } = await rebuildAndVerify(delta, { archivePath: v1Path }, KEY_A);
    expect(error).toMatchObject({ code: 'NH_DELTA_TOO_LARGE' });
    const shorter = rootfs2.subarray(0, rootfs2.length - 10);
    const delta2 = await makeDeltaFirmware(v1, v2, (name, patch) => (name === 'data/rootfs.img' ? xdelta3Encode(rootfs1, shorter) : patch));
    expect((await rebuildAndVerify(delta2, { archivePath: v1Path }, KEY_A)).error).toMatchObject({ code: 'NH_DELTA_MALFORMED' });
  });

  it('a truncated or corrupted patch inside a well-formed zip: a typed refusal', async () => {
    const { v1Path, v1, v2 } = await pair();
    const truncated = await makeDeltaFirmware(v1, v2, (name, patch) => (name === 'data/app.img' ? patch.subarray(0, patch.length - 100) : patch));
    expect((await rebuildAndVerify(truncated, { archivePath: v1Path }, KEY_A)).error).toMatchObject({ code: 'NH_DELTA_MALFORMED' });
    const corrupted = await makeDeltaFirmware(v1, v2, (name, patch) => {
      if (name !== 'data/app.img') return patch;
      const bad = patch.slice();
      bad[bad.length - 50]! ^= 0x55;
      return bad;
    });
    const { error } = await rebuildAndVerify(corrupted, { archivePath: v1Path }, KEY_A);
    expect(isNervesHubError(error) && /^NH_(DELTA|FW)_/.test(error.code)).toBe(true);
  });

  it('the archive source reads stored entries in place and deflated ones through a temp file that is removed', async () => {
    const { v1Path } = await pair();
    const scratch = tempDir();
    cleanups.push(scratch.remove);
    const file = (await openArchiveResource(v1Path, 'rootfs.img', scratch.dir))!;
    expect(file.size).toBe(rootfs1.length);
    expect(readdirSync(scratch.dir)).toHaveLength(1); // createFirmware deflates: inflated once, privately
    expect(Buffer.from(await file.read(123_000, 1000)).equals(rootfs1.subarray(123_000, 124_000))).toBe(true);
    await file.close?.();
    expect(readdirSync(scratch.dir)).toEqual([]);
    expect(await openArchiveResource(v1Path, 'missing.img')).toBeUndefined();
    await expect(openArchiveResource(join(v1Path, '..', 'nope.fw'), 'rootfs.img')).rejects.toMatchObject({ code: 'NH_DELTA_NO_SOURCE' });
  });

  it('memory stays bounded: the rebuilt stream is produced window by window', async () => {
    const { v1Path, v1, v2 } = await pair();
    const delta = await makeDeltaFirmware(v1, v2);
    const sizes: number[] = [];
    for await (const part of rebuildDeltaArchive(chunked(delta, 1000), { archivePath: v1Path })) sizes.push(part.length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(rootfs2.length); // one window (< 8 MiB) at most
    expect(await collect(rebuildDeltaArchive(chunked(delta, 1 << 20), { archivePath: v1Path }))).toBeInstanceOf(Uint8Array);
  });
});
