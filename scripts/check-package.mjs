#!/usr/bin/env node
// Package hygiene: packs the tarball, checks its contents, then runs publint and
// @arethetypeswrong/cli on it. Exits non-zero on any finding. Needs `npm run build` first.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'nhl-pack-'));
let failed = false;
try {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { encoding: 'utf8' });
  const [info] = JSON.parse(out);
  const files = info.files.map((f) => f.path);
  const forbidden = files.filter((f) => /^(test|bench|examples|scripts|src|\.ci)\//.test(f) || /fixtures|\.fw$|\.priv$/.test(f));
  const required = ['package.json', 'README.md', 'CHANGELOG.md', 'dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts', 'dist/testing.js', 'dist/pkcs11.js', 'dist/pkcs11.cjs', 'dist/pkcs11.d.ts', 'dist/atecc508a.js', 'dist/atecc508a.cjs', 'dist/atecc508a.d.ts', 'dist/provisioning.js', 'dist/provisioning.cjs', 'dist/provisioning.d.ts', 'dist/cli.js'];
  const missing = required.filter((f) => !files.includes(f));
  console.log(`tarball ${info.filename}: ${files.length} files, ${info.size} bytes packed, ${info.unpackedSize} bytes unpacked`);
  if (forbidden.length) {
    failed = true;
    console.error(`tarball must not contain: ${forbidden.join(', ')}`);
  }
  if (missing.length) {
    failed = true;
    console.error(`tarball is missing: ${missing.join(', ')}`);
  }
  const tarball = join(dir, info.filename);
  for (const [cmd, args] of [
    ['publint', ['--strict', tarball]],
    ['attw', ['--pack', '.', '--profile', 'node16']],
  ]) {
    try {
      execFileSync('npx', ['--no-install', cmd, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      console.log(`${cmd}: ok`);
    } catch (err) {
      failed = true;
      console.error(`${cmd} failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
