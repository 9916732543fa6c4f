import { parseArgs } from 'node:util';
import { createDeviceCertificateFiles, createSignerCaFiles } from '../../provisioning/certificates.js';
import { ensureAbsent, writeNewFile } from '../../provisioning/key-files.js';
import { createPkcs11DeviceCsr } from '../../provisioning/pkcs11-csr.js';
import { usageFailure } from './keys-option.js';
import { parseOrUsage, runProvisioning } from './provisioning-output.js';

const USAGE = `Usage: nerves-hub-link cert signer create NAME [--common-name CN] [--organization O] [--years N]
       nerves-hub-link cert device create --identifier ID (--signer NAME | --signer-cert F --signer-key F)
                                          [--csr FILE] [--organization O] [--years N] [--out-dir DIR]
       nerves-hub-link cert device csr --identifier ID --uri PKCS11_URI --module PATH
                                       [--pin-env VAR | --pin-file FILE] [--organization O] [-o FILE]

Device identity for NervesHub's mutual TLS.

  signer create   a signer CA (ECDSA P-256, self-signed, CA with path length 0, key identifiers as
                  NervesHub expects): NAME-cert.pem to register with NervesHub, NAME-key.pem (0600)
                  to keep offline. Default validity 31 years.
  device create   a device key and certificate, CN = ID, signed by the signer: DIR/ID-cert.pem and
                  DIR/ID-key.pem (0600). With --csr, certifies the request's key (e.g. one in an
                  HSM) and writes only the certificate. Default validity 31 years.
  device csr      a certificate request for a key in a PKCS#11 token, signed by the token through
                  OpenSSL's pkcs11 engine (needs openssl and libengine-pkcs11-openssl). Writes ID.csr.

No file is ever overwritten. Options:
  --signer NAME          NAME-cert.pem and NAME-key.pem, as 'signer create NAME' wrote them
  --signer-cert F, --signer-key F   the signer's files, named one by one
  --identifier ID        the device identifier (certificate CN)
  --common-name CN       signer CN (default "nerves-hub-link signer")
  --organization O       subject O (e.g. your NervesHub org)
  --years N              validity in years
  --csr FILE             certify the key of this request (PEM or DER)
  --out-dir DIR          where device files go (default .)
  --uri URI              PKCS#11 URI of the key, e.g. pkcs11:token=dev;object=device-key;type=private
  --module PATH          the token's PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so
  --pin-env VAR          environment variable holding the token PIN
  --pin-file FILE        file holding the token PIN
  -o, --output FILE      request file (default ID.csr)
  -h, --help             show this help

Exit codes: 0 done, 1 refused, 2 usage error.
`;

const OPTIONS = {
  signer: { type: 'string' },
  'signer-cert': { type: 'string' },
  'signer-key': { type: 'string' },
  identifier: { type: 'string' },
  'common-name': { type: 'string' },
  organization: { type: 'string' },
  years: { type: 'string' },
  csr: { type: 'string' },
  'out-dir': { type: 'string' },
  uri: { type: 'string' },
  module: { type: 'string' },
  'pin-env': { type: 'string' },
  'pin-file': { type: 'string' },
  output: { type: 'string', short: 'o' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

function years(values: Values): number | undefined | string {
  if (values.years === undefined) return undefined;
  const n = Number(values.years);
  return Number.isInteger(n) && n >= 1 && n <= 100 ? n : '--years must be a whole number from 1 to 100';
}

/** `nerves-hub-link cert`. */
export async function run(argv: string[]): Promise<number> {
  const parsed = parseOrUsage('cert', USAGE, () => parseArgs({ args: argv, allowPositionals: true, options: OPTIONS }));
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const y = years(values);
  if (typeof y === 'string') return usageFailure('cert', y, USAGE);
  const org = values.organization === undefined ? {} : { organization: values.organization };
  const what = positionals.slice(0, 2).join(' ');
  if (what === 'signer create') {
    const name = positionals[2];
    if (name === undefined || positionals.length > 3) return usageFailure('cert', 'expected "signer create NAME"', USAGE);
    return runProvisioning('cert', USAGE, async () => {
      const files = await createSignerCaFiles(name, { ...org, ...(y ? { years: y } : {}), ...(values['common-name'] ? { commonName: values['common-name'] } : {}) });
      const c = files.certificate;
      process.stdout.write(
        `Created ${files.certFile} and ${files.keyFile} (mode 0600: keep it offline, it vouches for every device).\n` +
          `Serial ${c.serial}, valid until ${c.notAfter.toISOString()}.\n` +
          `Register ${files.certFile} with NervesHub (the org's signing certificates / CA certificates).\n`,
      );
      return 0;
    });
  }
  if (positionals.length !== 2 || (what !== 'device create' && what !== 'device csr')) {
    return usageFailure('cert', 'expected "signer create NAME", "device create" or "device csr"', USAGE);
  }
  const identifier = values.identifier;
  if (identifier === undefined) return usageFailure('cert', '--identifier ID is required', USAGE);
  if (what === 'device create') {
    const signerCert = values['signer-cert'] ?? (values.signer === undefined ? undefined : `${values.signer}-cert.pem`);
    const signerKey = values['signer-key'] ?? (values.signer === undefined ? undefined : `${values.signer}-key.pem`);
    if (signerCert === undefined || signerKey === undefined) return usageFailure('cert', 'give --signer NAME (or --signer-cert and --signer-key)', USAGE);
    return runProvisioning('cert', USAGE, async () => {
      const files = await createDeviceCertificateFiles({
        identifier,
        signerCertFile: signerCert,
        signerKeyFile: signerKey,
        ...org,
        ...(y ? { years: y } : {}),
        ...(values.csr ? { csrFile: values.csr } : {}),
        ...(values['out-dir'] ? { outDir: values['out-dir'] } : {}),
      });
      const auth = { type: 'certificate', certFile: files.certFile, keyFile: files.keyFile ?? 'KEY-IN-TOKEN' };
      process.stdout.write(
        `Created ${files.certFile}${files.keyFile ? ` and ${files.keyFile} (mode 0600)` : ''} for device ${identifier}, serial ${files.certificate.serial}, valid until ${files.certificate.notAfter.toISOString()}.\n` +
          (files.keyFile ? `device.json: "auth": ${JSON.stringify(auth)}\n` : `Use it with the token's key (device.json "auth": {"type": "pkcs11", "certFile": "${files.certFile}", …}).\n`),
      );
      return 0;
    });
  }
  if (values.uri === undefined || values.module === undefined) return usageFailure('cert', 'device csr needs --uri and --module', USAGE);
  if (values['pin-env'] !== undefined && values['pin-file'] !== undefined) return usageFailure('cert', 'give --pin-env or --pin-file, not both', USAGE);
  const uri = values.uri;
  const modulePath = values.module;
  const output = values.output ?? `${identifier}.csr`;
  return runProvisioning('cert', USAGE, async () => {
    await ensureAbsent([output]);
    const csr = await createPkcs11DeviceCsr({
      identifier,
      uri,
      modulePath,
      ...org,
      ...(values['pin-env'] ? { pinEnv: values['pin-env'] } : {}),
      ...(values['pin-file'] ? { pinFile: values['pin-file'] } : {}),
    });
    await writeNewFile(output, csr.csrPem, 0o644);
    process.stdout.write(
      `Created ${output}: a request for ${identifier} signed by the token's key.\n` +
        `On the machine with the signer key: nerves-hub-link cert device create --signer NAME --identifier ${identifier} --csr ${output}\n`,
    );
    return 0;
  });
}
