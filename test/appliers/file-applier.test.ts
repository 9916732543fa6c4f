import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileApplier } from '../../src/update/appliers/file-applier.js';
import { chunks, context, fixture, rejection } from './helpers.js';

let dir: string;
let target: string;
const previous = Buffer.from('the firmware that was here before\n');

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nhl-file-'));
  target = join(dir, 'next.fw');
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('FileApplier', () => {
  it('writes the archive byte for byte, with the mode, and leaves no temp file', async () => {
    const archive = fixture('signed.fw');
    writeFileSync(target, previous);
    const ctx = context();
    await new FileApplier({ path: target, mode: 0o600 }).apply(chunks(archive, 333), ctx);
    expect(readFileSync(target).equals(archive)).toBe(true);
    expect(statSync(target).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['next.fw']);
    expect(ctx.progress).toEqual([100]);
  });

  it('keeps the previous file byte-identical when the source fails', async () => {
    writeFileSync(target, previous);
    const sourceError = new Error('verification failed');
    const error = await rejection(new FileApplier({ path: target }).apply(chunks(fixture('signed.fw'), 500, { failAfter: 3000, error: sourceError }), context()));
    expect(error.code).toBe('NH_APPLY_ABORTED');
    expect(error.cause).toBe(sourceError);
    expect(readFileSync(target).equals(previous)).toBe(true);
    expect(readdirSync(dir)).toEqual(['next.fw']);
  });

  it('stops at once on abort while the source stalls, keeping the previous file', async () => {
    writeFileSync(target, previous);
    const controller = new AbortController();
    const applying = new FileApplier({ path: target }).apply(chunks(fixture('signed.fw'), 500, { stallAfter: 2000 }), context({ signal: controller.signal }));
    setTimeout(() => controller.abort(), 30);
    const error = await rejection(applying);
    expect(error.code).toBe('NH_APPLY_ABORTED');
    expect(readFileSync(target).equals(previous)).toBe(true);
    expect(readdirSync(dir)).toEqual(['next.fw']);
  });

  it('reports an unwritable directory as NH_APPLY_FAILED', async () => {
    const error = await rejection(new FileApplier({ path: join(dir, 'missing', 'x.fw') }).apply(chunks(fixture('signed.fw'), 500), context()));
    expect(error.code).toBe('NH_APPLY_FAILED');
  });
});
