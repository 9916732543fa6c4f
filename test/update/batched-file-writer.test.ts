/**
 * BatchedFileWriter writes behind its reader: one writev in flight, the rest gathered, so a
 * download never waits for the disk unless 1 MiB is already pending. Real files; the only thing
 * intercepted is when each writev may start (a gate), to make "the disk is slow" deterministic.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BatchedFileWriter } from '../../src/update/batched-file-writer.js';

const KiB = 1024;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempFile(content = Buffer.alloc(0)): string {
  const dir = mkdtempSync(join(tmpdir(), 'nhl-writer-'));
  dirs.push(dir);
  const path = join(dir, 'out.bin');
  writeFileSync(path, content);
  return path;
}

/** A real handle whose writev waits for `release()` and records each call (chunk count, bytes, position). */
function gated(handle: FileHandle) {
  const calls: Array<{ chunks: number; bytes: number; position: number | null | undefined }> = [];
  let open = false;
  let waiters: Array<() => void> = [];
  const real = handle.writev.bind(handle);
  let inFlight = 0;
  let maxInFlight = 0;
  handle.writev = (async (buffers: NodeJS.ArrayBufferView[], position?: number | null) => {
    calls.push({ chunks: buffers.length, bytes: buffers.reduce((n, b) => n + b.byteLength, 0), position });
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    if (!open) await new Promise<void>((resolve) => waiters.push(resolve));
    try {
      return await real(buffers, position ?? undefined);
    } finally {
      inFlight -= 1;
    }
  }) as FileHandle['writev'];
  return {
    calls,
    maxInFlight: () => maxInFlight,
    release(): void {
      open = true;
      for (const w of waiters.splice(0)) w();
      waiters = [];
    },
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('BatchedFileWriter', () => {
  it('writes every byte in order at the given position, keeping what is before it', async () => {
    const prefix = randomBytes(1000);
    const path = tempFile(prefix);
    const handle = await open(path, 'r+');
    const chunks = Array.from({ length: 300 }, (_, i) => randomBytes(1 + ((i * 7919) % (20 * KiB))));
    const writer = new BatchedFileWriter(handle, { position: prefix.length });
    for (const chunk of chunks) await writer.add(chunk);
    await writer.flush();
    await handle.close();
    expect(readFileSync(path).equals(Buffer.concat([prefix, ...chunks]))).toBe(true);
  });

  it('gathers chunks into ≤ 1 MiB writes; add() waits only when a full batch is behind a running write', async () => {
    const path = tempFile();
    const handle = await open(path, 'w');
    const gate = gated(handle);
    const writer = new BatchedFileWriter(handle);
    const chunk = randomBytes(16 * KiB);
    // 64 chunks = 1 MiB: the first full batch starts a write at once (the disk was idle).
    for (let i = 0; i < 64; i++) await writer.add(chunk);
    expect(gate.calls).toEqual([{ chunks: 64, bytes: 64 * 16 * KiB, position: 0 }]);
    // The next 63 chunks are gathered without waiting for the blocked disk.
    for (let i = 0; i < 63; i++) await writer.add(chunk);
    let blocked = true;
    const full = writer.add(chunk).then(() => (blocked = false));
    await settle();
    expect(blocked).toBe(true);
    gate.release();
    await full;
    await writer.flush();
    await handle.close();
    expect(gate.calls.map((c) => c.bytes)).toEqual([1024 * KiB, 1024 * KiB]);
    expect(gate.calls.map((c) => c.position)).toEqual([0, 1024 * KiB]);
    expect(gate.maxInFlight()).toBe(1);
    expect(readFileSync(path).length).toBe(128 * 16 * KiB);
  });

  it('writeWhenIdle: a chunk reaches the disk without flush; what arrives meanwhile goes out next, together', async () => {
    const path = tempFile();
    const handle = await open(path, 'w');
    const gate = gated(handle);
    const writer = new BatchedFileWriter(handle, { writeWhenIdle: true });
    const first = randomBytes(1200);
    await writer.add(first);
    expect(gate.calls).toEqual([{ chunks: 1, bytes: 1200, position: 0 }]);
    const later = [randomBytes(500), randomBytes(700), randomBytes(300)];
    for (const c of later) await writer.add(c);
    expect(gate.calls).toHaveLength(1);
    gate.release();
    // settled() only waits for writes already under way; nothing calls flush().
    await writer.settled();
    // No flush yet: a stalled download already has its bytes on disk.
    expect(gate.calls).toEqual([
      { chunks: 1, bytes: 1200, position: 0 },
      { chunks: 3, bytes: 1500, position: 1200 },
    ]);
    expect(readFileSync(path).equals(Buffer.concat([first, ...later]))).toBe(true);
    await writer.flush();
    await handle.close();
  });

  it('a failed write is thrown by the next add or by flush, and nothing more is written', async () => {
    const path = tempFile(Buffer.from('keep'));
    const handle = await open(path, 'r'); // read-only: writev fails (EBADF)
    const writer = new BatchedFileWriter(handle, { writeWhenIdle: true });
    await writer.add(Buffer.from('lost'));
    await expect(writer.flush()).rejects.toMatchObject({ code: 'EBADF' });
    await expect(writer.add(Buffer.from('more'))).rejects.toMatchObject({ code: 'EBADF' });
    await writer.settled();
    await handle.close();
    expect(readFileSync(path, 'utf8')).toBe('keep');
  });
});
