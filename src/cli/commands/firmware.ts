import { parseArgs } from 'node:util';
import { readFwupPrivateKey } from '../../provisioning/fwup-keys.js';
import { signFirmware } from '../../provisioning/sign-firmware.js';
import { usageFailure } from './keys-option.js';
import { parseOrUsage, runProvisioning } from './provisioning-output.js';

const USAGE = `Usage: nerves-hub-link firmware sign IN.fw --key NAME.priv [-o OUT.fw]

Signs (or re-signs) a firmware archive like 'fwup -S': Ed25519 over meta.conf exactly as stored,
written as the first entry; any old signature is replaced, every other entry is copied unchanged
and in order. The result is verified with the key's public key before it replaces OUT.fw (default:
IN.fw itself). Streams: memory stays small whatever the archive's size.

Options:
  -k, --key FILE     fwup private key (NAME.priv from 'keys create' or 'fwup -g'; mode 0600)
  -o, --output FILE  where the signed archive goes (default: replace IN.fw)
  -h, --help         show this help

Exit codes: 0 signed, 1 refused (corrupt archive, public or unprotected key), 2 usage error.
`;

/** `nerves-hub-link firmware`. */
export async function run(argv: string[]): Promise<number> {
  const parsed = parseOrUsage('firmware', USAGE, () =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      options: { key: { type: 'string', short: 'k' }, output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } },
    }),
  );
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const [action, input, ...extra] = positionals;
  if (action !== 'sign' || input === undefined || extra.length > 0) return usageFailure('firmware', 'expected "sign IN.fw"', USAGE);
  if (values.key === undefined) return usageFailure('firmware', '--key NAME.priv is required', USAGE);
  const key = values.key;
  const output = values.output ?? input;
  return runProvisioning('firmware', USAGE, async () => {
    const privateKey = await readFwupPrivateKey(key);
    const result = await signFirmware({ input, output, privateKey });
    const m = result.metadata;
    process.stdout.write(
      `Signed ${output}${result.replacedSignature ? ' (old signature replaced)' : ''}: ${m.product ?? '?'} ${m.version ?? '?'}, uuid ${m.uuid}\n` +
        `Devices must trust public key ${result.publicKey}\n`,
    );
    return 0;
  });
}
