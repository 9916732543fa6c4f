import { parseArgs } from 'node:util';
import { createFwupKeyFiles, readFwupPublicKey } from '../../provisioning/fwup-keys.js';
import { usageFailure } from './keys-option.js';
import { parseOrUsage, runProvisioning } from './provisioning-output.js';

const USAGE = `Usage: nerves-hub-link keys create NAME
       nerves-hub-link keys show NAME [--json]

Firmware signing keys in fwup's format (what 'fwup -g' makes).

  create NAME   writes NAME.pub (base64 Ed25519 public key) and NAME.priv (base64 seed and public
                key, mode 0600); refuses when either exists
  show NAME     prints the public key (NAME.pub, or derived from NAME.priv) to paste into NervesHub
                (the product's firmware signing keys) and into device.json "fwupPublicKeys"

Options:
  --json        show: print {"publicKey", "fwupPublicKeys"}
  -h, --help    show this help

Exit codes: 0 done, 1 refused (e.g. a key exists), 2 usage error.
`;

/** `nerves-hub-link keys`. */
export async function run(argv: string[]): Promise<number> {
  const parsed = parseOrUsage('keys', USAGE, () =>
    parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }),
  );
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const [action, name, ...extra] = positionals;
  if ((action !== 'create' && action !== 'show') || name === undefined || extra.length > 0) {
    return usageFailure('keys', 'expected "create NAME" or "show NAME"', USAGE);
  }
  return runProvisioning('keys', USAGE, async () => {
    if (action === 'create') {
      const files = await createFwupKeyFiles(name);
      process.stdout.write(
        `Created ${files.publicKeyFile} and ${files.privateKeyFile} (mode 0600: keep it secret, it signs firmware).\n` +
          `Public key: ${files.publicKey}\n` +
          `Add it to NervesHub (the product's firmware signing keys) and to device.json "fwupPublicKeys".\n`,
      );
      return 0;
    }
    const publicKey = await readFwupPublicKey(name);
    process.stdout.write(values.json ? `${JSON.stringify({ publicKey, fwupPublicKeys: [publicKey] })}\n` : `${publicKey}\n`);
    return 0;
  });
}
