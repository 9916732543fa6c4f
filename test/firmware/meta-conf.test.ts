import { describe, expect, it } from 'vitest';
import { createBlake2b256 } from '../../src/firmware/blake2b.js';
import { FirmwareVerifier } from '../../src/firmware/firmware-verifier.js';
import { fwupQuote } from '../../src/firmware/fwup-quote.js';
import { MetaConfError, parseConfInteger, readMetaConf } from '../../src/firmware/meta-conf.js';
import { formatMetaConf } from '../../src/firmware/meta-conf-writer.js';
import { ZipStreamWriter } from '../../src/firmware/zip-stream-writer.js';
import { createPrivateKey, sign } from 'node:crypto';
import { KEY_A, PRIVATE_KEY_A } from './fwup-fixtures.js';

const FWUP = '1.16.0';

/** Builds a signed archive with a hand-written meta.conf and the given entries. */
async function handMade(metaConf: string | Uint8Array, entries: Array<[string, Uint8Array]> = [], signature?: Uint8Array) {
  const meta = typeof metaConf === 'string' ? new TextEncoder().encode(metaConf) : metaConf;
  const seed = Buffer.from(PRIVATE_KEY_A.trim(), 'base64').subarray(0, 32);
  const key = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
  const parts: Uint8Array[] = [];
  const zip = new ZipStreamWriter((c) => void parts.push(c.slice()));
  const opts = { compressionLevel: 0, dataDescriptor: true, mtimeSeconds: 0, extendedTimestamp: false };
  await zip.addEntry('meta.conf.ed25519', signature ?? new Uint8Array(sign(null, meta, key)), opts);
  await zip.addEntry('meta.conf', meta, { ...opts, compressionLevel: 9, mtimeSeconds: 1_700_000_000, extendedTimestamp: true });
  for (const [name, data] of entries) await zip.addEntry(name, data, { ...opts, compressionLevel: 6 });
  await zip.finish();
  return new Uint8Array(Buffer.concat(parts));
}

async function b2(data: Uint8Array): Promise<string> {
  const h = await createBlake2b256();
  h.update(data);
  return h.digestHex();
}

const verify = (bytes: Uint8Array) => new FirmwareVerifier({ publicKeys: [KEY_A] }).verify(bytes);

describe('meta.conf (libconfuse syntax as fwup reads it)', () => {
  it('reads fwup printer output, comments, quoting styles and escapes', () => {
    const conf = readMetaConf(
      [
        '# comment',
        'meta-product = "a \\"quoted\\" \\\\ value"  // trailing',
        "meta-version='1.0'",
        '/* block',
        'comment */ meta-author=bare_word.1',
        'unknown-option = {1, 2}',
        'unknown-function(a, b)',
        'file-resource "r" { length={10,5,20} blake2b-256=abc sha256="x" }',
        'file-resource s { }',
        'task "complete" { on-resource "r" { funlist={2,raw_write,0} } }',
      ].join('\n'),
      FWUP,
    );
    expect(conf.meta.get('meta-product')).toBe('a "quoted" \\ value');
    expect(conf.meta.get('meta-version')).toBe('1.0');
    expect(conf.meta.get('meta-author')).toBe('bare_word.1');
    expect(conf.resources).toEqual([
      { name: 'r', lengths: [10, 5, 20], dataLength: 30, blake2b256: 'abc' },
      { name: 's', lengths: [0], dataLength: 0, blake2b256: undefined },
    ]);
  });

  it('parses integers like strtol(…, 0)', () => {
    expect(parseConfInteger('42')).toBe(42);
    expect(parseConfInteger('0x10')).toBe(16);
    expect(parseConfInteger('010')).toBe(8);
    expect(parseConfInteger('')).toBe(0);
    expect(() => parseConfInteger('12a')).toThrow(MetaConfError);
    expect(() => parseConfInteger('99999999999999999999')).toThrow(MetaConfError);
  });

  it('refuses what fwup refuses', () => {
    const bad = [
      'meta-uuid="1234"',
      'meta-nickname=x',
      'define(FWUP_META_UUID, x)',
      'meta-product={a,b}',
      'file-resource "a" {}\nfile-resource "a" {}',
      'file-resource { length=1 }',
      'file-resource "a" { length=abc }',
      'meta-product="unterminated',
      'task "t" { on-init { ',
      'require-fwup-version="99.0.0"',
      'require-fwup-version="not a version"',
      'include("/etc/passwd")',
      // libconfuse ignores unknown options but its skipper for unknown sections fails (checked
      // against fwup 1.16); see fwup-parity.test.ts.
      'unknown-section x { y = 1 }',
    ];
    for (const text of bad) expect(() => readMetaConf(text, FWUP), text).toThrow(MetaConfError);
    expect(() => readMetaConf('require-fwup-version="1.16.0"', FWUP)).not.toThrow();
  });

  it('writes fwup printer format (quoting, order, defaults left out)', () => {
    expect(fwupQuote('0.1.0')).toBe('0.1.0');
    expect(fwupQuote('')).toBe('""');
    expect(fwupQuote('a "b" \\c')).toBe('"a \\"b\\" \\\\c"');
    const text = formatMetaConf(
      { version: '1.0', product: 'p q', requireFwupVersion: '0', blockCacheSizeMb: 8, misc: '' },
      [{ name: 'r', lengths: [3], blake2b256: 'ab' }, { name: 'z', lengths: [0], blake2b256: 'cd' }],
      [{ name: 'complete', onInit: [['info', 'hi there']], onResource: { r: [['raw_write', 0]] } }, { name: 'empty' }],
    );
    expect(text).toBe(
      'meta-product="p q"\nmeta-version=1.0\nfile-resource "r" {\nlength=3\nblake2b-256=ab\n}\nfile-resource "z" {\nblake2b-256=cd\n}\n' +
        'task "complete" {\non-init {\nfunlist={2,info,"hi there"}\n}\non-resource "r" {\nfunlist={2,raw_write,0}\n}\n}\ntask "empty" {\n}\n',
    );
    expect(formatMetaConf({}, [])).toBe('# Empty file\n');
  });
});

describe('archive rules beyond the fixtures', () => {
  it('sparse length lists: the entry holds the sum of the even items', async () => {
    const data = new Uint8Array(30).fill(9);
    const conf = `meta-product=x\nfile-resource "s" {\nlength={10,4096,20}\nblake2b-256=${await b2(data)}\n}\n`;
    expect((await verify(await handMade(conf, [['data/s', data]]))).valid).toBe(true);
    expect(await verify(await handMade(conf, [['data/s', data.subarray(0, 29)]]))).toMatchObject({
      code: 'NH_FW_LENGTH_MISMATCH',
      message: 'ZIP local header length mismatch for s',
    });
  });

  it('maps entry names like fwup: data/x → x, root entries → /x, bare data/ skipped', async () => {
    const data = new Uint8Array([1, 2, 3]);
    const hex = await b2(data);
    const conf = `file-resource "/root.bin" {\nlength=3\nblake2b-256=${hex}\n}\nfile-resource "d.bin" {\nlength=3\nblake2b-256=${hex}\n}\n`;
    const result = await verify(await handMade(conf, [['root.bin', data], ['data/', new Uint8Array(0)], ['data/d.bin', data]]));
    expect(result.valid && result.resources.map((r) => [r.name, r.archivePath])).toEqual([
      ['/root.bin', 'root.bin'],
      ['d.bin', 'data/d.bin'],
    ]);
  });

  it('duplicate entries, uppercase or missing digests, meta-uuid in meta.conf, bad sizes', async () => {
    const data = new Uint8Array([5]);
    const hex = await b2(data);
    const conf = (digest: string) => `file-resource "a" {\nlength=1\nblake2b-256=${digest}\n}\n`;
    expect(await verify(await handMade(conf(hex), [['data/a', data], ['data/a', data]]))).toMatchObject({
      code: 'NH_FW_UNEXPECTED_ENTRY',
      message: 'Processing a twice. Archive is corrupt.',
    });
    expect(await verify(await handMade(conf(hex.toUpperCase()), [['data/a', data]]))).toMatchObject({
      code: 'NH_FW_DIGEST_MISMATCH',
    });
    expect(await verify(await handMade('file-resource "a" {\nlength=1\n}\n', [['data/a', data]]))).toMatchObject({
      code: 'NH_FW_MALFORMED',
      message: "invalid blake2b-256 hash for 'a'",
    });
    expect(await verify(await handMade(`meta-uuid="x"\n${conf(hex)}`, [['data/a', data]]))).toMatchObject({
      code: 'NH_FW_MALFORMED',
      message: "meta.conf isn't allowed to change 'meta-uuid', 'meta-nickname', '$FWUP_META_UUID' or '$FWUP_META_NICKNAME'",
    });
    expect(await verify(await handMade('x=1'))).toMatchObject({ code: 'NH_FW_MALFORMED', message: 'Unexpected meta.conf size: 3' });
    const big = `meta-misc="${'a'.repeat(50_000)}"\n`;
    expect(await verify(await handMade(big))).toMatchObject({ code: 'NH_FW_MALFORMED', message: 'Unexpected meta.conf size: 50000' });
    expect(await verify(await handMade(conf(hex), [['data/a', data]], new Uint8Array(65)))).toMatchObject({
      code: 'NH_FW_MALFORMED',
      message: 'Unexpected meta.conf.ed25519 size: 65',
    });
  });

  it('an old archive whose meta.conf sets meta-creation-date keeps it', async () => {
    const result = await verify(await handMade('meta-creation-date="2020-01-02T03:04:05Z"\nmeta-product=p\n'));
    expect(result.valid && result.metadata.creationDate).toBe('2020-01-02T03:04:05Z');
  });

  it('stored entries with a data descriptor and no size in the local header are found by scanning', async () => {
    // Data that contains a fake descriptor signature, which must not end the entry early.
    const data = new Uint8Array(Buffer.concat([Buffer.from('xxPK\x07\x08'), Buffer.alloc(40, 3), Buffer.from('PK\x07\x08')]));
    const conf = `file-resource "s" {\nlength=${data.length}\nblake2b-256=${await b2(data)}\n}\n`;
    const parts: Uint8Array[] = [];
    const zip = new ZipStreamWriter((c) => void parts.push(new Uint8Array(c)));
    const seed = Buffer.from(PRIVATE_KEY_A.trim(), 'base64').subarray(0, 32);
    const key = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
    const meta = new TextEncoder().encode(conf);
    const opts = { compressionLevel: 0, dataDescriptor: true, mtimeSeconds: 0, extendedTimestamp: false };
    await zip.addEntry('meta.conf.ed25519', new Uint8Array(sign(null, meta, key)), opts);
    await zip.addEntry('meta.conf', meta, opts);
    const resourceOffset = parts.reduce((n, p) => n + p.length, 0);
    await zip.addEntry('data/s', data, opts);
    await zip.finish();
    const bytes = Buffer.concat(parts);
    expect(bytes.readUInt32LE(resourceOffset + 18)).toBe(data.length);
    // Zero the local compressed size, as streaming writers do (the central directory keeps it).
    bytes.writeUInt32LE(0, resourceOffset + 18);
    for (const chunkSize of [1, 7, 4096]) {
      const result = await new FirmwareVerifier({ publicKeys: [KEY_A] }).verify(
        (async function* () {
          for (let i = 0; i < bytes.length; i += chunkSize) yield bytes.subarray(i, i + chunkSize);
        })(),
      );
      expect(result.valid && result.resources[0]!.length).toBe(data.length);
    }
  });
});
