// fwup parity of meta.conf: cases where differential testing against real fwup 1.16 (x86_64) found
// the verifier saying `valid` while fwup refuses the archive (or the other way round). Fixtures are
// made by createFirmware, then meta.conf is edited and the archive re-signed (like `fwup -S`).
import { createPrivateKey, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FirmwareVerifier } from '../../src/firmware/firmware-verifier.js';
import { parseConfFloat, parseConfLength } from '../../src/firmware/meta-conf-float.js';
import { ZipStreamParser } from '../../src/firmware/zip-stream-parser.js';
import { ZipStreamWriter } from '../../src/firmware/zip-stream-writer.js';
import { createFirmware, type CreateFirmwareOptions } from '../../src/testing/create-firmware.js';
import { KEY_A, PRIVATE_KEY_A } from './fwup-fixtures.js';

const CREATED = 1_700_000_000;

/** Reads every entry of an archive with the project's own zip reader. */
async function entriesOf(archive: Uint8Array): Promise<Array<[string, Uint8Array]>> {
  const entries: Array<[string, Uint8Array]> = [];
  let parts: Uint8Array[] = [];
  const parser = new ZipStreamParser({
    entryStart: () => {
      parts = [];
      return (data) => void parts.push(data.slice());
    },
    entryEnd: (entry) => void entries.push([entry.name, new Uint8Array(Buffer.concat(parts))]),
    localEntriesEnd: () => {},
  });
  await parser.push(archive);
  await parser.finish();
  return entries;
}

/** Like `fwup -S` after editing meta.conf: same entries, new meta.conf, new signature. */
async function editAndResign(archive: Uint8Array, edit: (metaConf: string) => string): Promise<Uint8Array> {
  const entries = await entriesOf(archive);
  const original = entries.find(([name]) => name === 'meta.conf')![1];
  const metaConf = new TextEncoder().encode(edit(new TextDecoder().decode(original)));
  const seed = Buffer.from(PRIVATE_KEY_A.trim(), 'base64').subarray(0, 32);
  const key = createPrivateKey({
    key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const out: Uint8Array[] = [];
  const zip = new ZipStreamWriter((chunk) => void out.push(chunk.slice()));
  const common = { dataDescriptor: true, mtimeSeconds: 0, extendedTimestamp: false };
  await zip.addEntry('meta.conf.ed25519', new Uint8Array(sign(null, metaConf, key)), { ...common, compressionLevel: 0 });
  await zip.addEntry('meta.conf', metaConf, { ...common, compressionLevel: 9, mtimeSeconds: CREATED, extendedTimestamp: true });
  for (const [name, data] of entries) {
    if (name !== 'meta.conf' && name !== 'meta.conf.ed25519') await zip.addEntry(name, data, { ...common, compressionLevel: 9 });
  }
  await zip.finish();
  return new Uint8Array(Buffer.concat(out));
}

function firmware(resources: CreateFirmwareOptions['resources'], tasks: CreateFirmwareOptions['tasks'] = []): Promise<Uint8Array> {
  return createFirmware({ resources, tasks, meta: { product: 'parity', version: '1.0.0' }, privateKey: PRIVATE_KEY_A, creationTimeSeconds: CREATED });
}

const verify = (bytes: Uint8Array) => new FirmwareVerifier({ publicKeys: [KEY_A] }).verify(bytes);
const bytesOf = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff);

/** Rewrites the `length=` line of the only resource. */
const withLength = (text: string) => (metaConf: string) => {
  expect(metaConf).toMatch(/^length=\d+$/m);
  return metaConf.replace(/^length=\d+$/m, `length=${text}`);
};

describe('fwup parity: `length` is a float list read with strtod (fwup 1.16 on 64-bit)', () => {
  it('length=020000 is 20000, not octal 8192: an 8192-byte resource is a length mismatch', async () => {
    const archive = await editAndResign(await firmware({ 'rootfs.img': bytesOf(8192) }), withLength('020000'));
    expect(await verify(archive)).toEqual({
      valid: false,
      code: 'NH_FW_LENGTH_MISMATCH',
      message: 'ZIP local header length mismatch for rootfs.img',
    });
  });

  it('length=020000 with a 20000-byte resource is valid', async () => {
    const archive = await editAndResign(await firmware({ 'rootfs.img': bytesOf(20_000) }), withLength('020000'));
    const result = await verify(archive);
    expect(result.valid && result.resources.map((r) => r.length)).toEqual([20_000]);
  });

  it('8192.0, 0x2000 (hex float), 0x1p13, 08192 and 8192.9 all mean 8192', async () => {
    const created = await firmware({ 'rootfs.img': bytesOf(8192) });
    for (const text of ['8192.0', '0x2000', '0x1p13', '08192', '8192.9', '"8192"', '819.2e1']) {
      const result = await verify(await editAndResign(created, withLength(text)));
      expect(result.valid, text).toBe(true);
    }
  });

  it('what strtod or libconfuse refuses is malformed, not a length', async () => {
    const created = await firmware({ 'rootfs.img': bytesOf(8192) });
    for (const text of ['8192a', '0x', '1e', '"1e400"', 'inf', '"-1"']) {
      const result = await verify(await editAndResign(created, withLength(text)));
      expect(result, text).toMatchObject({ valid: false, code: 'NH_FW_MALFORMED' });
    }
  });

  it('parseConfFloat follows C strtod on the whole string', () => {
    expect(parseConfFloat('020000')).toBe(20_000);
    expect(parseConfFloat('0x1.8p1')).toBe(3);
    expect(parseConfFloat(' 5')).toBe(5); // leading isspace is skipped, trailing is not
    expect(() => parseConfFloat('5 ')).toThrow(/invalid floating point value/);
    expect(parseConfFloat('')).toBe(0); // strtod converts nothing and stops at the NUL: accepted
    expect(() => parseConfFloat(' ')).toThrow(/invalid/);
    expect(() => parseConfFloat('1e-400')).toThrow(/out of range/); // ERANGE on underflow
    expect(parseConfFloat('-INF')).toBe(-Infinity);
    expect(parseConfLength('8191.99999999999999999999')).toBe(8192); // rounded to a double first
    expect(parseConfLength('-0.5')).toBe(0); // (off_t) truncates toward zero
    expect(() => parseConfLength('nan')).toThrow(/out of range/);
  });
});

describe('fwup parity: sections fwup does not know are a parse error', () => {
  it('an unknown top-level section (frob "x" { a=1 }) is refused', async () => {
    const archive = await editAndResign(await firmware({ 'rootfs.img': bytesOf(100) }), (m) => `${m}frob "x" {\na=1\n}\n`);
    const result = await verify(archive);
    expect(result).toMatchObject({ valid: false, code: 'NH_FW_MALFORMED' });
    expect(!result.valid && result.message).toMatch(/^Unexpected error parsing meta\.conf: unknown section 'frob' \(line \d+\)$/);
  });

  it('unknown sections inside known ones, and titles where fwup has none (or none where it needs one), are refused', async () => {
    const created = await firmware({ 'rootfs.img': bytesOf(100) }, [{ name: 'complete', onResource: { 'rootfs.img': [['raw_write', 0]] } }]);
    const edits: Array<(m: string) => string> = [
      (m) => m.replace('task "complete" {\n', 'task "complete" {\nfrob {\n}\n'),
      (m) => m.replace('file-resource "rootfs.img" {\n', 'file-resource "rootfs.img" {\nextra "x" {\na=1\n}\n'),
      (m) => m.replace('task "complete" {\n', 'task "complete" {\non-init "x" {\n}\n'),
      (m) => `${m}mbr {\n}\n`,
      (m) => `${m}on-resource "rootfs.img" {\n}\n`,
      (m) => m.replace('task "complete" {\n', 'task "complete" {\non-resource "rootfs.img" {\n}\n'),
    ];
    for (const [i, edit] of edits.entries()) {
      const result = await verify(await editAndResign(created, edit));
      expect(result, `edit ${i}`).toMatchObject({ valid: false, code: 'NH_FW_MALFORMED' });
    }
  });

  it('unknown options, lists and function calls are still ignored, as fwup does (forward compatibility)', async () => {
    const created = await firmware({ 'rootfs.img': bytesOf(100) }, [{ name: 'complete', onResource: { 'rootfs.img': [['raw_write', 0]] } }]);
    const archive = await editAndResign(
      created,
      (m) => `frob=1\nfrob2={a,"b c"}\nfrob3(x, y)\n${m.replace('length=100\n', 'length=100\nfuture-option="x"\n')}`,
    );
    expect((await verify(archive)).valid).toBe(true);
  });

  it("'+=' on an option that is not a list is refused (libconfuse would fail or swallow the statements that follow)", async () => {
    const created = await firmware({ 'rootfs.img': bytesOf(100) });
    // fwup would skip `frob += 1` up to the next '=', swallowing `length` and keeping length 0.
    const archive = await editAndResign(created, (m) => m.replace('length=100\n', 'frob += 1\nlength=100\n'));
    expect(await verify(archive)).toMatchObject({ valid: false, code: 'NH_FW_MALFORMED' });
    // Appending to the `length` list itself is fine: {60} + {40} is a sparse map of 60 data, 40 hole.
    const sparse = await editAndResign(await firmware({ 'rootfs.img': bytesOf(60) }), (m) =>
      m.replace('length=60\n', 'length=60\nlength+={40}\n'),
    );
    expect((await verify(sparse)).valid).toBe(true);
  });
});

describe('fwup parity: a task may only use declared resources', () => {
  it('on-resource naming a resource without file-resource is refused like fwup apply', async () => {
    const archive = await firmware({ 'rootfs.img': bytesOf(100) }, [
      { name: 'complete', onResource: { 'rootfs.img': [['raw_write', 0]], 'ghost.img': [['raw_write', 1024]] } },
    ]);
    expect(await verify(archive)).toEqual({
      valid: false,
      code: 'NH_FW_MALFORMED',
      message: "Resource 'ghost.img' used, but metadata is missing. Archive is corrupt.",
    });
  });

  it('the same archive re-signed with the reference removed is valid', async () => {
    const created = await firmware({ 'rootfs.img': bytesOf(100) }, [
      { name: 'complete', onResource: { 'rootfs.img': [['raw_write', 0]], 'ghost.img': [['raw_write', 1024]] } },
    ]);
    const archive = await editAndResign(created, (m) => {
      const edited = m.replace(/on-resource "ghost\.img" \{\nfunlist=\{[^}]*\}\n\}\n/, '');
      expect(edited).not.toContain('ghost');
      return edited;
    });
    expect((await verify(archive)).valid).toBe(true);
  });
});
