import { readFile } from 'node:fs/promises';
import { parsePublicKey } from '../../firmware/public-key.js';

/** Thrown for command-line mistakes (exit code 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** `parseArgs` option definitions for fwup-style key flags. */
export const PUBLIC_KEY_OPTIONS = {
  'public-key': { type: 'string', multiple: true },
  'public-key-file': { type: 'string', multiple: true, short: 'p' },
} as const;

/** Collects `--public-key` values and `--public-key-file` contents, validating each like fwup. */
export async function collectPublicKeys(values: {
  'public-key'?: string[] | undefined;
  'public-key-file'?: string[] | undefined;
}): Promise<Uint8Array[]> {
  const keys: Uint8Array[] = [];
  for (const text of values['public-key'] ?? []) {
    try {
      keys.push(parsePublicKey(text));
    } catch {
      throw new UsageError('Error decoding public key');
    }
  }
  for (const path of values['public-key-file'] ?? []) {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch {
      throw new UsageError(`Error opening public key file '${path}'`);
    }
    try {
      keys.push(parsePublicKey(bytes));
    } catch {
      throw new UsageError(`Error reading or decoding public key from file '${path}'`);
    }
  }
  return keys;
}

/** Writes a usage error and returns exit code 2. */
export function usageFailure(command: string, message: string, usage: string): number {
  process.stderr.write(`nerves-hub-link ${command}: ${message}\n\n${usage}`);
  return 2;
}
