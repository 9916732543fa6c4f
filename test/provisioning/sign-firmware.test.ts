import { copyFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FirmwareVerifier } from '../../src/firmware/firmware-verifier.js';
import { generateFwupKeyPair, signFirmware } from '../../src/provisioning/index.js';
import { createFirmware } from '../../src/testing/create-firmware.js';
import { FWUP, cli, copyKey, tempDir } from './helpers.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));
function dir(): string {
  const t = tempDir('nhl-sign-');
  cleanups.push(t.cleanup);
  return t.dir;
}

const fw = (name: string): string => join(FWUP, 'fw', name);
const KEY_A_PRIV = readFileSync(join(FWUP, 'keys', 'fwup-key.priv'), 'utf8');
const KEY_A_PUB = readFileSync(join(FWUP, 'keys', 'fwup-key.pub'), 'utf8');
const KEY_B_PUB = readFileSync(join(FWUP, 'keys', 'other-key.pub'), 'utf8');
/** The signature entry's data in an fwup archive: after the 30-byte header, the 17-byte name and 20 bytes of extra fields. */
const signatureOf = (archive: Uint8Array): Buffer => Buffer.from(archive).subarray(67, 67 + 64);

describe('signFirmware reproduces fwup -S', () => {
  it('unsigned.fw signed with the fwup -g fixture key is byte for byte fw/signed-after-create.fw (what fwup -S wrote)', async () => {
    const out = join(dir(), 'out.fw');
    const result = await signFirmware({ input: fw('unsigned.fw'), output: out, privateKey: KEY_A_PRIV });
    expect(result).toMatchObject({ publicKey: KEY_A_PUB, replacedSignature: false, size: 4418 });
    const expected = readFileSync(fw('signed-after-create.fw'));
    const actual = readFileSync(out);
    expect(signatureOf(actual).equals(signatureOf(expected))).toBe(true);
    expect(actual.equals(expected)).toBe(true);
  });

  it('re-signing replaces the old signature: signed-other-key.fw → signed.fw, nerves-meta.fw → itself', async () => {
    const d = dir();
    const r = await signFirmware({ input: fw('signed-other-key.fw'), output: join(d, 'a.fw'), privateKey: KEY_A_PRIV });
    expect(r.replacedSignature).toBe(true);
    expect(readFileSync(join(d, 'a.fw')).equals(readFileSync(fw('signed.fw')))).toBe(true);
    await signFirmware({ input: fw('nerves-meta.fw'), output: join(d, 'b.fw'), privateKey: KEY_A_PRIV });
    expect(readFileSync(join(d, 'b.fw')).equals(readFileSync(fw('nerves-meta.fw')))).toBe(true);
  });

  it('a key of ours signs: the result verifies with its public key only, and keeps the firmware uuid', async () => {
    const d = dir();
    const keys = generateFwupKeyPair();
    const out = join(d, 'ours.fw');
    await signFirmware({ input: fw('signed.fw'), output: out, privateKey: keys.privateKey });
    const ok = await new FirmwareVerifier({ publicKeys: [keys.publicKey] }).verify(out);
    expect(ok).toMatchObject({ valid: true, metadata: { uuid: '1004c0a7-a4e7-5094-9409-8ce6ffaa3993' } });
    expect(await new FirmwareVerifier({ publicKeys: [KEY_A_PUB, KEY_B_PUB] }).verify(out)).toMatchObject({ valid: false, code: 'NH_FW_BAD_SIGNATURE' });
  });

  it('signs createFirmware archives of every zip flavour (descriptors or not, stored or deflated), in place', async () => {
    const d = dir();
    const keys = generateFwupKeyPair();
    const other = generateFwupKeyPair();
    for (const [compression, dataDescriptors] of [[9, true], [0, true], [6, false], [0, false]] as const) {
      const path = join(d, `c${compression}-${dataDescriptors}.fw`);
      const resources = { 'rootfs.img': new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff), '/extra.bin': new Uint8Array([1, 2, 3]) };
      writeFileSync(path, await createFirmware({ resources, meta: { product: 'p', version: '1.0.0' }, compression, dataDescriptors, privateKey: other.privateKey }));
      await signFirmware({ input: path, output: path, privateKey: keys.privateKey });
      expect(await new FirmwareVerifier({ publicKeys: [keys.publicKey] }).verify(path), `${compression}/${dataDescriptors}`).toMatchObject({ valid: true });
    }
    expect(readdirSync(d).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it.each([
    ['tampered-resource-byte.fw', /ZIP bad CRC/],
    ['tampered-resource-crc-ok.fw', /blake2b digest mismatch.*NH_FW_DIGEST_MISMATCH/],
    ['truncated-zip.fw', /corrupt/],
    ['missing-resource.fw', /not found in archive/],
    ['extra-unlisted-entry.fw', /Can't find file-resource/],
    ['signature-after-meta-conf.fw', /meta\.conf\.ed25519/],
  ])('refuses the corrupt %s, writes nothing and leaves the input untouched (also in place)', async (name, reason) => {
    const d = dir();
    const copy = join(d, name);
    copyFileSync(fw(name), copy);
    const original = readFileSync(copy);
    await expect(signFirmware({ input: copy, output: join(d, 'out.fw'), privateKey: KEY_A_PRIV })).rejects.toMatchObject({ code: 'NH_PROV_ARCHIVE_INVALID', message: expect.stringMatching(reason) });
    await expect(signFirmware({ input: copy, output: copy, privateKey: KEY_A_PRIV })).rejects.toMatchObject({ code: 'NH_PROV_ARCHIVE_INVALID' });
    expect(existsSync(join(d, 'out.fw'))).toBe(false);
    expect(readFileSync(copy).equals(original)).toBe(true);
    expect(readdirSync(d)).toEqual([name]);
  });

  it('replaces a broken old signature (truncated-signature.fw): the signature is not part of what is signed', async () => {
    const out = join(dir(), 'fixed.fw');
    await signFirmware({ input: fw('truncated-signature.fw'), output: out, privateKey: KEY_A_PRIV });
    expect(await new FirmwareVerifier({ publicKeys: [KEY_A_PUB] }).verify(out)).toMatchObject({ valid: true });
    expect(signatureOf(readFileSync(out)).equals(signatureOf(readFileSync(fw('signed.fw'))))).toBe(true);
  });

  it('refuses what is not an fwup archive and a public key as the signing key', async () => {
    const d = dir();
    writeFileSync(join(d, 'junk.fw'), 'not a zip at all');
    await expect(signFirmware({ input: join(d, 'junk.fw'), output: join(d, 'o.fw'), privateKey: KEY_A_PRIV })).rejects.toMatchObject({ code: 'NH_PROV_ARCHIVE_INVALID' });
    await expect(signFirmware({ input: fw('unsigned.fw'), output: join(d, 'o.fw'), privateKey: KEY_A_PUB })).rejects.toMatchObject({ code: 'NH_PROV_KEY_INVALID', message: expect.stringMatching(/public key/) });
    expect(existsSync(join(d, 'o.fw'))).toBe(false);
  });

  it('stops on abort and leaves no temporary file', async () => {
    const d = dir();
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(signFirmware({ input: fw('unsigned.fw'), output: join(d, 'o.fw'), privateKey: KEY_A_PRIV, signal: controller.signal })).rejects.toThrow('stop');
    expect(readdirSync(d)).toEqual([]);
  });
});

describe('nerves-hub-link firmware sign', () => {
  it('signs with -o, refuses a public key, a 0644 private key and a corrupt archive (exit 1, nothing written)', async () => {
    const d = dir();
    copyFileSync(fw('unsigned.fw'), join(d, 'app.fw'));
    copyFileSync(fw('tampered-resource-crc-ok.fw'), join(d, 'bad.fw'));
    copyKey('fwup-key.priv', d);
    copyKey('fwup-key.pub', d, 0o644);
    const ok = await cli(['firmware', 'sign', 'app.fw', '--key', 'fwup-key.priv', '-o', 'signed.fw'], { cwd: d });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`Devices must trust public key ${KEY_A_PUB}`);
    expect(readFileSync(join(d, 'signed.fw')).equals(readFileSync(fw('signed-after-create.fw')))).toBe(true);
    expect((await cli(['verify', 'signed.fw', '-p', 'fwup-key.pub'], { cwd: d })).code).toBe(0);

    const pub = await cli(['firmware', 'sign', 'app.fw', '--key', 'fwup-key.pub', '-o', 'x.fw'], { cwd: d });
    expect(pub.code).toBe(1);
    expect(pub.stderr).toMatch(/public key.*NH_PROV_KEY_INVALID/);
    copyKey('other-key.priv', d, 0o644);
    const open = await cli(['firmware', 'sign', 'app.fw', '--key', 'other-key.priv', '-o', 'x.fw'], { cwd: d });
    expect(open.code).toBe(1);
    expect(open.stderr).toMatch(/readable by others \(mode 0644\): run 'chmod 600 other-key.priv'.*NH_PROV_KEY_PERMISSIONS/);
    const bad = await cli(['firmware', 'sign', 'bad.fw', '--key', 'fwup-key.priv'], { cwd: d });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/NH_PROV_ARCHIVE_INVALID/);
    expect(readFileSync(join(d, 'bad.fw')).equals(readFileSync(fw('tampered-resource-crc-ok.fw')))).toBe(true);
    expect(existsSync(join(d, 'x.fw'))).toBe(false);
    expect((await cli(['firmware', 'sign', 'app.fw'], { cwd: d })).code).toBe(2);
  });
});
