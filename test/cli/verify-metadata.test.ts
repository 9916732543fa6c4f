import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { run as runMetadata } from '../../src/cli/commands/metadata.js';
import { run as runVerify } from '../../src/cli/commands/verify.js';
import {
  FIRMWARE_FILES,
  KEY_A,
  KEY_B,
  expectedVerdict,
  fixturePath,
  fwupMetadataWithoutNickname,
  recorded,
} from '../firmware/fwup-fixtures.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

async function capture(run: (argv: string[]) => Promise<number>, argv: string[]) {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await run(argv);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

describe('nerves-hub-link verify', () => {
  for (const fixture of FIRMWARE_FILES) {
    it(`${fixture}: exit code and --json match fwup's verdict`, async () => {
      const expected = expectedVerdict(fixture, 'verify_with_key', 'apply_with_key');
      const { code, stdout } = await capture(runVerify, [fixturePath(`fw/${fixture}`), '-p', fixturePath('keys/fwup-key.pub'), '--json']);
      const json = JSON.parse(stdout);
      expect(Object.keys(json)).toEqual(['valid', 'code', 'message', 'metadata']);
      if (expected) {
        expect(code).toBe(1);
        expect(json).toEqual({ valid: false, code: expected.code, message: expected.message, metadata: null });
      } else {
        expect(code).toBe(0);
        expect(json).toMatchObject({ valid: true, code: null, message: 'Valid archive with a good signature' });
        expect(json.metadata.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      }
    });
  }

  it('plain output, key rotation with --public-key, exit 1 for the wrong key', async () => {
    const ok = await capture(runVerify, [fixturePath('fw/signed.fw'), '--public-key', KEY_B.trim(), '--public-key', KEY_A.trim()]);
    expect(ok).toMatchObject({ code: 0, stdout: 'Valid archive with a good signature\n' });
    const bad = await capture(runVerify, [fixturePath('fw/signed.fw'), '--public-key', KEY_B.trim()]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("Firmware archive's meta.conf fails digital signature verification.");
  });

  it('no key at all fails closed with exit 1 (NH_FW_NO_KEYS)', async () => {
    const { code, stdout } = await capture(runVerify, [fixturePath('fw/signed.fw'), '--json']);
    expect(code).toBe(1);
    expect(JSON.parse(stdout)).toMatchObject({ valid: false, code: 'NH_FW_NO_KEYS' });
  });

  it('usage errors exit 2', async () => {
    for (const argv of [
      [],
      [fixturePath('fw/signed.fw'), fixturePath('fw/signed.fw'), '--public-key', KEY_A],
      [fixturePath('fw/signed.fw'), '--public-key', 'not-a-key'],
      [fixturePath('fw/signed.fw'), '--public-key-file', fixturePath('keys/missing.pub')],
      [fixturePath('fw/signed.fw'), '--bogus'],
      [fixturePath('fw/none.fw'), '--public-key', KEY_A],
    ]) {
      const { code, stderr } = await capture(runVerify, argv);
      expect(code, argv.join(' ')).toBe(2);
      expect(stderr).toContain('Usage: nerves-hub-link verify');
    }
    const help = await capture(runVerify, ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--public-key');
  });
});

describe('nerves-hub-link metadata', () => {
  for (const fixture of FIRMWARE_FILES) {
    it(`${fixture}: output equals fwup -m -p key (without meta-nickname)`, async () => {
      const run = recorded(fixture, 'metadata_with_key');
      const { code, stdout } = await capture(runMetadata, [fixturePath(`fw/${fixture}`), '-p', fixturePath('keys/fwup-key.pub')]);
      expect(code).toBe(run.exit_code);
      if (run.exit_code === 0) expect(stdout).toBe(fwupMetadataWithoutNickname(run));
    });
  }

  it('--json prints the metadata object; without keys it notes that the signature is unchecked', async () => {
    const json = await capture(runMetadata, [fixturePath('fw/nerves-meta.fw'), '--json', '--public-key', KEY_A]);
    expect(JSON.parse(json.stdout)).toMatchObject({ product: 'nerves_fixture', misc: 'build=ci quote="q" backslash=\\ end' });
    const unsigned = await capture(runMetadata, [fixturePath('fw/unsigned.fw')]);
    expect(unsigned.code).toBe(0);
    expect(unsigned.stderr).toContain('signature not checked');
    expect((await capture(runMetadata, [])).code).toBe(2);
  });
});

describe('dispatcher (src/cli/main.ts)', () => {
  const cli = (args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8' });

  it('routes subcommands and reports unknown ones with exit 2', () => {
    const ok = cli(['verify', 'test/fixtures/fwup/fw/signed.fw', '-p', 'test/fixtures/fwup/keys/fwup-key.pub']);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toBe('Valid archive with a good signature\n');
    const unknown = cli(['frobnicate']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    const help = cli(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/verify[\s\S]*metadata/);
  });

  it('--version prints the package version (the one in package.json) and exits 0', () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      const out = cli([flag]);
      expect(out.status, flag).toBe(0);
      expect(out.stdout).toBe(`nerves-hub-link ${version}\n`);
      expect(out.stderr).toBe('');
    }
  });
});
