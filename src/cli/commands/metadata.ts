import { parseArgs } from 'node:util';
import { formatFwupMetadata } from '../../firmware/firmware-metadata.js';
import { readFirmwareMetadata } from '../../firmware/read-firmware-metadata.js';
import { FirmwareVerificationError } from '../../firmware/verification-error.js';
import { PUBLIC_KEY_OPTIONS, UsageError, collectPublicKeys, usageFailure } from './keys-option.js';

const USAGE = `Usage: nerves-hub-link metadata FILE [--public-key KEY ...] [--public-key-file PATH ...] [--json]

Prints a firmware archive's metadata like 'fwup -m' (key=value lines with fwup's quoting; no
meta-nickname). Only the signature and meta.conf are read. With keys the signature must verify;
without keys it is NOT checked (a note goes to stderr).

Options:
  --public-key KEY         fwup public key (base64); repeatable
  -p, --public-key-file P  file holding a public key; repeatable
  --json                   print the metadata as one JSON object
  -h, --help               show this help

Exit codes: 0 printed, 1 archive rejected, 2 usage error.
`;

/** `nerves-hub-link metadata`. */
export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { ...PUBLIC_KEY_OPTIONS, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (error) {
    return usageFailure('metadata', (error as Error).message, USAGE);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length !== 1) return usageFailure('metadata', 'expected exactly one FILE', USAGE);
  const file = positionals[0]!;
  let keys: Uint8Array[];
  try {
    keys = await collectPublicKeys(values);
  } catch (error) {
    if (error instanceof UsageError) return usageFailure('metadata', error.message, USAGE);
    throw error;
  }
  try {
    const metadata = await readFirmwareMetadata(file, { publicKeys: keys });
    if (keys.length === 0) process.stderr.write('nerves-hub-link: note: signature not checked (no public key given)\n');
    process.stdout.write(values.json ? `${JSON.stringify(metadata)}\n` : formatFwupMetadata(metadata));
    return 0;
  } catch (error) {
    if (error instanceof FirmwareVerificationError) {
      if (values.json) process.stdout.write(`${JSON.stringify({ code: error.code, message: error.message })}\n`);
      process.stderr.write(`nerves-hub-link: ${error.message} (${error.code})\n`);
      return 1;
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES') {
      return usageFailure('metadata', `cannot read '${file}' (${code})`, USAGE);
    }
    throw error;
  }
}
