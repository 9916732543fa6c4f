// Shared helpers for firmware tests: fixture paths, keys, fwup's recorded verdicts.
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { FirmwareVerificationCode } from '../../src/firmware/verification-error.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/fwup/', import.meta.url));
export const fixturePath = (name: string): string => join(FIXTURES, name);
export const KEY_A = readFileSync(fixturePath('keys/fwup-key.pub'), 'utf8');
export const KEY_B = readFileSync(fixturePath('keys/other-key.pub'), 'utf8');
export const PRIVATE_KEY_A = readFileSync(fixturePath('keys/fwup-key.priv'), 'utf8');
export const FIRMWARE_FILES = readdirSync(fixturePath('fw')).filter((f) => f.endsWith('.fw')).sort();

export interface RecordedRun {
  fixture?: string;
  case?: string;
  exit_code: number;
  stdout?: string;
}

export const RECORDED: RecordedRun[] = JSON.parse(readFileSync(fixturePath('expected/results.json'), 'utf8'));

export function recorded(fixture: string, which: string): RecordedRun {
  const run = RECORDED.find((r) => r.fixture === `fw/${fixture}` && r.case === which);
  if (!run) throw new Error(`no recorded run ${which} for ${fixture}`);
  return run;
}

/** fwup's error line without the `fwup: ` prefix (the last line: apply may print an info line first). */
export function fwupError(run: RecordedRun): string {
  const lines = (run.stdout ?? '').trim().split('\n');
  return lines[lines.length - 1]!.replace(/^fwup: /, '');
}

/** Maps an fwup error message to our result code. */
export function codeForFwupMessage(message: string): FirmwareVerificationCode {
  if (message === 'Expecting signed firmware archive.') return 'NH_FW_UNSIGNED';
  if (message.includes('fails digital signature verification')) return 'NH_FW_BAD_SIGNATURE';
  if (/blake2b (digest )?mismatch/.test(message)) return 'NH_FW_DIGEST_MISMATCH';
  if (message.startsWith("Can't find file-resource for") || message.includes('twice')) return 'NH_FW_UNEXPECTED_ENTRY';
  if (message.endsWith('not found in archive')) return 'NH_FW_MISSING_RESOURCE';
  if (message.includes('length mismatch') || /wrote \d+ bytes/.test(message)) return 'NH_FW_LENGTH_MISMATCH';
  return 'NH_FW_MALFORMED';
}

/** The stricter of `fwup -V` and `fwup -a` for one key: undefined when both accept. */
export function expectedVerdict(
  fixture: string,
  verifyCase: 'verify_with_key' | 'verify_with_other_key',
  applyCase?: 'apply_with_key',
): { code: FirmwareVerificationCode; message: string } | undefined {
  const verify = recorded(fixture, verifyCase);
  if (verify.exit_code !== 0) {
    const message = fwupError(verify);
    return { code: codeForFwupMessage(message), message };
  }
  if (applyCase) {
    const apply = recorded(fixture, applyCase);
    if (apply.exit_code !== 0) {
      const message = fwupError(apply);
      return { code: codeForFwupMessage(message), message };
    }
  }
  return undefined;
}

/** `fwup -m` output without the meta-nickname line (we do not ship fwup's word table). */
export function fwupMetadataWithoutNickname(run: RecordedRun): string {
  return (run.stdout ?? '')
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('meta-nickname='))
    .map((line) => `${line}\n`)
    .join('');
}

/** Splits bytes into chunks of `size` (the last may be shorter). */
export function chunked(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

export async function* iterate(chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield chunk;
}

export async function collect(source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of source) parts.push(part.slice());
  return new Uint8Array(Buffer.concat(parts));
}
