import { formatFwupMetadata } from '../../firmware/firmware-metadata.js';
import { readFirmwareMetadata } from '../../firmware/read-firmware-metadata.js';
import { FirmwareVerificationError } from '../../firmware/verification-error.js';
import { isUnreadableFileError, parseFirmwareCommandArgs, usageFailure } from './keys-option.js';

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
  const args = await parseFirmwareCommandArgs('metadata', argv, USAGE);
  if (typeof args === 'number') return args;
  const { file, keys } = args;
  try {
    const metadata = await readFirmwareMetadata(file, { publicKeys: keys });
    if (keys.length === 0) process.stderr.write('nerves-hub-link: note: signature not checked (no public key given)\n');
    process.stdout.write(args.json ? `${JSON.stringify(metadata)}\n` : formatFwupMetadata(metadata));
    return 0;
  } catch (error) {
    if (error instanceof FirmwareVerificationError) {
      if (args.json) process.stdout.write(`${JSON.stringify({ code: error.code, message: error.message })}\n`);
      process.stderr.write(`nerves-hub-link: ${error.message} (${error.code})\n`);
      return 1;
    }
    if (isUnreadableFileError(error)) {
      return usageFailure('metadata', `cannot read '${file}' (${(error as NodeJS.ErrnoException).code})`, USAGE);
    }
    throw error;
  }
}
