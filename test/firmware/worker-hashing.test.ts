import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createBlake2b256 } from '../../src/firmware/blake2b.js';
import { loadBlake2bSimdModule } from '../../src/firmware/blake2b-simd.js';
import { Blake2bWorkerError, Blake2bWorkerHasher } from '../../src/firmware/blake2b-worker.js';
import { FirmwareVerifier } from '../../src/firmware/firmware-verifier.js';
import { createFirmware } from '../../src/testing/create-firmware.js';
import { FIRMWARE_FILES, KEY_A, KEY_B, PRIVATE_KEY_A, chunked, fixturePath, iterate } from './fwup-fixtures.js';

async function worker(): Promise<Blake2bWorkerHasher> {
  const module = await loadBlake2bSimdModule();
  if (module === undefined) throw new Error('this runtime has no SIMD WebAssembly');
  return new Blake2bWorkerHasher(module);
}

async function mainThreadHex(...parts: Uint8Array[]): Promise<string> {
  const hasher = await createBlake2b256();
  for (const part of parts) hasher.update(part);
  return hasher.digestHex();
}

describe('BLAKE2b on a worker thread', () => {
  it('gives the digests of the main-thread hasher, resource after resource, across ring wrap-arounds', async () => {
    const hasher = await worker();
    try {
      // Sizes around the 1 MiB record and 4 MiB ring limits, odd lengths, and an empty resource.
      const resources = [randomBytes(3 * 1024 * 1024 + 13), randomBytes(0), randomBytes(1), randomBytes(5 * 1024 * 1024 + 7), randomBytes(65_537)];
      for (const bytes of resources) {
        for (const piece of chunked(bytes, 777_777)) hasher.update(piece);
        expect(await hasher.digestHex()).toBe(await mainThreadHex(bytes));
      }
    } finally {
      hasher.close();
    }
  });

  it('copies on update: the caller may overwrite its buffer at once (the reused inflate buffer does)', async () => {
    const hasher = await worker();
    try {
      const original = randomBytes(2 * 1024 * 1024);
      const buffer = Buffer.from(original);
      hasher.update(buffer);
      buffer.fill(0);
      expect(await hasher.digestHex()).toBe(await mainThreadHex(original));
    } finally {
      hasher.close();
    }
  });

  it('fails closed once the worker is gone: updates throw and digests reject', async () => {
    const hasher = await worker();
    hasher.update(randomBytes(1024));
    hasher.close();
    expect(() => hasher.update(randomBytes(8 * 1024 * 1024))).toThrow(Blake2bWorkerError);
    await expect(hasher.digestHex()).rejects.toBeInstanceOf(Blake2bWorkerError);
    await expect(hasher.digestHex()).rejects.toMatchObject({ code: 'NH_VERIFY_WORKER_FAILED' });
  });
});

describe('FirmwareVerifier with worker hashing', () => {
  for (const fixture of FIRMWARE_FILES) {
    it(`${fixture}: the same result with every resource hashed on the worker as on the calling thread`, async () => {
      for (const key of [KEY_A, KEY_B]) {
        const onWorker = await new FirmwareVerifier({ publicKeys: [key], workerHashingMinBytes: 0 }).verify(fixturePath(`fw/${fixture}`));
        const onThread = await new FirmwareVerifier({ publicKeys: [key], workerHashingMinBytes: Infinity }).verify(fixturePath(`fw/${fixture}`));
        expect(onWorker).toEqual(onThread);
      }
    });
  }

  for (const fixture of FIRMWARE_FILES) {
    it(`${fixture}: passThrough with workerHashingInPassThrough yields and refuses exactly as on the calling thread`, async () => {
      const bytes = new Uint8Array(readFileSync(fixturePath(`fw/${fixture}`)));
      const run = async (onWorker: boolean): Promise<{ out: number; error?: string }> => {
        const verifier = new FirmwareVerifier({ publicKeys: [KEY_A], workerHashingMinBytes: onWorker ? 0 : Infinity, workerHashingInPassThrough: onWorker });
        let out = 0;
        try {
          for await (const chunk of verifier.passThrough(iterate(chunked(bytes, 4096)))) out += chunk.length;
          return { out };
        } catch (error) {
          return { out, error: (error as { code?: string }).code ?? String(error) };
        }
      };
      expect(await run(true)).toEqual(await run(false));
    });
  }

  it('a large resource (over the 16 MiB default) verifies on the worker; a changed byte of it is caught by its digest', async () => {
    const rootfs = randomBytes(20 * 1024 * 1024);
    const good = await createFirmware({ resources: { 'rootfs.img': rootfs }, meta: { product: 'fixture', version: '1.0.0' }, privateKey: PRIVATE_KEY_A, compression: 0 });
    const verifier = new FirmwareVerifier({ publicKeys: [KEY_A] });
    const result = await verifier.verify(iterate(chunked(good, 1024 * 1024)));
    expect(result.valid).toBe(true);
    if (result.valid) expect(result.resources[0]!.blake2b256).toBe(await mainThreadHex(rootfs));
    // From a file path (the worker is started before meta.conf is read): the same result.
    const dir = mkdtempSync(join(tmpdir(), 'nhl-worker-'));
    try {
      writeFileSync(join(dir, 'big.fw'), good);
      expect(await verifier.verify(join(dir, 'big.fw'))).toEqual(result);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    // Same archive, one resource byte changed and the zip CRC fixed up: only BLAKE2b can tell.
    const other = Buffer.from(rootfs);
    other[12345678] = (other[12345678] ?? 0) ^ 0x40;
    const forged = await createFirmware({ resources: { 'rootfs.img': other }, meta: { product: 'fixture', version: '1.0.0' }, privateKey: PRIVATE_KEY_A, compression: 0 });
    const swapped = Buffer.from(good);
    // The resource's bytes and CRC come from the forged archive; meta.conf (and its signature) from the good one.
    const at = swapped.indexOf(rootfs.subarray(0, 64));
    expect(at).toBeGreaterThan(0);
    Buffer.from(forged).copy(swapped, at, at, at + rootfs.length + 16);
    const bad = await verifier.verify(iterate(chunked(swapped, 1024 * 1024)));
    expect(bad).toMatchObject({ valid: false, code: 'NH_FW_DIGEST_MISMATCH' });
  });
});
