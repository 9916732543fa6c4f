import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NervesHubError } from '../errors.js';

/**
 * Where the token's user PIN comes from. Exactly one of them, or none for tokens that need no
 * login (e.g. a NervesKey). The PIN is read at each connection attempt and never logged.
 *
 * @example
 * ```ts
 * const fromEnv: PinSource = { pinEnv: 'DEVICE_TOKEN_PIN' };
 * const fromFile: PinSource = { pinFile: '/run/secrets/token-pin' };
 * const fromCode: PinSource = { pin: async () => (await readFile('/run/secrets/token-pin', 'utf8')).trim() };
 * ```
 */
export interface PinSource {
  /** Name of an environment variable holding the PIN. */
  pinEnv?: string;
  /** A file holding the PIN (one trailing newline is ignored). */
  pinFile?: string;
  /** A callback that returns the PIN. */
  pin?: (options: { signal?: AbortSignal }) => string | Promise<string>;
}

function unavailable(message: string, cause?: unknown): NervesHubError {
  return new NervesHubError('NH_PKCS11_PIN_UNAVAILABLE', message, cause === undefined ? undefined : { cause });
}

/** Reads the PIN from its source; `undefined` when none is configured. @internal */
export async function readPin(source: PinSource, signal?: AbortSignal): Promise<string | undefined> {
  let pin: string;
  if (source.pinEnv !== undefined) {
    const v = process.env[source.pinEnv];
    if (v === undefined || v === '') throw unavailable(`the PIN environment variable ${source.pinEnv} is not set`);
    pin = v;
  } else if (source.pinFile !== undefined) {
    try {
      pin = (await readFile(source.pinFile, signal ? { encoding: 'utf8', signal } : 'utf8')).replace(/\r?\n$/, '');
    } catch (error) {
      if (signal?.aborted) throw error;
      // the cause is an fs error (path, errno): it never holds the PIN
      throw unavailable(`cannot read the PIN file ${source.pinFile}: check the path and its permissions`, error);
    }
    if (pin === '') throw unavailable(`the PIN file ${source.pinFile} is empty`);
  } else if (source.pin !== undefined) {
    try {
      pin = await source.pin(signal ? { signal } : {});
    } catch (error) {
      if (signal?.aborted) throw error;
      throw unavailable('the PIN callback failed', error);
    }
    if (typeof pin !== 'string' || pin === '') throw unavailable('the PIN callback returned no PIN');
  } else {
    return undefined;
  }
  return pin;
}

/**
 * Runs `fn` with the PIN in a private file (0600, in a 0700 directory, RAM-backed `/dev/shm` when
 * there is one) for libp11's `pin-source=file:` URI attribute, and deletes it right after.
 * libp11 prints the key URI to stderr when it fails, so a `pin-value` in it would leak the PIN.
 * @internal
 */
export async function withPinFile<T>(pin: string, fn: (file: string) => T | Promise<T>): Promise<T> {
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  let dir: string;
  try {
    dir = await mkdtemp(join(base, 'nhl-pin-'));
  } catch {
    dir = await mkdtemp(join(tmpdir(), 'nhl-pin-'));
  }
  try {
    const file = join(dir, 'pin');
    await writeFile(file, pin, { mode: 0o600, flag: 'wx' });
    // awaited, so an asynchronous `fn` (a child process) still finds the file
    return await fn(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
