// Item 1 of issue 14: the verifier recognises delta resources in a signed archive, proves what can
// be proven without the old image, and accepts them only for an applier that proves the output.
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FirmwareVerifier } from '../../src/firmware/firmware-verifier.js';
import { createFirmware } from '../../src/testing/create-firmware.js';
import { DELTA_KEY, DELTA_PRIVATE_KEY, DELTA_RESULTS, deltaFixture } from './delta-fixtures.js';
import { hasXdelta3, makeServerDelta, unzipEntries, xdelta3Decode, zipLikeZip } from './server-delta.js';

const delta = new Uint8Array(readFileSync(deltaFixture('fw/delta-1-to-2.fw')));
const tampered = new Uint8Array(readFileSync(deltaFixture('fw/delta-1-to-2-tampered.fw')));
const fwupVerifier = new FirmwareVerifier({ publicKeys: [DELTA_KEY], allowDeltaResources: true, deltaTask: 'upgrade' });

async function* chunks(bytes: Uint8Array, size = 997): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.slice(i, i + size);
}

describe('delta firmware made by the server recipe from real fwup archives (test/fixtures/fwup-delta)', () => {
  it('is accepted for a delta-capable applier: signature and meta.conf proven, the delta resources named', async () => {
    expect(DELTA_RESULTS['delta-1-to-2.fw -V']!.stdout).toBe('Valid archive with a good signature\n');
    const result = await fwupVerifier.verify(deltaFixture('fw/delta-1-to-2.fw'));
    expect(result.valid).toBe(true);
    if (!result.valid) return;
    expect(result.metadata.version).toBe('2.0.2');
    expect(result.resources).toEqual([]);
    expect(result.deltaResources.map((d) => [d.name, d.archivePath, d.patchLength, d.targetLength])).toEqual([
      ['rootfs.bin', 'data/rootfs.bin', 6593, 69632],
      ['boot.cfg', 'data/boot.cfg', 41, 50],
    ]);
    expect(result.deltaResources[0]!.targetBlake2b256).toBe('a8d4400deddcef7268192d9671060e3c101b6c5d783edd704727214f583a30bb');
    expect(result.deltaResources[0]!.sources).toEqual([{ task: 'upgrade', kind: 'raw', offsetBlocks: 256, countBlocks: 136 }]);
  });

  it('passes the delta through unchanged, byte for byte', async () => {
    const out: Uint8Array[] = [];
    for await (const piece of fwupVerifier.passThrough(chunks(delta))) out.push(piece);
    expect(Buffer.compare(Buffer.concat(out), delta)).toBe(0);
  });

  it('accepts the tampered delta too, like fwup -V (its output is what fwup proves at apply)', async () => {
    expect(DELTA_RESULTS['delta-1-to-2-tampered.fw -V']!.exit).toBe(0);
    expect(DELTA_RESULTS['delta-1-to-2-tampered.fw apply upgrade on the v1 image']!.exit).toBe(1);
    expect((await fwupVerifier.verify(tampered)).valid).toBe(true);
  });

  it('refuses it for an applier that cannot take deltas: NH_FW_LENGTH_MISMATCH "delta firmware needs fwup or a delta source"', async () => {
    const plain = new FirmwareVerifier({ publicKeys: [DELTA_KEY] });
    const result = await plain.verify(delta);
    expect(result).toMatchObject({ valid: false, code: 'NH_FW_LENGTH_MISMATCH' });
    expect(!result.valid && result.message).toContain('delta firmware needs fwup or a delta source');
    expect(!result.valid && result.message).toContain('rootfs.bin');
    // …and the pass-through never yields the end of the patch
    const out: Uint8Array[] = [];
    await expect(async () => {
      for await (const piece of plain.passThrough(chunks(delta))) out.push(piece);
    }).rejects.toMatchObject({ code: 'NH_FW_LENGTH_MISMATCH' });
    expect(Buffer.concat(out).length).toBeLessThan(delta.length - 6593);
  });

  it('refuses it when the applier runs a task that declares no delta source (fwup: "xdelta3 patch support not enabled")', async () => {
    const recorded = DELTA_RESULTS['delta-1-to-2.fw apply complete (no delta source in that task)']!;
    expect(recorded.exit).toBe(1);
    const result = await new FirmwareVerifier({ publicKeys: [DELTA_KEY], allowDeltaResources: true, deltaTask: 'complete' }).verify(delta);
    expect(result).toMatchObject({ valid: false, code: 'NH_FW_LENGTH_MISMATCH' });
    // same words as fwup up to the reason
    expect(!result.valid && result.message).toContain("File 'rootfs.bin' isn't expected size (6593 vs 69632)");
    expect(recorded.stdout).toContain("File 'rootfs.bin' isn't expected size (6593 vs 69632)");
  });

  it('still refuses a delta signed by another key', async () => {
    const other = new FirmwareVerifier({ publicKeys: [readFileSync(new URL('../fixtures/fwup/keys/fwup-key.pub', import.meta.url), 'utf8')], allowDeltaResources: true });
    expect(await other.verify(delta)).toMatchObject({ valid: false, code: 'NH_FW_BAD_SIGNATURE' });
  });
});

describe('VCDIFF structure checks (what can be proven without the old image)', () => {
  async function withPatch(edit: (patch: Uint8Array) => Uint8Array): Promise<Uint8Array> {
    const entries = await unzipEntries(delta);
    return zipLikeZip(entries.map(([name, data]) => [name, name === 'data/rootfs.bin' ? edit(data) : data] as const));
  }
  const cases: Array<[string, (p: Uint8Array) => Uint8Array, RegExp]> = [
    ['secondary compression (VCD_DECOMPRESS)', (p) => Buffer.concat([p.subarray(0, 4), Buffer.from([0x01, 0x02]), p.subarray(5)]), /secondary compression/],
    ['a custom code table (VCD_CODETABLE)', (p) => Buffer.concat([p.subarray(0, 4), Buffer.from([0x02]), p.subarray(5)]), /code table/],
    ['a truncated patch', (p) => p.subarray(0, p.length - 100), /truncated VCDIFF window 1/],
    ['trailing bytes after the last window', (p) => Buffer.concat([p, Buffer.from([0x00])]), /truncated VCDIFF window 2/],
    ['a wrong magic', (p) => Buffer.concat([Buffer.from([0xd6, 0xc3, 0xc4, 0x01]), p.subarray(4)]), /no D6 C3 C4 00 magic/],
    // target window size 69632 (84 a0 00) → 69633 (84 a0 01): the output would not be the signed length
    ['a window larger than the signed length', (p) => { const q = Buffer.from(p); expect([...q.subarray(12, 15)]).toEqual([0x84, 0xa0, 0x00]); q[14] = 0x01; return q; }, /past the declared 69632 bytes/],
    ['window sections that do not add up', (p) => { const q = Buffer.from(p); q[16] = q[16]! + 1; return q; }, /do not add up/],
  ];
  it.each(cases)('refuses %s with NH_FW_BAD_DELTA', async (_what, edit, message) => {
    const result = await fwupVerifier.verify(await withPatch(edit));
    expect(result).toMatchObject({ valid: false, code: 'NH_FW_BAD_DELTA' });
    expect(!result.valid && result.message).toMatch(message);
  });

  it('refuses a source window that reads past the declared raw source range', async () => {
    const small = (await unzipEntries(delta)).map(([name, data]) => [name, data] as [string, Uint8Array]);
    // the signed meta.conf declares 136 blocks for rootfs.bin; the patch reads 65536 bytes of source: fine.
    // A source segment size of 69633+ would not fit: 0x84 0x80 0x00 (65536) → 0x84 0xa0 0x02 (69634)
    const patched = small.map(([name, data]) => {
      if (name !== 'data/rootfs.bin') return [name, data] as const;
      const q = Buffer.from(data);
      q[7] = 0xa0;
      q[8] = 0x02;
      return [name, q] as const;
    });
    const result = await fwupVerifier.verify(await zipLikeZip(patched));
    expect(result).toMatchObject({ valid: false, code: 'NH_FW_BAD_DELTA' });
    expect(!result.valid && result.message).toMatch(/past the declared 69632-byte source/);
  });
});

describe.skipIf(!hasXdelta3())('deltas of createFirmware pairs, made like the server (xdelta3 -A -S)', () => {
  const tasks = (withDelta: boolean) => [
    { name: 'complete', onResource: { 'rootfs.img': [['raw_write', 0]] as const, 'boot.cfg': [['raw_write', 4096]] as const } },
    {
      name: 'upgrade',
      onResource: { 'rootfs.img': [['raw_write', 8192]] as const, 'boot.cfg': [['raw_write', 4200]] as const },
      ...(withDelta ? { deltaSources: { 'rootfs.img': { rawOffset: 0, rawCount: 4096 }, 'boot.cfg': { fatOffset: 4096, fatPath: 'boot.cfg' } } } : {}),
    },
  ];
  const firmware = (rootfs: Uint8Array, boot: string, version: string, withDelta = true) =>
    createFirmware({
      resources: [['rootfs.img', rootfs], ['boot.cfg', new TextEncoder().encode(boot)]],
      meta: { product: 'delta-test', version, platform: 'x86_64', architecture: 'x86_64' },
      privateKey: DELTA_PRIVATE_KEY,
      tasks: tasks(withDelta),
    });
  const base = randomBytes(512 * 1024);
  const edits: Array<[string, Uint8Array]> = [
    ['small differences', (() => { const t = Buffer.from(base); for (let i = 0; i < 10; i++) t[i * 40_000] = t[i * 40_000]! ^ 0xff; return t; })()],
    ['large differences', Buffer.concat([randomBytes(300 * 1024), base.subarray(300 * 1024)])],
    ['a target larger than the source', Buffer.concat([base, randomBytes(100 * 1024)])],
  ];

  it.each(edits)('%s: accepted, every resource (also the unchanged boot.cfg) named as a delta that xdelta3 -d turns into the target', async (_what, rootfs2) => {
    const v1 = await firmware(base, 'boot=1', '1.0.0');
    const v2 = await firmware(rootfs2, 'boot=1', '1.0.1');
    const patch = await makeServerDelta(v1, v2);
    expect(patch.length).toBeLessThan(v2.length);
    const result = await fwupVerifier.verify(patch);
    expect(result.valid, JSON.stringify(result)).toBe(true);
    if (!result.valid) return;
    expect(result.deltaResources.map((d) => [d.name, d.targetLength])).toEqual([
      ['rootfs.img', rootfs2.length],
      ['boot.cfg', 6],
    ]);
    expect(result.deltaResources[1]!.sources).toEqual([{ task: 'upgrade', kind: 'fat', offsetBlocks: 4096, path: 'boot.cfg' }]);
    const rootfsPatch = (await unzipEntries(patch)).find(([n]) => n === 'data/rootfs.img')![1];
    expect(Buffer.compare(await xdelta3Decode(base, rootfsPatch), rootfs2)).toBe(0);
  });

  it('refuses a delta of firmware whose meta.conf declares no delta source', async () => {
    const patch = await makeServerDelta(await firmware(base, 'a', '1.0.0', false), await firmware(edits[0]![1], 'a', '1.0.1', false));
    const result = await fwupVerifier.verify(patch);
    expect(result).toMatchObject({ valid: false, code: 'NH_FW_LENGTH_MISMATCH' });
    expect(!result.valid && result.message).toMatch(/declares no delta source for it in a task 'upgrade…'/);
  });
});
