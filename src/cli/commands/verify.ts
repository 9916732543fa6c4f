import { FirmwareVerifier } from '../../firmware/firmware-verifier.js';
import { isUnreadableFileError, parseFirmwareCommandArgs, usageFailure } from './keys-option.js';

const USAGE = `Usage: nerves-hub-link verify FILE --public-key KEY [--public-key KEY ...] [--public-key-file PATH ...] [--json]

Verifies a Nerves firmware archive like 'fwup -V': signature, meta.conf, every resource's length and
BLAKE2b-256, and zip integrity. At least one key is required (unsigned firmware is never accepted).

Options:
  --public-key KEY         trusted fwup public key (base64); repeat for key rotation
  -p, --public-key-file P  file holding a public key (base64 or 32 raw bytes); repeatable
  --json                   print one JSON object {"valid","code","message","metadata"}
  -h, --help               show this help

Exit codes: 0 valid, 1 invalid, 2 usage error.
`;

/** Message fwup prints for a good archive verified with a key. */
const VALID_MESSAGE = 'Valid archive with a good signature';

/** `nerves-hub-link verify`. */
export async function run(argv: string[]): Promise<number> {
  const args = await parseFirmwareCommandArgs('verify', argv, USAGE);
  if (typeof args === 'number') return args;
  const { file, keys } = args;
  let result;
  try {
    result = await new FirmwareVerifier({ publicKeys: keys }).verify(file);
  } catch (error) {
    if (isUnreadableFileError(error)) {
      return usageFailure('verify', `cannot read '${file}' (${(error as NodeJS.ErrnoException).code})`, USAGE);
    }
    throw error;
  }
  if (args.json) {
    const out = result.valid
      ? { valid: true, code: null, message: VALID_MESSAGE, metadata: result.metadata }
      : { valid: false, code: result.code, message: result.message, metadata: null };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } else if (result.valid) {
    process.stdout.write(`${VALID_MESSAGE}\n`);
  } else {
    process.stderr.write(`nerves-hub-link: ${result.message} (${result.code})\n`);
  }
  return result.valid ? 0 : 1;
}
