import { describe, expect, it } from 'vitest';
import { FirmwareVerifier } from '../../src/firmware/firmware-verifier.js';
import { readFirmwareMetadata } from '../../src/firmware/read-firmware-metadata.js';
import { createFirmware, createFwupKeyPair } from '../../src/testing/index.js';

describe('createFwupKeyPair', () => {
  it("gives fwup's formats: a 32-byte public key and a 64-byte private key (seed, then public key), in base64", () => {
    const keys = createFwupKeyPair();
    const pub = Buffer.from(keys.publicKey, 'base64');
    const priv = Buffer.from(keys.privateKey, 'base64');
    expect(pub).toHaveLength(32);
    expect(priv).toHaveLength(64);
    expect(priv.subarray(32).equals(pub)).toBe(true);
    expect(createFwupKeyPair().publicKey).not.toBe(keys.publicKey);
  });

  it('signs firmware that the verifier accepts with its public key, and only with it', async () => {
    const keys = createFwupKeyPair();
    const firmware = await createFirmware({ resources: { 'rootfs.img': new Uint8Array(1000).fill(3) }, meta: { product: 'p', version: '1.0.1' }, privateKey: keys.privateKey });
    expect((await new FirmwareVerifier({ publicKeys: [keys.publicKey] }).verify(firmware)).valid).toBe(true);
    expect((await new FirmwareVerifier({ publicKeys: [createFwupKeyPair().publicKey] }).verify(firmware)).valid).toBe(false);
  });
});

describe('createFirmware', () => {
  it("carries the archive's uuid, and is still plain bytes for callers", async () => {
    const firmware = await createFirmware({ resources: { 'a.img': new TextEncoder().encode('a') }, meta: { product: 'p', version: '2.0.0' } });
    const read = await readFirmwareMetadata(firmware);
    expect(firmware.uuid).toBe(read.uuid);
    expect(firmware.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(read).toMatchObject({ product: 'p', version: '2.0.0' });
    expect(firmware).toBeInstanceOf(Uint8Array);
    expect(Object.keys(firmware).every((k) => /^\d+$/.test(k))).toBe(true);
    expect(firmware).toEqual(new Uint8Array(firmware));
  });

  it('still builds (with its uuid) an archive whose meta.conf is wrong on purpose', async () => {
    const firmware = await createFirmware({
      resources: { 'a.img': new Uint8Array(4) },
      meta: { product: 'p' },
      tasks: [{ name: 'complete', onResource: { 'ghost.img': [['raw_write', 0]] } }],
    });
    expect(firmware.uuid).toMatch(/^[0-9a-f-]{36}$/);
    await expect(readFirmwareMetadata(firmware)).rejects.toThrow(/ghost\.img/);
  });
});
