import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FirmwareVerifier } from '../../src/firmware/firmware-verifier.js';
import { formatFwupMetadata } from '../../src/firmware/firmware-metadata.js';
import { readFirmwareMetadata } from '../../src/firmware/read-firmware-metadata.js';
import { FirmwareVerificationError } from '../../src/firmware/verification-error.js';
import {
  FIRMWARE_FILES,
  KEY_A,
  KEY_B,
  codeForFwupMessage,
  expectedVerdict,
  fixturePath,
  fwupError,
  fwupMetadataWithoutNickname,
  recorded,
} from './fwup-fixtures.js';

describe('verdicts match real fwup 1.16 on every fixture', () => {
  it('has the recorded fixtures', () => {
    expect(FIRMWARE_FILES.length).toBeGreaterThanOrEqual(13);
  });

  for (const fixture of FIRMWARE_FILES) {
    it(`${fixture} with the right key: stricter of fwup -V / -a`, async () => {
      const expected = expectedVerdict(fixture, 'verify_with_key', 'apply_with_key');
      const result = await new FirmwareVerifier({ publicKeys: [KEY_A] }).verify(fixturePath(`fw/${fixture}`));
      if (!expected) {
        expect(result.valid).toBe(true);
        if (!result.valid) return;
        const meta = recorded(fixture, 'metadata_with_key');
        expect(formatFwupMetadata(result.metadata)).toBe(fwupMetadataWithoutNickname(meta));
        expect(result.resources.map((r) => r.name)).toEqual(['boot.cfg', 'kernel.txt', 'rootfs.bin']);
      } else {
        expect(result).toEqual({ valid: false, code: expected.code, message: expected.message });
      }
    });

    it(`${fixture} with the other key matches fwup -V -p other-key`, async () => {
      const expected = expectedVerdict(fixture, 'verify_with_other_key');
      const result = await new FirmwareVerifier({ publicKeys: [KEY_B] }).verify(fixturePath(`fw/${fixture}`));
      if (!expected) expect(result.valid).toBe(true);
      else expect(result).toEqual({ valid: false, code: expected.code, message: expected.message });
    });

    it(`${fixture}: metadata like fwup -m -p key (signature + meta.conf only)`, async () => {
      const run = recorded(fixture, 'metadata_with_key');
      const reading = readFirmwareMetadata(fixturePath(`fw/${fixture}`), { publicKeys: [KEY_A] });
      if (run.exit_code === 0) {
        expect(formatFwupMetadata(await reading)).toBe(fwupMetadataWithoutNickname(run));
      } else {
        const error = await reading.then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(FirmwareVerificationError);
        expect((error as FirmwareVerificationError).message).toBe(fwupError(run));
        expect((error as FirmwareVerificationError).code).toBe(codeForFwupMessage(fwupError(run)));
      }
    });
  }

  it('extra-unlisted-entry: fwup -a accepts but -V refuses, so the stricter verdict is invalid', async () => {
    expect(recorded('extra-unlisted-entry.fw', 'apply_with_key').exit_code).toBe(0);
    const result = await new FirmwareVerifier({ publicKeys: [KEY_A] }).verify(fixturePath('fw/extra-unlisted-entry.fw'));
    expect(result).toMatchObject({ valid: false, code: 'NH_FW_UNEXPECTED_ENTRY' });
  });

  it('reports resource digests matching the README reference values', async () => {
    const result = await new FirmwareVerifier({ publicKeys: [KEY_A] }).verify(fixturePath('fw/signed.fw'));
    expect(result.valid && result.resources).toEqual([
      { name: 'boot.cfg', archivePath: 'data/boot.cfg', length: 41, blake2b256: 'eb5578d61dee3145617b40f06a626b7c4cc45f41eb0a7b34682d75a53b721a3d' },
      { name: 'kernel.txt', archivePath: 'data/kernel.txt', length: 1464, blake2b256: '5e28f079e001b1cfc0b5e91af99bf305b4c7b86449765e6aac7a7e38f3efdb99' },
      { name: 'rootfs.bin', archivePath: 'data/rootfs.bin', length: 3000, blake2b256: '1f7691ce2ecb1e6ac43f96a9545773cadd2b546052370033633a2eb3b62b8781' },
    ]);
  });

  it('without keys it fails closed (NH_FW_NO_KEYS) even where fwup -V without a key accepts', async () => {
    expect(recorded('unsigned.fw', 'verify_no_key').exit_code).toBe(0);
    for (const fixture of ['unsigned.fw', 'signed.fw']) {
      const result = await new FirmwareVerifier({ publicKeys: [] }).verify(fixturePath(`fw/${fixture}`));
      expect(result).toMatchObject({ valid: false, code: 'NH_FW_NO_KEYS' });
    }
  });

  it('metadata without keys reads unsigned archives like fwup -m without -p', async () => {
    const bytes = readFileSync(fixturePath('fw/unsigned.fw'));
    const metadata = await readFirmwareMetadata(bytes);
    expect(metadata.uuid).toBe('1004c0a7-a4e7-5094-9409-8ce6ffaa3993');
  });
});
