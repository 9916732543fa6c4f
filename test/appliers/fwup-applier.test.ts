import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FwupApplier } from '../../src/update/appliers/fwup-applier.js';
import { alive, chunks, context, fixture, KEY_A, rejection, STANDIN_FWUP } from './helpers.js';

const hasRealFwup = (process.env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, 'fwup')));

let dir: string;
let devicePath: string;
let pidFile: string;
let argsFile: string;

function standIn(extra: { env?: Record<string, string>; killGraceMs?: number } = {}): FwupApplier {
  return new FwupApplier({
    devicePath,
    fwupPath: STANDIN_FWUP,
    env: { FWUP_STANDIN_PID_FILE: pidFile, FWUP_STANDIN_ARGS_FILE: argsFile, ...extra.env },
    killGraceMs: extra.killGraceMs,
  });
}

async function waitForFile(path: string, ms = 20_000): Promise<string> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (existsSync(path) && statSync(path).size > 0) return readFileSync(path, 'utf8');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`${path} never appeared`);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nhl-fwup-'));
  devicePath = join(dir, 'out.img');
  pidFile = join(dir, 'pid');
  argsFile = join(dir, 'args.json');
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('FwupApplier with the stand-in fwup', () => {
  it('applies a good archive: framed stdin, progress, OK, target written', async () => {
    const archive = fixture('signed.fw');
    const ctx = context();
    await standIn().apply(chunks(archive, 777), ctx);
    expect(ctx.progress).toEqual([0, 33, 56, 78, 99, 100]);
    expect(ctx.messages).toContainEqual({ type: 'warning', message: 'fixture: complete task starting' });
    expect(ctx.messages.at(-1)).toEqual({ type: 'ok', message: '' });
    expect(readFileSync(devicePath).equals(archive)).toBe(true);
    expect(JSON.parse(readFileSync(argsFile, 'utf8'))).toEqual([
      '--apply', '--no-unmount', '-d', devicePath, '--task', 'upgrade', '--framing', '--public-key', KEY_A, '-i', '-',
    ]);
  });

  it('rejects a tampered archive with fwup’s message and exit code, writing nothing', async () => {
    const ctx = context();
    const error = await rejection(standIn().apply(chunks(fixture('tampered-resource-crc-ok.fw'), 1000), ctx));
    expect(error.code).toBe('NH_FWUP_FAILED');
    expect(error.message).toBe("raw_write detected blake2b mismatch on 'rootfs.bin'");
    expect(error.exitCode).toBe(1);
    expect(ctx.messages.at(-1)).toEqual({ type: 'error', message: "raw_write detected blake2b mismatch on 'rootfs.bin'" });
    expect(existsSync(devicePath)).toBe(false);
  });

  it('rejects an archive signed with another key', async () => {
    const error = await rejection(standIn().apply(chunks(fixture('signed-other-key.fw'), 4096), context()));
    expect(error.code).toBe('NH_FWUP_FAILED');
    expect(error.message).toBe("Firmware archive's meta.conf fails digital signature verification.");
    expect(existsSync(devicePath)).toBe(false);
  });

  it('refuses to run without public keys (fwup would skip verification)', async () => {
    const error = await rejection(standIn().apply(chunks(fixture('signed.fw'), 1000), context({ publicKeys: [] })));
    expect(error.code).toBe('NH_FW_NO_KEYS');
    expect(error.message).toBe('Refusing unverified firmware : no public keys available');
    expect(existsSync(pidFile)).toBe(false);
    expect(existsSync(devicePath)).toBe(false);
  });

  it('explains a missing fwup binary', async () => {
    const applier = new FwupApplier({ devicePath, fwupPath: join(dir, 'no-such-fwup') });
    const error = await rejection(applier.apply(chunks(fixture('signed.fw'), 1000), context()));
    expect(error.code).toBe('NH_FWUP_NOT_FOUND');
    expect(error.message).toMatch(/fwup was not found.*fwupPath/);
  });

  it('kills fwup and rejects with the source error as cause when the source fails', async () => {
    const sourceError = new Error('signature check failed');
    async function* failingSource(): AsyncGenerator<Uint8Array> {
      yield* chunks(fixture('signed.fw').subarray(0, 2000), 500);
      await waitForFile(pidFile); // fwup is running and has received bytes
      throw sourceError;
    }
    const error = await rejection(standIn().apply(failingSource(), context()));
    expect(error.code).toBe('NH_APPLY_ABORTED');
    expect(error.cause).toBe(sourceError);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(alive(pid)).toBe(false);
    expect(existsSync(devicePath)).toBe(false);
  });

  it('aborts while the source stalls, leaving no fwup process', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const applying = standIn().apply(chunks(fixture('signed.fw'), 500, { stallAfter: 1500 }), context({ signal: controller.signal }));
    const pid = Number(await waitForFile(pidFile));
    expect(alive(pid)).toBe(true);
    controller.abort(new Error('operator cancelled'));
    const error = await rejection(applying);
    expect(error.code).toBe('NH_APPLY_ABORTED');
    expect(error.message).toContain('operator cancelled');
    expect(alive(pid)).toBe(false);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(existsSync(devicePath)).toBe(false);
  });

  it('escalates to SIGKILL when fwup ignores SIGTERM', async () => {
    const controller = new AbortController();
    const applier = standIn({ env: { FWUP_STANDIN_IGNORE_SIGTERM: '1' }, killGraceMs: 200 });
    const applying = applier.apply(chunks(fixture('signed.fw'), 500, { stallAfter: 1000 }), context({ signal: controller.signal }));
    const pid = Number(await waitForFile(pidFile));
    const started = Date.now();
    controller.abort();
    const error = await rejection(applying);
    expect(error.code).toBe('NH_APPLY_ABORTED');
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(alive(pid)).toBe(false);
  });

  it('copes with --exit-handshake after the last packet', async () => {
    const applier = new FwupApplier({ devicePath, fwupPath: STANDIN_FWUP, extraArgs: ['--exit-handshake'] });
    const ctx = context();
    await applier.apply(chunks(fixture('signed.fw'), 2000), ctx);
    expect(ctx.messages.at(-1)).toEqual({ type: 'ok', message: '' });
    const failing = await rejection(applier.apply(chunks(fixture('tampered-resource-crc-ok.fw'), 2000), context()));
    expect(failing.message).toBe("raw_write detected blake2b mismatch on 'rootfs.bin'");
  });

  it('survives throwing callbacks', async () => {
    const ctx = context();
    ctx.onProgress = () => {
      throw new Error('bad progress callback');
    };
    ctx.onMessage = () => {
      throw new Error('bad message callback');
    };
    await standIn().apply(chunks(fixture('signed.fw'), 4096), ctx);
    expect(readFileSync(devicePath).equals(fixture('signed.fw'))).toBe(true);
  });

  it('streams a large input with back-pressure and reports the stand-in’s refusal', async () => {
    const big = Buffer.alloc(32 * 1024 * 1024, 7);
    const error = await rejection(standIn().apply(chunks(big, 256 * 1024), context()));
    expect(error.code).toBe('NH_FWUP_FAILED');
    expect(error.message).toContain(createHash('sha256').update(big).digest('hex'));
  });
});

describe.skipIf(!hasRealFwup)('FwupApplier with the real fwup', () => {
  it('applies signed.fw (task complete) and produces the recorded image', async () => {
    const applier = new FwupApplier({ devicePath, task: 'complete' });
    const ctx = context();
    await applier.apply(chunks(fixture('signed.fw'), 1000), ctx);
    expect(ctx.progress.at(-1)).toBe(100);
    expect(createHash('sha256').update(readFileSync(devicePath)).digest('hex')).toBe('db6e8dd321c13e99856aa81b04bbd08ca616eb4f669fb5cd2219d91f283a2dd3');
  });

  it('rejects tampered-resource-crc-ok.fw with fwup’s message', async () => {
    const applier = new FwupApplier({ devicePath, task: 'complete' });
    const error = await rejection(applier.apply(chunks(fixture('tampered-resource-crc-ok.fw'), 1000), context()));
    expect(error.message).toBe("raw_write detected blake2b mismatch on 'rootfs.bin'");
    expect(existsSync(devicePath) ? statSync(devicePath).size : 0).toBe(0);
  });
});
