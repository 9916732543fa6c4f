import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FirmwareVerifier } from '../../src/firmware/firmware-verifier.js';
import { createFirmware } from '../../src/testing/create-firmware.js';
import { KEY_A, PRIVATE_KEY_A } from '../firmware/fwup-fixtures.js';

// The verifier runs in a child process so that its peak RSS is its own. The child is bundled to
// plain JavaScript first: running it through the TypeScript loader would add ~35 MB of loader to
// the very number under test.
const CHILD_SOURCE = join(import.meta.dirname, 'fixtures', 'verifier-memory-child.mts');
const MAX_RSS_BYTES = 100 * 1024 * 1024;
const MiB = 1024 * 1024;

let dir: string;
let child: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nh-verifier-memory-'));
  child = join(dir, 'child.mjs');
  await build({
    entryPoints: [CHILD_SOURCE],
    outfile: child,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'silent',
    // import.meta.dirname must stay the fixture's directory (the child reads the test keys from there).
    define: { 'import.meta.dirname': JSON.stringify(join(import.meta.dirname, 'fixtures')) },
    // hash-wasm and the rest are bundled; node: built-ins stay external.
  });
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface ChildResult {
  valid: boolean;
  code?: string;
  message?: string;
  maxRssBytes: number;
}

function runChild(config: { count: number; extra: number; mode: 'verify' | 'passThrough' }): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => void (stdout += d.toString('utf8')));
    proc.stderr.on('data', (d: Buffer) => void (stderr += d.toString('utf8')));
    proc.on('error', reject);
    proc.on('exit', (code) => {
      if (code !== 0) reject(new Error(`child exited ${code}: ${stderr}`));
      else resolve(JSON.parse(stdout.trim()) as ChildResult);
    });
  });
}

describe('verifier memory is bounded whatever the archive holds (peak RSS of a child process)', () => {
  it('a signed meta.conf followed by 1,500 data/ entries with 64 KiB extra fields: refused, < 100 MB', async () => {
    for (const mode of ['verify', 'passThrough'] as const) {
      const result = await runChild({ count: 1500, extra: 65_535, mode });
      expect(result, mode).toMatchObject({ valid: false, code: 'NH_FW_MALFORMED' });
      expect(result.message, mode).toMatch(/extra field/);
      expect(result.maxRssBytes / MiB, mode).toBeLessThan(MAX_RSS_BYTES / MiB);
    }
  });

  it('100,000 tiny data/ entries: refused as too many entries, < 100 MB', async () => {
    const result = await runChild({ count: 100_000, extra: 0, mode: 'verify' });
    expect(result).toMatchObject({ valid: false, code: 'NH_FW_UNEXPECTED_ENTRY' });
    expect(result.message).toMatch(/Too many entries/);
    expect(result.maxRssBytes / MiB).toBeLessThan(MAX_RSS_BYTES / MiB);
  });

  it('the largest archive within the limits (entry count and extra fields at their caps) is valid, like fwup, and < 100 MB', async () => {
    // fwup skips bare data/ directory entries, so within the limits the verdict matches fwup's.
    // passThrough holds the central directory back until the end, so this is its worst case.
    const result = await runChild({ count: 1024 - 2, extra: 4096, mode: 'passThrough' });
    expect(result).toMatchObject({ valid: true });
    expect(result.maxRssBytes / MiB).toBeLessThan(MAX_RSS_BYTES / MiB);
  });
});

describe('archive limits (in process)', () => {
  const verify = (bytes: Uint8Array) => new FirmwareVerifier({ publicKeys: [KEY_A] }).verify(bytes);
  const firmware = (resources: Array<[string, Uint8Array]>) =>
    createFirmware({ resources, meta: { product: 'limits' }, privateKey: PRIVATE_KEY_A });

  it('resource names: 511 bytes are fine, 512 are refused like fwup ("Bad path found in archive")', async () => {
    const data = new Uint8Array([1, 2, 3]);
    expect((await verify(await firmware([['a'.repeat(511), data]]))).valid).toBe(true);
    expect((await verify(await firmware([[`/${'b'.repeat(510)}`, data]]))).valid).toBe(true);
    expect(await verify(await firmware([['a'.repeat(512), data]]))).toEqual({
      valid: false,
      code: 'NH_FW_MALFORMED',
      message: 'Bad path found in archive',
    });
    expect(await verify(await firmware([[`/${'b'.repeat(511)}`, data]]))).toMatchObject({
      code: 'NH_FW_MALFORMED',
      message: 'Bad path found in archive',
    });
  });
});
