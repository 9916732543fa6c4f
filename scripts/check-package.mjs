#!/usr/bin/env node
// Package hygiene: packs the tarball, checks its contents, then runs publint and
// @arethetypeswrong/cli on it. Exits non-zero on any finding. Needs `npm run build` first.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';

/** Relative link targets in README.md (and in the markdown files it ships), as package paths. */
function readmeLinkTargets() {
  const targets = new Set();
  const visit = (file) => {
    const text = readFileSync(file, 'utf8');
    for (const [, link] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z][a-z0-9+.-]*:|^#/i.test(link)) continue; // absolute URL or anchor
      const target = posix.normalize(posix.join(posix.dirname(file), link.split('#')[0])).replace(/\/$/, '');
      if (targets.has(target)) continue;
      targets.add(target);
      if (target.endsWith('.md') && existsSync(target)) visit(target);
    }
  };
  visit('README.md');
  return [...targets];
}

const dir = mkdtempSync(join(tmpdir(), 'nhl-pack-'));
let failed = false;
try {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { encoding: 'utf8' });
  const [info] = JSON.parse(out);
  const files = info.files.map((f) => f.path);
  // docs/*.md and examples/ ship so that the README's relative links work from the package.
  const forbidden = files.filter((f) => /^(test|bench|scripts|src|\.ci|docs\/api)\//.test(f) || /fixtures|\.fw$|\.priv$/.test(f));
  const required = ['package.json', 'README.md', 'CHANGELOG.md', 'docs/errors.md', 'examples/README.md', 'dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts', 'dist/testing.js', 'dist/advanced.js', 'dist/advanced.cjs', 'dist/advanced.d.ts', 'dist/advanced.d.cts', 'dist/pkcs11.js', 'dist/pkcs11.cjs', 'dist/pkcs11.d.ts', 'dist/atecc508a.js', 'dist/atecc508a.cjs', 'dist/atecc508a.d.ts', 'dist/provisioning.js', 'dist/provisioning.cjs', 'dist/provisioning.d.ts', 'dist/cli.js'];
  const missing = required.filter((f) => !files.includes(f));
  const brokenLinks = readmeLinkTargets().filter((target) => !files.includes(target) && !files.some((f) => f.startsWith(`${target}/`)));
  if (brokenLinks.length) {
    failed = true;
    console.error(`README.md links to files the tarball does not contain: ${brokenLinks.join(', ')}`);
  }
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
