import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createBlake2b256 } from '../../src/firmware/blake2b.js';
import { FirmwareVerifier } from '../../src/firmware/firmware-verifier.js';
import { createFirmware } from '../../src/testing/create-firmware.js';
import { KEY_A, PRIVATE_KEY_A, chunked, iterate } from './fwup-fixtures.js';

/**
 * A stored entry with a data descriptor has no size up front: the parser finds its end by searching
 * for a descriptor signature whose CRC and sizes match. Resource data full of look-alike signatures
 * (bare, and whole fake descriptors) must neither end the entry early nor be missed, whatever the
 * chunking.
 */
describe('stored entries with data descriptors', () => {
  it('data holding descriptor look-alikes verifies exactly, in any chunking', async () => {
    const data = randomBytes(3 * 1024 * 1024);
    const fake = Buffer.alloc(16);
    fake.writeUInt32LE(0x08074b50, 0);
    for (const at of [0, 1, 16_383, 16_384, 65_530, 1_048_575, data.length - 40]) {
      fake.writeUInt32LE(at, 8); // wrong sizes and CRC: only a look-alike
      fake.copy(data, at);
    }
    const archive = await createFirmware({ resources: { 'rootfs.img': data }, meta: { product: 'fixture', version: '1.0.0' }, privateKey: PRIVATE_KEY_A, compression: 0, dataDescriptors: true });
    const hasher = await createBlake2b256();
    hasher.update(data);
    const expected = hasher.digestHex();
    for (const size of [7, 4096, 16_384, 1 << 20]) {
      const result = await new FirmwareVerifier({ publicKeys: [KEY_A] }).verify(iterate(chunked(archive, size)));
      expect(result.valid, `chunks of ${size}`).toBe(true);
      if (result.valid) expect(result.resources[0]).toMatchObject({ name: 'rootfs.img', length: data.length, blake2b256: expected });
    }
  });
});
