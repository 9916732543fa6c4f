import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApplyContext } from '../../src/update/firmware-applier.js';
import type { FwupMessage } from '../../src/update/update-client.js';

export const FIXTURES = join(import.meta.dirname, '../fixtures/fwup');
export const STANDIN_FWUP = join(import.meta.dirname, '../fixtures/bin/fwup');
export const KEY_A = readFileSync(join(FIXTURES, 'keys/fwup-key.pub'), 'utf8').trim();

export function fixture(name: string): Buffer {
  return readFileSync(join(FIXTURES, 'fw', name));
}

/** Yields `bytes` in chunks of `size`, optionally throwing after `failAfter` bytes or stalling there forever. */
export async function* chunks(bytes: Uint8Array, size: number, opts: { failAfter?: number; stallAfter?: number; error?: Error } = {}): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) {
    if (opts.failAfter !== undefined && at >= opts.failAfter) throw opts.error ?? new Error('source failed');
    if (opts.stallAfter !== undefined && at >= opts.stallAfter) await new Promise(() => {});
    yield bytes.subarray(at, at + size);
  }
}

export interface RecordingContext extends ApplyContext {
  progress: number[];
  messages: FwupMessage[];
}

export function context(options: { signal?: AbortSignal; publicKeys?: string[] } = {}): RecordingContext {
  const progress: number[] = [];
  const messages: FwupMessage[] = [];
  return {
    signal: options.signal ?? new AbortController().signal,
    publicKeys: options.publicKeys ?? [KEY_A],
    progress,
    messages,
    onProgress: (p) => progress.push(p),
    onMessage: (m) => messages.push(m),
  };
}

/** True while a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string; exitCode?: number | null; cause?: unknown }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string; exitCode?: number | null };
  }
  throw new Error('expected a rejection');
}
