#!/usr/bin/env node
// Package footprint: packs the SDK, installs the tarball into an empty project (production
// dependencies only), then reports install size, dependency count and cold import time of
// `nerves-hub-link` (ESM and CJS) next to a baseline `node -e ""` start in the same run.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from './lib/stats.mjs';

const root = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'nhl-footprint-'));

function du(path) {
  let total = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const p = join(path, entry.name);
    if (entry.isDirectory()) total += du(p);
    else if (entry.isFile()) total += statSync(p).size;
  }
  return total;
}


function timeNode(args, cwd, runs = 7) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`node ${args.join(' ')} failed: ${r.stderr}`);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(times);
}

try {
  const [info] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: root, encoding: 'utf8' }));
  const app = join(dir, 'app');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'footprint', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--ignore-scripts', join(dir, info.filename)], { cwd: app, stdio: 'ignore' });
  const modules = join(app, 'node_modules');
  const packages = execFileSync('npm', ['ls', '--all', '--omit=dev', '--parseable'], { cwd: app, encoding: 'utf8' }).trim().split('\n').length - 1;
  const baseline = timeNode(['-e', ''], app);
  const esm = timeNode(['--input-type=module', '-e', "import 'nerves-hub-link'"], app);
  const cjs = timeNode(['-e', "require('nerves-hub-link')"], app);
  const result = {
    tarballBytes: info.size,
    unpackedBytes: info.unpackedSize,
    installBytes: du(modules),
    packagesInstalled: packages,
    coldStartMs: { nodeBaseline: +baseline.toFixed(1), importEsm: +esm.toFixed(1), requireCjs: +cjs.toFixed(1) },
    importOverheadMs: { esm: +(esm - baseline).toFixed(1), cjs: +(cjs - baseline).toFixed(1) },
  };
  console.log('package footprint');
  console.log(JSON.stringify(result, null, 2));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
