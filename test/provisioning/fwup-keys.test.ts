import { createPublicKey, verify } from 'node:crypto';
import { readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parsePublicKey } from '../../src/firmware/public-key.js';
import {
  createFwupKeyFiles,
  decodeFwupPrivateKey,
  fwupPublicKeyOf,
  generateFwupKeyPair,
  readFwupPrivateKey,
  readFwupPublicKey,
} from '../../src/provisioning/index.js';
import { fwupSign } from '../../src/provisioning/fwup-keys.js';
import { FWUP, cli, copyKey, tempDir } from './helpers.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));
function dir(): string {
  const t = tempDir('nhl-keys-');
  cleanups.push(t.cleanup);
  return t.dir;
}

const FIXTURE_PUB = readFileSync(join(FWUP, 'keys', 'fwup-key.pub'), 'utf8');
const FIXTURE_PRIV = readFileSync(join(FWUP, 'keys', 'fwup-key.priv'), 'utf8');

describe('fwup key pairs', () => {
  it('are written like fwup -g: 44 + 88 base64 characters, no newline, seed‖public, private file 0600', async () => {
    const d = dir();
    const files = await createFwupKeyFiles(join(d, 'fw'));
    const pub = readFileSync(files.publicKeyFile, 'utf8');
    const priv = readFileSync(files.privateKeyFile, 'utf8');
    expect(pub).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(priv).toMatch(/^[A-Za-z0-9+/]{86}==$/);
    expect(statSync(files.privateKeyFile).mode & 0o777).toBe(0o600);
    expect(Buffer.from(priv, 'base64').subarray(32).toString('base64')).toBe(pub);
    expect(files.publicKey).toBe(pub);
    // same shape as the fixture key fwup -g made
    expect(pub.length).toBe(FIXTURE_PUB.length);
    expect(priv.length).toBe(FIXTURE_PRIV.length);
  });

  it('a key made by fwup -g decodes, and ours signs verifiably with its public key', () => {
    expect(fwupPublicKeyOf(FIXTURE_PRIV)).toBe(FIXTURE_PUB);
    const keys = generateFwupKeyPair();
    const message = Buffer.from('meta-product=x\n');
    const signature = fwupSign(message, decodeFwupPrivateKey(keys.privateKey));
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), parsePublicKey(keys.publicKey)]);
    expect(verify(null, message, createPublicKey({ key: spki, format: 'der', type: 'spki' }), signature)).toBe(true);
  });

  it('refuses to overwrite: an existing NAME.pub or NAME.priv leaves both files as they were', async () => {
    const d = dir();
    writeFileSync(join(d, 'fw.pub'), 'old public');
    await expect(createFwupKeyFiles(join(d, 'fw'))).rejects.toMatchObject({ code: 'NH_PROV_FILE_EXISTS' });
    expect(readFileSync(join(d, 'fw.pub'), 'utf8')).toBe('old public');
    expect(existsSync(join(d, 'fw.priv'))).toBe(false);
    const first = await createFwupKeyFiles(join(d, 'other'));
    const priv = readFileSync(first.privateKeyFile, 'utf8');
    await expect(createFwupKeyFiles(join(d, 'other'))).rejects.toMatchObject({ code: 'NH_PROV_FILE_EXISTS', message: expect.stringMatching(/refusing to overwrite/) });
    expect(readFileSync(first.privateKeyFile, 'utf8')).toBe(priv);
  });

  it('refuses a private key readable by others (0644) with a clear message, and a public key given to sign', async () => {
    const d = dir();
    const open = copyKey('fwup-key.priv', d, 0o644);
    await expect(readFwupPrivateKey(open)).rejects.toMatchObject({ code: 'NH_PROV_KEY_PERMISSIONS', message: expect.stringContaining(`chmod 600 ${open}`) });
    const pub = copyKey('fwup-key.pub', d, 0o644);
    await expect(readFwupPrivateKey(pub)).rejects.toMatchObject({ code: 'NH_PROV_KEY_INVALID', message: expect.stringMatching(/public key.*NAME\.priv/) });
    const ok = copyKey('fwup-key.priv', d, 0o600);
    expect(Buffer.from(await readFwupPrivateKey(ok)).toString('base64')).toBe(FIXTURE_PRIV);
  });

  it('refuses a private key whose public half is not its seed, and garbage', () => {
    const bytes = Buffer.from(FIXTURE_PRIV, 'base64');
    bytes[40]! ^= 1;
    expect(() => decodeFwupPrivateKey(bytes.toString('base64'))).toThrow(/does not belong to its seed/);
    expect(() => decodeFwupPrivateKey('not a key')).toThrow(expect.objectContaining({ code: 'NH_PROV_KEY_INVALID' }));
    // fwup's rules: raw 64 bytes are taken as is; a trailing newline ends the base64
    expect(decodeFwupPrivateKey(Buffer.from(FIXTURE_PRIV, 'base64'))).toEqual(new Uint8Array(Buffer.from(FIXTURE_PRIV, 'base64')));
    expect(fwupPublicKeyOf(`${FIXTURE_PRIV}\n`)).toBe(FIXTURE_PUB);
  });

  it('readFwupPublicKey reads NAME.pub, or derives it from NAME.priv', async () => {
    const d = dir();
    copyKey('fwup-key.pub', d, 0o644);
    copyKey('fwup-key.priv', d);
    expect(await readFwupPublicKey(join(d, 'fwup-key'))).toBe(FIXTURE_PUB);
    copyKey('other-key.priv', d);
    expect(await readFwupPublicKey(join(d, 'other-key'))).toBe(readFileSync(join(FWUP, 'keys', 'other-key.pub'), 'utf8'));
  });
});

describe('nerves-hub-link keys', () => {
  it('create, then show (plain and --json); a second create is refused with exit 1', async () => {
    const d = dir();
    const created = await cli(['keys', 'create', 'fw'], { cwd: d });
    expect(created.code).toBe(0);
    const pub = readFileSync(join(d, 'fw.pub'), 'utf8');
    expect(created.stdout).toContain(`Public key: ${pub}`);
    expect(created.stdout).not.toContain(readFileSync(join(d, 'fw.priv'), 'utf8'));
    const shown = await cli(['keys', 'show', 'fw'], { cwd: d });
    expect(shown).toMatchObject({ code: 0, stdout: `${pub}\n` });
    const json = await cli(['keys', 'show', 'fw.priv', '--json'], { cwd: d });
    expect(JSON.parse(json.stdout)).toEqual({ publicKey: pub, fwupPublicKeys: [pub] });
    const again = await cli(['keys', 'create', 'fw'], { cwd: d });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists.*NH_PROV_FILE_EXISTS/);
    expect(readFileSync(join(d, 'fw.pub'), 'utf8')).toBe(pub);
    expect((await cli(['keys', 'frobnicate'], { cwd: d })).code).toBe(2);
  });
});
