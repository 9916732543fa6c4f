import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, deflateRawSync } from 'node:zlib';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { FirmwareVerifier } from '../../src/firmware/firmware-verifier.js';
import { IncrementalInflater } from '../../src/firmware/inflater.js';
import { ReusingInflater } from '../../src/firmware/reusing-inflater.js';
import { FirmwareVerificationError } from '../../src/firmware/verification-error.js';
import { createFirmware } from '../../src/testing/create-firmware.js';
import { KEY_A, PRIVATE_KEY_A, chunked, iterate } from './fwup-fixtures.js';

// Archives deflated the way `fwup -c` writes them (level 9, data descriptors, compressed size 0 in
// the local header, so the parser must inflate to find each entry's end), fed the way the network
// delivers them (16 KiB chunks) and the way files are read.

const verifier = new FirmwareVerifier({ publicKeys: [KEY_A] });
const work = mkdtempSync(join(tmpdir(), 'nhl-deflated-'));
const MiB = 1024 * 1024;

afterAll(() => rmSync(work, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

/** 3 MiB + a bit: half random (stored deflate blocks, like squashfs), half compressible text. */
function payload(): Uint8Array {
  const text = Buffer.from('nerves firmware line of compressible text\n'.repeat(40_000)).subarray(0, 1.5 * MiB + 123);
  return new Uint8Array(Buffer.concat([randomBytes(1.5 * MiB), text]));
}

async function build(resource: Uint8Array): Promise<Uint8Array> {
  return createFirmware({
    resources: [['rootfs.img', resource]],
    meta: { product: 'deflated', version: '1.0.0' },
    privateKey: PRIVATE_KEY_A,
    compression: 9,
    creationTimeSeconds: 1_700_000_000,
  });
}

/** Offset of the first byte of `name`'s data (after its local header). */
function entryDataOffset(archive: Uint8Array, name: string): number {
  const view = Buffer.from(archive.buffer, archive.byteOffset, archive.length);
  let at = view.indexOf(Buffer.from(name));
  while (at >= 0) {
    const header = at - 30;
    if (header >= 0 && view.readUInt32LE(header) === 0x04034b50 && view.readUInt16LE(header + 26) === name.length) {
      return at + name.length + view.readUInt16LE(header + 28);
    }
    at = view.indexOf(Buffer.from(name), at + 1);
  }
  throw new Error(`no local header for ${name}`);
}

async function passThroughAll(archive: Uint8Array, chunkSize: number): Promise<{ out: Buffer; error: unknown }> {
  const received: Buffer[] = [];
  let error: unknown;
  try {
    for await (const part of verifier.passThrough(iterate(chunked(archive, chunkSize)))) received.push(Buffer.from(part));
  } catch (e) {
    error = e;
  }
  return { out: Buffer.concat(received), error };
}

describe('deflated archives (fwup -c style)', () => {
  it('verifies from a path, from 16 KiB chunks and through passThrough (same bytes out)', async () => {
    const archive = await build(payload());
    const path = join(work, 'valid.fw');
    writeFileSync(path, archive);
    const fromPath = await verifier.verify(path);
    expect(fromPath).toMatchObject({ valid: true, metadata: { product: 'deflated' } });
    expect(await verifier.verify(iterate(chunked(archive, 16 * 1024)))).toMatchObject({ valid: true });
    expect(await verifier.verify(iterate(chunked(archive, 1000)))).toMatchObject({ valid: true });
    const { out, error } = await passThroughAll(archive, 16 * 1024);
    expect(error).toBeUndefined();
    expect(out.equals(archive)).toBe(true);
  });

  it('feeds zlib in large batches, not one thread-pool round trip per 16 KiB network chunk', async () => {
    const archive = await build(payload());
    // passThrough (a download) and verify() both inflate into one reused buffer (zlib's stream API
    // stays for sinks that keep chunks, like the delta rebuild).
    const streamWrites = vi.spyOn(IncrementalInflater.prototype, 'write');
    const reusingWrites = vi.spyOn(ReusingInflater.prototype, 'write');
    const { error } = await passThroughAll(archive, 16 * 1024);
    expect(error).toBeUndefined();
    // ~3 MiB of compressed input arrives in ~190 chunks; batched it is a handful of zlib writes.
    expect(reusingWrites.mock.calls.length).toBeGreaterThan(0);
    expect(reusingWrites.mock.calls.length).toBeLessThanOrEqual(12);
    const afterPassThrough = reusingWrites.mock.calls.length;
    expect(await verifier.verify(iterate(chunked(archive, 16 * 1024)))).toMatchObject({ valid: true });
    expect(reusingWrites.mock.calls.length - afterPassThrough).toBeGreaterThan(0);
    expect(reusingWrites.mock.calls.length - afterPassThrough).toBeLessThanOrEqual(12);
    expect(streamWrites).not.toHaveBeenCalled();
  });

  it('rejects a flipped byte inside the compressed resource, and never passes the whole archive on', async () => {
    const archive = await build(payload());
    const start = entryDataOffset(archive, 'data/rootfs.img');
    // In the first batch, in a later one (random part: stored deflate blocks), in the Huffman-coded text.
    for (const delta of [100, MiB + 100, archive.length - start - 400]) {
      const bad = new Uint8Array(archive);
      bad[start + delta] = bad[start + delta]! ^ 0x01;
      const result = await verifier.verify(iterate(chunked(bad, 16 * 1024)));
      expect(result.valid).toBe(false);
      expect(result).toMatchObject({ code: expect.stringMatching(/^NH_FW_(MALFORMED|DIGEST_MISMATCH|LENGTH_MISMATCH)$/) });
      const { out, error } = await passThroughAll(bad, 16 * 1024);
      expect(error).toBeInstanceOf(FirmwareVerificationError);
      expect(out.length).toBeLessThan(bad.length);
      expect(out.equals(Buffer.from(bad.subarray(0, out.length)))).toBe(true);
    }
  });

  it('rejects a corrupt deflate stream (reserved block type) as a decompression failure', async () => {
    const archive = await build(payload());
    const bad = new Uint8Array(archive);
    // First block header: BFINAL=1, BTYPE=11 (reserved): zlib's "invalid block type" (Z_DATA_ERROR).
    bad[entryDataOffset(bad, 'data/rootfs.img')] = 0x07;
    for (const input of [iterate(chunked(bad, 16 * 1024)), iterate([bad])]) {
      expect(await verifier.verify(input)).toEqual({ valid: false, code: 'NH_FW_MALFORMED', message: 'ZIP decompression failed (-3)' });
    }
    const { out, error } = await passThroughAll(bad, 16 * 1024);
    expect(error).toMatchObject({ code: 'NH_FW_MALFORMED' });
    expect(out.length).toBeLessThanOrEqual(entryDataOffset(bad, 'data/rootfs.img'));
  });

  it('stops inflating a deflate bomb at the declared length (input read and output bounded)', async () => {
    // meta.conf declares rootfs.img as 1 MiB; the entry inflates to 8 GiB of zeros from ~8 MiB.
    const archive = await build(new Uint8Array(MiB));
    const start = entryDataOffset(archive, 'data/rootfs.img');
    // A full flush ends byte-aligned and resets the window, so the same piece can be repeated.
    const piece = deflateRawSync(Buffer.alloc(MiB), { level: 9, finishFlush: constants.Z_FULL_FLUSH });
    const pieces = Math.ceil((8 * MiB) / piece.length);
    const bomb = Buffer.concat([
      archive.subarray(0, start),
      ...Array.from({ length: pieces }, () => piece),
      deflateRawSync(Buffer.alloc(0)),
      Buffer.from('504b0708000000000000000000000000', 'hex'),
    ]);
    let fed = 0;
    async function* counted(): AsyncGenerator<Uint8Array> {
      for (const chunk of chunked(bomb, 16 * 1024)) {
        fed += chunk.length;
        yield chunk;
      }
    }
    const writes = vi.spyOn(ReusingInflater.prototype, 'write');
    const started = Date.now();
    const result = await verifier.verify(counted());
    expect(result).toEqual({ valid: false, code: 'NH_FW_LENGTH_MISMATCH', message: 'ZIP data length mismatch for rootfs.img' });
    // Refused after about one input batch: neither the 8 MiB of input nor 8 GiB of output.
    expect(fed).toBeLessThan(3 * MiB);
    expect(writes.mock.calls.length).toBeGreaterThan(0);
    expect(writes.mock.calls.length).toBeLessThanOrEqual(3);
    expect(Date.now() - started).toBeLessThan(5_000);
    const { out, error } = await passThroughAll(bomb, 16 * 1024);
    expect(error).toMatchObject({ code: 'NH_FW_LENGTH_MISMATCH' });
    expect(out.length).toBeLessThan(start);
  });
});
