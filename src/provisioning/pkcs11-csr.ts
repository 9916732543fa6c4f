import { execFile } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NervesHubError, isNervesHubError } from '../errors.js';
import { openSslConfigText, PKCS11_ENGINE_ID } from '../pkcs11/openssl-engine.js';
import { readPin, withPinFile, type PinSource } from '../pkcs11/pin-source.js';
import { describePkcs11Object, formatPkcs11Uri, parsePkcs11Uri } from '../pkcs11/pkcs11-uri.js';
import { checkCommonName } from './certificates.js';
import { commonNameOf, readCsr, toPem } from './x509/certificate.js';

/**
 * Options of {@link createPkcs11DeviceCsr}: the same key URI, module and PIN source as the
 * device's `Pkcs11CertificateProvider` (`nerves-hub-link/pkcs11`).
 *
 * @example
 * ```ts
 * const options: Pkcs11CsrOptions = {
 *   identifier: 'NH-0001',
 *   uri: 'pkcs11:token=device;object=device-key;type=private',
 *   modulePath: '/usr/lib/softhsm/libsofthsm2.so',
 *   pinEnv: 'DEVICE_TOKEN_PIN',
 * };
 * ```
 */
export interface Pkcs11CsrOptions extends PinSource {
  /** The device identifier (the request's CN). */
  identifier: string;
  /** Subject O, e.g. the NervesHub org. */
  organization?: string;
  /** RFC 7512 URI of the private key in the token. */
  uri: string;
  /** The token's PKCS#11 module. */
  modulePath: string;
  /** libp11's engine, when not in a standard place. */
  enginePath?: string;
  /** The `openssl` command (default: from `PATH`). */
  openSslPath?: string;
  /** Aborts (kills `openssl`). */
  signal?: AbortSignal;
}

/** What {@link createPkcs11DeviceCsr} made. */
export interface Pkcs11Csr {
  /** The PKCS#10 request, PEM (`CERTIFICATE REQUEST`), signed by the token's key. */
  csrPem: string;
  /** The token key's public key, SPKI PEM. */
  publicKeyPem: string;
}

/** libp11 / OpenSSL reasons, mapped to the codes the PKCS#11 provider uses. */
const REASONS: Array<[RegExp, string, string]> = [
  [/PIN_INCORRECT|PIN incorrect/i, 'NH_PKCS11_PIN_INCORRECT', 'the token refused the PIN'],
  [/PIN_LOCKED|PIN locked/i, 'NH_PKCS11_PIN_INCORRECT', 'the token PIN is locked'],
  [/OBJECT_NOT_FOUND|object not found|private key was not found/i, 'NH_PKCS11_OBJECT_NOT_FOUND', 'the token has no such private key'],
  [/UI_PROCESSING_ERROR|UI routines/i, 'NH_PKCS11_PIN_UNAVAILABLE', 'the token needs a PIN'],
  [/invalid engine|could not load the shared library|no such engine|ENGINE_UNKNOWN|dso not found/i, 'NH_PKCS11_ENGINE_NOT_REGISTERED', 'openssl could not load the pkcs11 engine'],
];

/** `-subj` text: `\`, `/`, `+` and `=` are escaped (the request's CN is checked afterwards anyway). */
function subjectArgument(identifier: string, organization: string | undefined): string {
  const esc = (value: string): string => value.replace(/[\\/+=]/g, (c) => `\\${c}`);
  return `${organization === undefined ? '' : `/O=${esc(organization)}`}/CN=${esc(identifier)}`;
}

function runOpenSsl(tool: string, args: string[], env: NodeJS.ProcessEnv, signal: AbortSignal | undefined): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(tool, args, { env, encoding: 'utf8', timeout: 60_000, maxBuffer: 1024 * 1024, ...(signal ? { signal } : {}) }, (error, _stdout, stderr) => {
      const err = error as (NodeJS.ErrnoException & { code?: string | number }) | null;
      if (err && err.code === 'ENOENT') {
        reject(new NervesHubError('NH_PROV_CSR_FAILED', `${tool} is not installed: install OpenSSL (Debian: apt-get install openssl)`));
        return;
      }
      if (err && err.name === 'AbortError') {
        reject(err);
        return;
      }
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stderr });
    });
  });
}

/**
 * Makes a certificate request (PKCS#10, ECDSA/SHA-256, CN = identifier) for a device key that
 * lives in a PKCS#11 token, signed by the token through the same path TLS uses: OpenSSL's pkcs11
 * engine (libp11) with the module and key URI of the device's `Pkcs11CertificateProvider`, the PIN
 * handed over in a short-lived 0600 file, never on a command line. Runs `openssl req` (Node cannot
 * sign arbitrary data with an engine key), then checks the request's signature and CN. Give the
 * request to `createDeviceCertificate({ csr })` on the machine that holds the signer key.
 *
 * @throws NervesHubError `NH_PKCS11_*` (engine, module, PIN, key), `NH_PROV_CERT_INVALID` (identifier),
 *   `NH_PROV_CSR_FAILED` (openssl missing or failing otherwise).
 * @example
 * ```ts
 * const { csrPem } = await createPkcs11DeviceCsr({
 *   identifier: 'NH-0001',
 *   uri: 'pkcs11:token=device;object=device-key;type=private',
 *   modulePath: '/usr/lib/softhsm/libsofthsm2.so',
 *   pinEnv: 'DEVICE_TOKEN_PIN',
 * });
 * ```
 */
export async function createPkcs11DeviceCsr(options: Pkcs11CsrOptions): Promise<Pkcs11Csr> {
  checkCommonName(options.identifier, 'the device identifier');
  if (options.organization !== undefined) checkCommonName(options.organization, 'the organization');
  const parsed = parsePkcs11Uri(options.uri);
  if (parsed.type !== undefined && parsed.type !== 'private') throw new NervesHubError('NH_PKCS11_URI_INVALID', 'invalid PKCS#11 URI (RFC 7512): the key URI must name type=private');
  if (parsed.object === undefined && parsed.id === undefined) throw new NervesHubError('NH_PKCS11_URI_INVALID', 'invalid PKCS#11 URI (RFC 7512): name the key with object= or id=');
  const { pinValue, ...rest } = parsed;
  const keyUri = formatPkcs11Uri({ ...rest, type: 'private' });
  const configText = openSslConfigText({ modulePath: options.modulePath, ...(options.enginePath ? { enginePath: options.enginePath } : {}) });
  if (!existsSync(options.modulePath)) {
    throw new NervesHubError('NH_PKCS11_MODULE_MISSING', `the PKCS#11 module ${options.modulePath} does not exist: install the token's module or fix modulePath`);
  }
  const pin = pinValue ?? (await readPin(options, options.signal));
  const dir = await mkdtemp(join(tmpdir(), 'nhl-csr-'));
  try {
    // The engine is registered through OPENSSL_CONF (at startup, before `-engine` looks it up); the
    // [req] section `openssl req` wants goes in its own -config, which must not load the engine again.
    const engineConfig = join(dir, 'engine.cnf');
    const reqConfig = join(dir, 'req.cnf');
    await writeFile(engineConfig, configText, { mode: 0o600 });
    await writeFile(reqConfig, '[req]\ndistinguished_name = nhl_dn\nstring_mask = utf8only\nutf8 = yes\n\n[nhl_dn]\n', { mode: 0o600 });
    const out = join(dir, 'request.der');
    const run = (key: string): Promise<{ code: number; stderr: string }> =>
      runOpenSsl(
        options.openSslPath ?? 'openssl',
        ['req', '-new', '-config', reqConfig, '-engine', PKCS11_ENGINE_ID, '-keyform', 'engine', '-key', key, '-subj', subjectArgument(options.identifier, options.organization), '-utf8', '-sha256', '-outform', 'DER', '-out', out],
        { ...process.env, OPENSSL_CONF: engineConfig },
        options.signal,
      );
    const result = pin === undefined ? await run(keyUri) : await withPinFile(pin, (file) => run(`${keyUri}${keyUri.includes('?') ? '&' : '?'}pin-source=file:${file}`));
    if (result.code !== 0) {
      const reason = REASONS.find(([re]) => re.test(result.stderr));
      // libp11 echoes the key URI (with the PIN file's path, never the PIN); keep the first plain reason.
      const detail = result.stderr.split('\n').map((l) => l.trim()).find((l) => l !== '' && !/pin-source|^Engine ".*" set/.test(l)) ?? `exit code ${result.code}`;
      const cause = new Error(detail);
      if (reason) throw new NervesHubError(reason[1], `${reason[2]} (${describePkcs11Object(rest)} in ${options.modulePath})`, { cause });
      throw new NervesHubError('NH_PROV_CSR_FAILED', `openssl could not make the certificate request with ${describePkcs11Object(rest)}: ${detail}`, { cause });
    }
    const der = await readFile(out);
    let csr;
    try {
      csr = readCsr(der);
    } catch (error) {
      throw new NervesHubError('NH_PROV_CSR_FAILED', `openssl made an unusable certificate request: ${(error as Error).message}`, { cause: error });
    }
    const cn = commonNameOf(csr.subject);
    if (cn !== options.identifier) throw new NervesHubError('NH_PROV_CSR_FAILED', `openssl wrote CN '${cn ?? ''}' instead of '${options.identifier}'`);
    return { csrPem: toPem('CERTIFICATE REQUEST', der), publicKeyPem: createPublicKey({ key: csr.spki, format: 'der', type: 'spki' }).export({ format: 'pem', type: 'spki' }).toString() };
  } catch (error) {
    if (isNervesHubError(error) || options.signal?.aborted) throw error;
    throw new NervesHubError('NH_PROV_CSR_FAILED', `could not make the certificate request: ${(error as Error).message}`, { cause: error });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
