import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FirmwareVerifier } from '../../src/firmware/firmware-verifier.js';
import { createFirmware } from '../../src/testing/create-firmware.js';
import { KEY_A, PRIVATE_KEY_A, chunked, iterate } from './fwup-fixtures.js';

const verifier = new FirmwareVerifier({ publicKeys: [KEY_A] });
const SEED = 20261127;

interface ZipRecord {
  start: number;
  end: number;
}

/** Byte ranges of each local entry (header + data + descriptor) and of the central directory. */
function layout(bytes: Uint8Array): { entries: ZipRecord[]; cdStart: number; ignorable: Set<number> } {
  const view = Buffer.from(bytes);
  const eocd = view.length - 22;
  const cdStart = view.readUInt32LE(eocd + 16);
  const count = view.readUInt16LE(eocd + 10);
  const offsets: number[] = [];
  const ignorable = new Set<number>();
  for (let i = 0, at = cdStart; i < count; i++) {
    offsets.push(view.readUInt32LE(at + 42));
    // Central-directory-only fields neither fwup nor we give meaning to: version made by,
    // internal and external file attributes.
    for (const k of [4, 5, 36, 37, 38, 39, 40, 41]) ignorable.add(at + k);
    at += 46 + view.readUInt16LE(at + 28) + view.readUInt16LE(at + 30) + view.readUInt16LE(at + 32);
  }
  const entries = offsets.map((start, i) => ({ start, end: offsets[i + 1] ?? cdStart }));
  return { entries, cdStart, ignorable };
}

const resourcesArb = fc.dictionary(
  fc.stringMatching(/^[a-z][a-z0-9_.-]{0,11}$/),
  fc.uint8Array({ minLength: 0, maxLength: 3000 }),
  { minKeys: 1, maxKeys: 4 },
);
const metaArb = fc.record(
  {
    product: fc.string({ maxLength: 20 }),
    version: fc.stringMatching(/^[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{1,2}(-rc\.[0-9])?$/),
    description: fc.string({ maxLength: 40 }),
    misc: fc.string({ maxLength: 30 }),
  },
  { requiredKeys: [] },
);

async function build(resources: Record<string, Uint8Array>, compression = 6, dataDescriptors = true) {
  return createFirmware({ resources, meta: { product: 'prop', version: '1.0.0' }, privateKey: PRIVATE_KEY_A, compression, dataDescriptors, creationTimeSeconds: 1_700_000_000 });
}

describe('property-based (seeded, bounded)', () => {
  it('archives from createFirmware with random resources and metadata always verify', async () => {
    await fc.assert(
      fc.asyncProperty(
        resourcesArb,
        metaArb,
        fc.integer({ min: 0, max: 9 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 5000 }),
        async (resources, meta, compression, dataDescriptors, chunkSize) => {
          const fw = await createFirmware({ resources, meta, privateKey: PRIVATE_KEY_A, compression, dataDescriptors });
          const result = await verifier.verify(iterate(chunked(fw, chunkSize)));
          expect(result.valid).toBe(true);
          if (!result.valid) return;
          expect(result.resources.map((r) => r.name).sort()).toEqual(Object.keys(resources).sort());
          for (const [field, value] of Object.entries(meta)) {
            expect(result.metadata[field as keyof typeof result.metadata]).toBe(value === '' ? undefined : value);
          }
        },
      ),
      { seed: SEED, numRuns: 60 },
    );
  });

  it('a flipped byte never verifies', async () => {
    const fw = await build({ 'boot.cfg': new Uint8Array(300).fill(7), 'rootfs.img': Uint8Array.from({ length: 2000 }, (_, i) => (i * 31) & 0xff) });
    expect((await verifier.verify(fw)).valid).toBe(true);
    const { ignorable } = layout(fw);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: fw.length - 1 }).filter((i) => !ignorable.has(i)),
        fc.integer({ min: 1, max: 255 }),
        async (offset, mask) => {
          const bad = fw.slice();
          bad[offset]! ^= mask;
          expect((await verifier.verify(bad)).valid).toBe(false);
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('a truncated archive never verifies', async () => {
    const fw = await build({ 'a.bin': new Uint8Array(5000).fill(1), 'b.bin': new Uint8Array(10) }, 0, false);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: fw.length - 1 }), async (length) => {
        expect((await verifier.verify(fw.subarray(0, length))).valid).toBe(false);
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  it('reordered local entries never verify', async () => {
    const fw = await build({ 'a.bin': new Uint8Array(100).fill(1), 'b.bin': new Uint8Array(200).fill(2), 'c.bin': new Uint8Array(50) });
    const { entries, cdStart } = layout(fw);
    const order = entries.map((_, i) => i);
    await fc.assert(
      fc.asyncProperty(
        fc.shuffledSubarray(order, { minLength: order.length, maxLength: order.length }).filter((p) => p.some((v, i) => v !== i)),
        async (permutation) => {
          const parts = permutation.map((i) => fw.subarray(entries[i]!.start, entries[i]!.end));
          const bad = new Uint8Array(Buffer.concat([...parts, fw.subarray(cdStart)]));
          expect((await verifier.verify(bad)).valid).toBe(false);
        },
      ),
      { seed: SEED, numRuns: 40 },
    );
  });
});
