import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, statSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FirmwareVerifier } from '../../src/firmware/firmware-verifier.js';
import { generateFwupKeyPair } from '../../src/provisioning/index.js';
import { writeFirmware } from '../../src/testing/create-firmware.js';
import { tempDir } from './helpers.js';

// signFirmware runs in a child process bundled to plain JavaScript (as in
// test/security/verifier-memory.test.ts), so that its peak RSS is its own and holds no TS loader.
const MiB = 1024 * 1024;
const RESOURCE_BYTES = 200 * MiB;
// Measured (VmHWM): node alone 44 MB; the verification pass alone plateaus at ~93 MB whatever the
// size (its read buffers and lazily collected inflate output); the copy adds ~2 MB; 200 and 400 MiB
// archives peak at the same ~95 MB. Anything holding the archive would need more than 200 MB.
const MAX_RSS_BYTES = 120 * MiB;

let dir: string;
let cleanup: () => void;
let child: string;

beforeAll(async () => {
  ({ dir, cleanup } = tempDir('nhl-sign-memory-'));
  child = join(dir, 'child.mjs');
  await build({
    entryPoints: [join(import.meta.dirname, 'fixtures', 'sign-memory-child.mts')],
    outfile: child,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'silent',
  });
}, 60_000);

afterAll(() => cleanup?.());

function runChild(job: { input: string; output: string; key: string }): Promise<{ size: number; uuid: string; maxRssBytes: number }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => void (stdout += d.toString('utf8')));
    proc.stderr.on('data', (d: Buffer) => void (stderr += d.toString('utf8')));
    proc.on('error', reject);
    proc.on('exit', (code) => (code === 0 ? resolve(JSON.parse(stdout.trim())) : reject(new Error(`child exited ${code}: ${stderr}`))));
  });
}

describe('signing memory is bounded by the copy and verify buffers, not the archive', () => {
  it(`re-signs a ${RESOURCE_BYTES / MiB} MiB archive with a peak RSS under ${MAX_RSS_BYTES / MiB} MB`, async () => {
    const resource = join(dir, 'rootfs.img');
    const out = createWriteStream(resource);
    const block = randomBytes(MiB);
    for (let i = 0; i < RESOURCE_BYTES / MiB; i++) {
      block.writeUInt32LE(i, 0);
      if (!out.write(Buffer.from(block))) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    const first = generateFwupKeyPair();
    const second = generateFwupKeyPair();
    const input = join(dir, 'big.fw');
    await writeFirmware({ resources: [['rootfs.img', { path: resource }]], meta: { product: 'big', version: '1.0.0' }, privateKey: first.privateKey, compression: 1 }, input);
    const output = join(dir, 'big-signed.fw');
    const result = await runChild({ input, output, key: second.privateKey });
    expect(result.size).toBe(statSync(output).size);
    expect(result.size).toBeGreaterThan(RESOURCE_BYTES);
    expect(result.maxRssBytes / MiB).toBeLessThan(MAX_RSS_BYTES / MiB);
    expect(await new FirmwareVerifier({ publicKeys: [second.publicKey] }).verify(output)).toMatchObject({ valid: true, metadata: { uuid: result.uuid } });
    console.log(`signed ${(result.size / MiB).toFixed(0)} MiB with a peak RSS of ${(result.maxRssBytes / MiB).toFixed(1)} MiB`);
  }, 180_000);
});
