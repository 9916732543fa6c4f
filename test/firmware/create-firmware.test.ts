import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FirmwareVerifier } from '../../src/firmware/firmware-verifier.js';
import { createFirmware, writeFirmware, type CreateFirmwareOptions } from '../../src/testing/create-firmware.js';
import { KEY_A, PRIVATE_KEY_A, fixturePath } from './fwup-fixtures.js';

const resource = (name: string) => readFileSync(fixturePath(`resources/${name}`));
const FIXTURE_RESOURCES = { 'boot.cfg': resource('boot.cfg'), 'kernel.txt': resource('kernel.txt'), 'rootfs.bin': resource('rootfs.bin') };
const raw = (block: number) => [['raw_write', block] as const];
const FIXTURE_OPTIONS: CreateFirmwareOptions = {
  resources: FIXTURE_RESOURCES,
  meta: { product: 'fwup fixture', version: '0.1.0' },
  privateKey: PRIVATE_KEY_A,
  creationTimeSeconds: 1_700_000_000,
  tasks: [
    { name: 'complete', onInit: [['info', 'fixture: complete task starting']], onResource: { 'boot.cfg': raw(0), 'kernel.txt': raw(8), 'rootfs.bin': raw(16) } },
    { name: 'upgrade', onResource: { 'rootfs.bin': raw(16) } },
  ],
};
const verifier = new FirmwareVerifier({ publicKeys: [KEY_A] });
const fwupAvailable = spawnSync('fwup', ['--version'], { encoding: 'utf8' }).status === 0;
const work = mkdtempSync(join(tmpdir(), 'nhl-create-fw-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function localEntries(bytes: Uint8Array): Array<{ name: string; flags: number; method: number }> {
  const b = Buffer.from(bytes);
  const out = [];
  for (let at = 0; b.readUInt32LE(at) === 0x04034b50; ) {
    const nameLength = b.readUInt16LE(at + 26);
    const name = b.toString('utf8', at + 30, at + 30 + nameLength);
    out.push({ name, flags: b.readUInt16LE(at + 6), method: b.readUInt16LE(at + 8) });
    const next = b.indexOf(Buffer.from([0x50, 0x4b, 0x03, 0x04]), at + 30 + nameLength);
    if (next < 0) break;
    at = next;
  }
  return out;
}

describe('createFirmware', () => {
  it("writes meta.conf byte-identical to fwup's (same meta-uuid as the fwup-made fixtures)", async () => {
    const fw = await createFirmware(FIXTURE_OPTIONS);
    const result = await verifier.verify(fw);
    expect(result.valid && result.metadata).toEqual({
      uuid: '1004c0a7-a4e7-5094-9409-8ce6ffaa3993',
      product: 'fwup fixture',
      version: '0.1.0',
      creationDate: '2023-11-14T22:13:20Z',
    });
    const nerves = await createFirmware({
      ...FIXTURE_OPTIONS,
      meta: {
        product: 'nerves_fixture',
        description: 'Nerves fixture firmware for TypeScript tests',
        version: '1.2.3-rc.1',
        platform: 'rpi4',
        architecture: 'aarch64',
        author: 'The Nerves Team',
        vcsIdentifier: '0123456789abcdef0123456789abcdef01234567',
        misc: 'build=ci quote="q" backslash=\\ end',
        requireFwupVersion: '1.0.0',
      },
      tasks: [
        { name: 'complete', onResource: { 'boot.cfg': raw(0), 'kernel.txt': raw(8), 'rootfs.bin': raw(16) } },
        { name: 'upgrade.a', onResource: { 'rootfs.bin': raw(16) } },
      ],
    });
    const nervesResult = await verifier.verify(nerves);
    expect(nervesResult.valid && nervesResult.metadata.uuid).toBe('29701eec-d219-5769-ec32-5427ca1c74b3');
  });

  it('uses fwup entry order, a stored signature and data descriptors (or plain headers)', async () => {
    const fw = await createFirmware(FIXTURE_OPTIONS);
    expect(localEntries(fw)).toEqual([
      { name: 'meta.conf.ed25519', flags: 8, method: 0 },
      { name: 'meta.conf', flags: 8, method: 8 },
      { name: 'data/boot.cfg', flags: 8, method: 8 },
      { name: 'data/kernel.txt', flags: 8, method: 8 },
      { name: 'data/rootfs.bin', flags: 8, method: 8 },
    ]);
    const plain = await createFirmware({ ...FIXTURE_OPTIONS, dataDescriptors: false, compression: 0 });
    expect(localEntries(plain).map((e) => [e.flags, e.method])).toEqual(Array(5).fill([0, 0]));
    expect((await verifier.verify(plain)).valid).toBe(true);
    const unsigned = await createFirmware({ ...FIXTURE_OPTIONS, privateKey: undefined });
    expect(localEntries(unsigned)[0]!.name).toBe('meta.conf');
    expect(await verifier.verify(unsigned)).toMatchObject({ valid: false, code: 'NH_FW_UNSIGNED' });
  });

  for (const compression of [0, 1]) {
    it(`streams big resources from files to a path and verifies them from the path (compression ${compression})`, async () => {
      // Several MiB of incompressible data: spans many read buffers, which the verifier reuses.
      const size = 5 * 1024 * 1024 + 17;
      const payload = join(work, 'payload.bin');
      writeFileSync(payload, randomBytes(size));
      const out = join(work, `streamed-${compression}.fw`);
      await writeFirmware({ ...FIXTURE_OPTIONS, tasks: [], resources: [['rootfs.img', { path: payload }], ['/root.txt', new Uint8Array(3)]], compression }, out);
      const result = await verifier.verify(out);
      expect(result.valid && result.resources.map((r) => [r.name, r.length])).toEqual([
        ['rootfs.img', size],
        ['/root.txt', 3],
      ]);
      // Flip one payload byte in the middle: the path-based verify must catch it.
      const bytes = readFileSync(out);
      bytes[Math.floor(bytes.length / 2)]! ^= 0x40;
      writeFileSync(out, bytes);
      expect((await verifier.verify(out)).valid).toBe(false);
    });
  }

  it('refuses resource names fwup refuses', async () => {
    for (const name of ['/meta.conf', '/data', '/data/x', '']) {
      await expect(createFirmware({ ...FIXTURE_OPTIONS, resources: { [name]: new Uint8Array(1) } })).rejects.toThrow(expect.objectContaining({ code: 'NH_INVALID_OPTIONS' }));
    }
  });

  it.skipIf(!fwupAvailable)('real fwup accepts the archives (fwup -V -p key)', async () => {
    for (const [label, options] of [
      ['deflate+descriptors', FIXTURE_OPTIONS],
      ['stored, plain headers', { ...FIXTURE_OPTIONS, compression: 0, dataDescriptors: false }],
    ] as const) {
      const path = join(work, `${label.replace(/\W+/g, '-')}.fw`);
      writeFileSync(path, await createFirmware(options));
      const output = execFileSync('fwup', ['-V', '-p', fixturePath('keys/fwup-key.pub'), '-i', path], { encoding: 'utf8' });
      expect(output).toBe('Valid archive with a good signature\n');
    }
  });
});
