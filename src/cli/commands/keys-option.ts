import { parseArgs } from 'node:util';
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

/** Writes a usage error to `stderr` (the command's own stream, so tests can capture it) and returns exit code 2. */
export function usageFailure(command: string, message: string, usage: string, stderr: NodeJS.WritableStream = process.stderr): number {
  stderr.write(`nerves-hub-link ${command}: ${message}\n\n${usage}`);
  return 2;
}

/** Arguments shared by the firmware commands (`verify`, `metadata`): one FILE, keys, `--json`. */
export interface FirmwareCommandArgs {
  file: string;
  keys: Uint8Array[];
  json: boolean;
}

/**
 * Parses `FILE [--public-key K…] [--public-key-file P…] [--json] [--help]`. Returns the arguments,
 * or the exit code to return right away (0 after `--help`, 2 after a usage error).
 */
export async function parseFirmwareCommandArgs(command: string, argv: string[], usage: string): Promise<FirmwareCommandArgs | number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { ...PUBLIC_KEY_OPTIONS, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (error) {
    return usageFailure(command, (error as Error).message, usage);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  if (positionals.length !== 1) return usageFailure(command, 'expected exactly one FILE', usage);
  try {
    return { file: positionals[0]!, keys: await collectPublicKeys(values), json: values.json === true };
  } catch (error) {
    if (error instanceof UsageError) return usageFailure(command, error.message, usage);
    throw error;
  }
}

/** True for the file errors a user can fix (missing file, directory, permissions). */
export function isUnreadableFileError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES';
}
