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

  it('writes a 3 MiB source of 1 B…200 KiB chunks byte for byte across write batches', async () => {
    // Chunk sizes from a fixed LCG (deterministic): many tiny chunks hit the per-batch chunk cap,
    // large ones the byte cap, so batches end on both limits and at the end of the source.
    const data = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
    async function* varied(): AsyncGenerator<Uint8Array> {
      let seed = 12345;
      for (let at = 0; at < data.length; ) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        const size = seed % 4 === 0 ? 1 + (seed % 200_000) : 1 + (seed % 64);
        yield data.subarray(at, Math.min(at + size, data.length));
        at += size;
      }
    }
    const ctx = context();
    await new FileApplier({ path: target }).apply(varied(), ctx);
    expect(readFileSync(target).equals(data)).toBe(true);
    expect(ctx.messages).toEqual([{ type: 'ok', message: `wrote ${data.length} bytes` }]);
  });

  it('writes a 40 MiB source identically while background syncs run (every 32 MiB)', async () => {
    const part = Buffer.alloc(1024 * 1024);
    async function* big(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 40; i++) yield Buffer.alloc(part.length, i + 1);
    }
    await new FileApplier({ path: target }).apply(big(), context());
    const written = readFileSync(target);
    expect(written.length).toBe(40 * part.length);
    for (let i = 0; i < 40; i++) expect(written[i * part.length + 12345]).toBe(i + 1);
    expect(readdirSync(dir)).toEqual(['next.fw']);
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
