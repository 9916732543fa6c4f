// Mutated signed archives against the FirmwareVerifier. test/firmware/properties.test.ts already
// proves single flips, truncations and reorderings are refused; this fuzzer composes structural
// mutations (duplicated, moved, dropped and extra entries, extra entries with big extra fields,
// shuffled central directory) with meta.conf edits re-signed by an UNTRUSTED key or not re-signed
// at all, and raw damage on top. Property: `valid: true` only when the archive is signed by the
// trusted key and every resource is the original one, byte for byte (same names, lengths and
// BLAKE2b-256), with the original metadata; never a throw; memory stays bounded.
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { FirmwareVerifier } from '../../src/firmware/firmware-verifier.js';
import type { FirmwareMetadata, FirmwareResource } from '../../src/firmware/firmware-verifier.js';
import { formatMetaConf } from '../../src/firmware/meta-conf-writer.js';
import type { CreateFirmwareOptions } from '../../src/testing/create-firmware.js';
import { createFirmware } from '../../src/testing/create-firmware.js';
import { KEY_A, PRIVATE_KEY_A, chunked, fixturePath, iterate } from '../firmware/fwup-fixtures.js';
import { FUZZ_SEED, fuzzRuns, fuzzTimeoutMs } from './fuzz-settings.js';
import type { ZipEntryRecord } from './zip-model.js';
import { buildZip, emptyEntryWithExtra, fwupSign, parseZip, writtenEntries } from './zip-model.js';

/** The attacker's key: a valid fwup key the device does not trust. */
const PRIVATE_KEY_UNTRUSTED = readFileSync(fixturePath('keys/other-key.priv'), 'utf8');
const verifier = new FirmwareVerifier({ publicKeys: [KEY_A] });
const RUNS = fuzzRuns(120);
/** Generous: the verifier streams; one archive of a few MB (junk entries included) must not cost more. */
const VERIFY_HEAP_LIMIT = 64 * 1024 * 1024;
/** Nothing a verify allocated survives it (a leak across thousands of archives would show here). */
const RETAINED_HEAP_LIMIT = 32 * 1024 * 1024;

interface Original {
  options: CreateFirmwareOptions;
  bytes: Uint8Array;
  entries: ZipEntryRecord[];
  metaConf: string;
  level: number;
  zip: { dataDescriptor: boolean; metaConfMtimeSeconds: number };
  metadata: FirmwareMetadata;
  resources: FirmwareResource[];
}

const pattern = (length: number, mul: number): Uint8Array => Uint8Array.from({ length }, (_, i) => (i * mul + 7) & 0xff);
const ORIGINALS: CreateFirmwareOptions[] = [
  {
    resources: { 'boot.cfg': pattern(300, 3), 'rootfs.img': pattern(2000, 31) },
    meta: { product: 'fuzz', version: '1.0.0', platform: 'rpi4', architecture: 'arm' },
    compression: 6,
    dataDescriptors: true,
  },
  {
    resources: [['a.bin', new Uint8Array(5000).fill(1)], ['b.bin', pattern(10, 5)], ['/root.txt', new TextEncoder().encode('outside data/')]],
    meta: { product: 'fuzz', version: '2.0.0', description: 'stored, sizes in the local headers' },
    compression: 0,
    dataDescriptors: false,
  },
];

type MetaEdit = { at: number; cut: number; insert: string };
type Op =
  | { k: 'dup'; from: number; to: number }
  | { k: 'move'; from: number; to: number }
  | { k: 'drop'; at: number }
  | { k: 'junkDirs'; at: number; count: number; extraBytes: number }
  | { k: 'junkFile'; at: number; name: string; data: Uint8Array }
  | { k: 'meta'; edit: MetaEdit; resign: 'untrusted' | 'keep-old-signature' }
  | { k: 'attackerArchive'; data: Uint8Array };
type Raw = { k: 'none' } | { k: 'flip'; at: number; mask: number } | { k: 'truncate'; at: number } | { k: 'append'; data: Uint8Array };

const INSERTS = [
  '',
  'meta-version="9.9.9"\n',
  'frob "x" { a=1 }\n',
  'file-resource "evil.bin" {\n  length=3\n  blake2b-256="' + '0'.repeat(64) + '"\n}\n',
  'length=020000\n',
  '0',
  'f',
  '\n',
];

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('dup' as const), from: fc.nat(20), to: fc.nat(20) }),
  fc.record({ k: fc.constant('move' as const), from: fc.nat(20), to: fc.nat(20) }),
  fc.record({ k: fc.constant('drop' as const), at: fc.nat(20) }),
  // modest sizes: the verifier's worst case for huge extra fields is item 6 of the issue
  fc.record({ k: fc.constant('junkDirs' as const), at: fc.nat(20), count: fc.integer({ min: 1, max: 30 }), extraBytes: fc.integer({ min: 0, max: 0xffff }) }),
  fc.record({ k: fc.constant('junkFile' as const), at: fc.nat(20), name: fc.constantFrom('data/evil.bin', 'data/boot.cfg', 'data/rootfs.img', 'evil.sh', 'meta.conf', 'data/'), data: fc.uint8Array({ maxLength: 300 }) }),
  fc.record({
    k: fc.constant('meta' as const),
    edit: fc.record({ at: fc.nat(400), cut: fc.nat(3), insert: fc.oneof(fc.constantFrom(...INSERTS), fc.string({ maxLength: 3 })) }),
    resign: fc.constantFrom('untrusted' as const, 'keep-old-signature' as const),
  }),
  fc.record({ k: fc.constant('attackerArchive' as const), data: fc.uint8Array({ minLength: 1, maxLength: 500 }) }),
);
const rawArb: fc.Arbitrary<Raw> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ k: 'none' as const }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('truncate' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('append' as const), data: fc.uint8Array({ minLength: 1, maxLength: 64 }) }) },
);

function metaConfOf(options: CreateFirmwareOptions, resources: readonly FirmwareResource[]): string {
  return formatMetaConf(options.meta, resources.map((r) => ({ name: r.name, lengths: r.length === 0 ? [0] : [r.length], blake2b256: r.blake2b256 })), options.tasks ?? []);
}

/** Applies the mutations; `tainted` when no meta.conf signed by the trusted key can remain intact. */
async function mutate(original: Original, ops: readonly Op[], raw: Raw, centralShuffle: number): Promise<{ bytes: Uint8Array; tainted: boolean }> {
  let entries = [...original.entries];
  let tainted = false;
  const index = (n: number, extra = 0): number => n % Math.max(1, entries.length + extra);
  for (const op of ops) {
    if (op.k === 'dup' && entries.length > 0) entries.splice(index(op.to, 1), 0, entries[index(op.from)]!);
    else if (op.k === 'move' && entries.length > 0) {
      const [moved] = entries.splice(index(op.from), 1);
      entries.splice(index(op.to, 1), 0, moved!);
    } else if (op.k === 'drop' && entries.length > 0) entries.splice(index(op.at), 1);
    else if (op.k === 'junkDirs') {
      const junk = Array.from({ length: op.count }, (_, i) => emptyEntryWithExtra(`data/junk${i}/`, op.extraBytes));
      entries.splice(index(op.at, 1), 0, ...junk);
    } else if (op.k === 'junkFile') {
      entries.splice(index(op.at, 1), 0, ...(await writtenEntries([[op.name, op.data, 0]])));
    } else if (op.k === 'meta') {
      const text = original.metaConf;
      const at = op.edit.at % (text.length + 1);
      const edited = text.slice(0, at) + op.edit.insert + text.slice(at + op.edit.cut);
      const bytes = new TextEncoder().encode(edited);
      const replacement =
        op.resign === 'untrusted'
          ? await writtenEntries([['meta.conf.ed25519', fwupSign(bytes, PRIVATE_KEY_UNTRUSTED), 0], ['meta.conf', bytes, original.level]], original.zip)
          : await writtenEntries([['meta.conf', bytes, original.level]], original.zip);
      const replaced = new Set(op.resign === 'untrusted' ? ['meta.conf', 'meta.conf.ed25519'] : ['meta.conf']);
      const first = entries.findIndex((e) => replaced.has(e.name));
      entries = entries.filter((e) => !replaced.has(e.name));
      entries.splice(first < 0 ? 0 : Math.min(first, entries.length), 0, ...replacement);
      if (op.resign === 'untrusted' || edited !== text) tainted = true;
    } else if (op.k === 'attackerArchive') {
      // A complete, consistent archive with the attacker's payload, signed by the attacker's key.
      const evil = await createFirmware({ ...original.options, resources: { 'rootfs.img': op.data }, privateKey: PRIVATE_KEY_UNTRUSTED, creationTimeSeconds: 1_700_000_000 });
      entries = parseZip(evil);
      tainted = true;
    }
  }
  const order = entries.map((_, i) => i);
  if (centralShuffle > 0 && order.length > 1) order.push(order.splice(centralShuffle % order.length, 1)[0]!);
  let bytes = buildZip(entries, order);
  if (raw.k === 'flip' && bytes.length > 0) {
    bytes = bytes.slice();
    bytes[raw.at % bytes.length]! ^= raw.mask;
  } else if (raw.k === 'truncate') bytes = bytes.subarray(0, raw.at % (bytes.length + 1));
  else if (raw.k === 'append') bytes = new Uint8Array(Buffer.concat([bytes, raw.data]));
  return { bytes, tainted };
}

const byName = (list: readonly FirmwareResource[]): FirmwareResource[] => [...list].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

const heapInUse = (): number => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

/** A real collection before measuring, so the bound is about what a verify holds, not old garbage. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

describe('fuzz: mutated signed archives (seeded, bounded)', () => {
  const originals: Original[] = [];
  beforeAll(async () => {
    for (const options of ORIGINALS) {
      const full = { ...options, privateKey: PRIVATE_KEY_A, creationTimeSeconds: 1_700_000_000 };
      const bytes = await createFirmware(full);
      const result = await verifier.verify(bytes);
      if (!result.valid) throw new Error(`original does not verify: ${result.message}`);
      originals.push({
        options: full,
        bytes,
        entries: parseZip(bytes),
        metaConf: metaConfOf(full, result.resources),
        level: options.compression ?? 9,
        zip: { dataDescriptor: options.dataDescriptors ?? true, metaConfMtimeSeconds: 1_700_000_000 },
        metadata: result.metadata,
        resources: result.resources,
      });
    }
  });

  it('the model is faithful: rebuilt originals, and meta.conf re-signed by the TRUSTED key, still verify', async () => {
    for (const original of originals) {
      expect(Buffer.from(buildZip(original.entries)).equals(Buffer.from(original.bytes))).toBe(true);
      const text = new TextEncoder().encode(original.metaConf);
      const resigned = await writtenEntries([['meta.conf.ed25519', fwupSign(text, PRIVATE_KEY_A), 0], ['meta.conf', text, original.level]], original.zip);
      const result = await verifier.verify(buildZip([...resigned, ...original.entries.slice(2)]));
      expect(result).toMatchObject({ valid: true, metadata: original.metadata, resources: original.resources });
    }
    // and the attacker's archive is a good archive for its own key: refused only for trust
    const evil = await createFirmware({ ...originals[0]!.options, privateKey: PRIVATE_KEY_UNTRUSTED });
    expect((await new FirmwareVerifier({ publicKeys: [readFileSync(fixturePath('keys/other-key.pub'), 'utf8')] }).verify(evil)).valid).toBe(true);
    expect(await verifier.verify(evil)).toMatchObject({ valid: false, code: 'NH_FW_BAD_SIGNATURE' });
  });

  it(
    'valid only when signed by the trusted key with every resource and the metadata unchanged; never throws; memory bounded',
    async () => {
      collectGarbage();
      const baseline = heapInUse();
      let worstVerify = 0;
      const verdicts = { valid: 0, invalid: 0 };
      await fc.assert(
        fc.asyncProperty(
          fc.nat(originals.length - 1),
          fc.array(opArb, { minLength: 0, maxLength: 4 }),
          rawArb,
          fc.nat(10),
          fc.integer({ min: 16, max: 70_000 }),
          async (which, ops, raw, centralShuffle, chunkSize) => {
            const original = originals[which]!;
            const { bytes, tainted } = await mutate(original, ops, raw, centralShuffle);
            const chunks = chunked(bytes, chunkSize);
            collectGarbage();
            const before = heapInUse();
            const result = await verifier.verify(iterate(chunks));
            // what one verify allocated (garbage included: no collection in between)
            worstVerify = Math.max(worstVerify, heapInUse() - before);
            verdicts[result.valid ? 'valid' : 'invalid']++;
            if (!result.valid) {
              expect(result.code).toMatch(/^NH_FW_[A-Z_]+$/);
              expect(result.message.length).toBeGreaterThan(0);
              return;
            }
            expect(tainted).toBe(false);
            // creationDate is meta.conf's zip mtime, outside the signature (fwup reports it the same way)
            expect({ ...result.metadata, creationDate: undefined }).toEqual({ ...original.metadata, creationDate: undefined });
            // fwup matches data entries to meta.conf by name, in any order: compare as sets
            expect(byName(result.resources)).toEqual(byName(original.resources));
          },
        ),
        { seed: FUZZ_SEED, numRuns: RUNS },
      );
      collectGarbage();
      const retained = heapInUse() - baseline;
      if (process.env.FUZZ_VERBOSE) console.log(`archives: ${JSON.stringify(verdicts)}, worst verify ${Math.round(worstVerify / 1048576)} MB, retained ${Math.round(retained / 1048576)} MB`);
      expect(worstVerify).toBeLessThan(VERIFY_HEAP_LIMIT);
      expect(retained).toBeLessThan(RETAINED_HEAP_LIMIT);
      // the mutations are not all fatal: some harmless ones (e.g. a reordered central directory) stay valid
      expect(verdicts.invalid).toBeGreaterThan(0);
    },
    fuzzTimeoutMs(120, 60),
  );
});
