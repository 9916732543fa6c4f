import { createHash, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import type { CertificateProvider, TlsClientMaterial } from '../auth/certificate-provider.js';
import { parseCertificateFile } from '../auth/pem.js';
import { NervesHubError, isNervesHubError, invalidOptions } from '../errors.js';
import { PKCS11_ENGINE_ID, checkPkcs11Engine } from './openssl-engine.js';
import type { PinSource } from './pin-source.js';
import { readPin, withPinFile } from './pin-source.js';
import { listTokens, readCertificateObject, tokenMatches } from './pkcs11-tool.js';
import type { Pkcs11Uri } from './pkcs11-uri.js';
import { describePkcs11Object, formatPkcs11Uri, parsePkcs11Uri } from './pkcs11-uri.js';

/**
 * Options of {@link Pkcs11CertificateProvider}. Give at most one PIN source (`pinEnv`, `pinFile`
 * or `pin`); a `pin-value` in `uri` counts as one and is taken out of the URI.
 *
 * @example
 * ```ts
 * const options: Pkcs11CertificateProviderOptions = {
 *   uri: 'pkcs11:token=device;object=device-key;type=private',
 *   modulePath: '/usr/lib/softhsm/libsofthsm2.so',
 *   pinEnv: 'DEVICE_TOKEN_PIN',
 *   certFile: '/data/nerves-hub/cert.pem',
 * };
 * ```
 */
export interface Pkcs11CertificateProviderOptions extends PinSource {
  /** RFC 7512 URI of the private key (`type=private` is implied). */
  uri: string;
  /** The token's PKCS#11 module, e.g. `/usr/lib/softhsm/libsofthsm2.so`; must be the one the OpenSSL config registers. */
  modulePath: string;
  /** Device certificate (PEM or DER). Omit to read it from the token (needs `pkcs11-tool`). */
  certFile?: string;
  /** URI of the certificate object on the token; default: the key's URI with `type=cert`. */
  certUri?: string;
  /** Signer (intermediate) certificate to send after the device certificate. */
  signerCertFile?: string;
  /** CA bundle that authenticates the NervesHub **server**. Omit to use Node's default roots. */
  serverCaFile?: string;
  /** libp11's engine, when not in a standard place. */
  enginePath?: string;
  /** `pkcs11-tool` (opensc), when not on `PATH`. */
  pkcs11ToolPath?: string;
  /** The OpenSSL config path the fix messages should name. */
  openSslConfigFile?: string;
}

/** What {@link Pkcs11CertificateProvider.check} found. */
export interface Pkcs11CheckResult {
  /** Subject of the device certificate. */
  certificateSubject: string;
  /** Expiry of the device certificate (ISO 8601). */
  certificateValidTo: string;
  /** The key URI the engine uses (no PIN). */
  keyUri: string;
}

/** The engine's reasons, mapped to our codes. */
const ENGINE_REASONS: Array<[RegExp, string]> = [
  [/PIN_INCORRECT|PIN incorrect/i, 'NH_PKCS11_PIN_INCORRECT'],
  [/PIN_LOCKED|PIN locked/i, 'NH_PKCS11_PIN_INCORRECT'],
  [/OBJECT_NOT_FOUND|object not found/i, 'NH_PKCS11_OBJECT_NOT_FOUND'],
  [/UI_PROCESSING_ERROR|UI routines/i, 'NH_PKCS11_PIN_UNAVAILABLE'],
  [/KEY_VALUES_MISMATCH|key values mismatch/i, 'NH_PKCS11_CERT'],
  [/could not load the shared library|no such engine|ENGINE_UNKNOWN|dso not found/i, 'NH_PKCS11_ENGINE_NOT_REGISTERED'],
];

/**
 * A {@link CertificateProvider} whose private key stays in a PKCS#11 token: TLS signs through
 * OpenSSL's pkcs11 engine (libp11). The Node process must be started with an OpenSSL config that
 * registers the engine (`writeOpenSslConfig` + `--openssl-config=FILE`).
 *
 * Every call checks, in order: engine installed, module present, engine registered, PIN source,
 * certificate, then loads the key once through the engine (which logs in), so a misconfiguration
 * surfaces as a typed `NH_PKCS11_*` error before the handshake. The PIN reaches libp11 through a
 * short-lived 0600 file (`pin-source`), never in the URI the socket sees, and is never logged. A
 * PIN the token refused is not tried again (tokens lock after a few failures) until the source
 * gives a different one.
 *
 * @example
 * ```ts
 * const provider = new Pkcs11CertificateProvider({
 *   uri: 'pkcs11:token=device;object=device-key;type=private',
 *   modulePath: '/usr/lib/softhsm/libsofthsm2.so',
 *   pinEnv: 'DEVICE_TOKEN_PIN',
 *   certFile: '/data/nerves-hub/cert.pem',
 * });
 * await provider.check(); // typed errors before the first handshake
 * const link = new NervesHubLink({ socket: { url, auth: { type: 'certificate', provider }, firmware }, client, applier });
 * ```
 */
export class Pkcs11CertificateProvider implements CertificateProvider {
  readonly #options: Readonly<Pkcs11CertificateProviderOptions>;
  readonly #keyUri: Pkcs11Uri;
  readonly #keyUriText: string;
  readonly #uriPin: string | undefined;
  /** SHA-256 of the PIN the token last refused. */
  #refusedPin: string | undefined;

  /**
   * @throws TypeError for a missing `uri`/`modulePath` or more than one PIN source.
   * @throws NervesHubError `NH_PKCS11_URI_INVALID` for a bad URI (the message never holds it).
   */
  constructor(options: Pkcs11CertificateProviderOptions) {
    if (typeof options?.uri !== 'string' || options.uri === '') throw invalidOptions('Pkcs11CertificateProvider: uri is required');
    if (typeof options.modulePath !== 'string' || options.modulePath === '') throw invalidOptions('Pkcs11CertificateProvider: modulePath is required');
    const parsed = parsePkcs11Uri(options.uri);
    const sources = [options.pinEnv, options.pinFile, options.pin, parsed.pinValue].filter((s) => s !== undefined);
    if (sources.length > 1) throw invalidOptions('Pkcs11CertificateProvider: give one PIN source (pinEnv, pinFile, pin or the URI pin-value)');
    if (parsed.type !== undefined && parsed.type !== 'private') throw new NervesHubError('NH_PKCS11_URI_INVALID', 'invalid PKCS#11 URI (RFC 7512): the key URI must name type=private');
    if (parsed.object === undefined && parsed.id === undefined) throw new NervesHubError('NH_PKCS11_URI_INVALID', 'invalid PKCS#11 URI (RFC 7512): name the key with object= or id=');
    this.#uriPin = parsed.pinValue;
    const { pinValue: _dropped, ...rest } = parsed;
    this.#keyUri = { ...rest, type: 'private' };
    this.#keyUriText = formatPkcs11Uri(this.#keyUri);
    this.#options = Object.freeze({ ...options });
  }

  /** The key URI handed to the engine (never holds a PIN). */
  get keyUri(): string {
    return this.#keyUriText;
  }

  /**
   * Checks the whole path (engine, module, registration, token, PIN, key, certificate) without
   * connecting. Also lists the tokens with `pkcs11-tool` when installed, to tell a missing token
   * from a missing object.
   * @throws NervesHubError with an `NH_PKCS11_*` code naming what is missing.
   */
  async check(options?: { signal?: AbortSignal }): Promise<Pkcs11CheckResult> {
    await this.#checkToken(options?.signal);
    const material = await this.getTlsMaterial(options);
    const cert = new X509Certificate(material.certificateChain[0] as string);
    return { certificateSubject: cert.subject, certificateValidTo: new Date(cert.validTo).toISOString(), keyUri: this.#keyUriText };
  }

  /**
   * Reads the certificate, logs in and loads the key through the engine, and returns the material
   * (`privateKeyEngine: 'pkcs11'`, `privateKeyIdentifier`: the key URI without PIN).
   * @throws NervesHubError with an `NH_PKCS11_*` code.
   */
  async getTlsMaterial(options?: { signal?: AbortSignal }): Promise<TlsClientMaterial> {
    const signal = options?.signal;
    const o = this.#options;
    checkPkcs11Engine({ modulePath: o.modulePath, ...(o.enginePath ? { enginePath: o.enginePath } : {}), ...(o.openSslConfigFile ? { configFile: o.openSslConfigFile } : {}) });
    const pin = this.#uriPin ?? (await readPin(o, signal));
    const pinHash = pin === undefined ? undefined : createHash('sha256').update(pin).digest('hex');
    if (pinHash !== undefined && pinHash === this.#refusedPin) {
      throw new NervesHubError('NH_PKCS11_PIN_INCORRECT', `the token refused this PIN before; not trying it again (tokens lock after a few failures): fix the PIN (${pinWhere(o)})`);
    }
    const chain = await this.#certificates(signal);
    signal?.throwIfAborted();
    const load = (identifier: string): void => {
      createSecureContext({ cert: chain[0], privateKeyEngine: PKCS11_ENGINE_ID, privateKeyIdentifier: identifier });
    };
    try {
      if (pin === undefined) load(this.#keyUriText);
      else await withPinFile(pin, (file) => load(`${this.#keyUriText}${this.#keyUriText.includes('?') ? '&' : '?'}pin-source=file:${file}`));
    } catch (cause) {
      throw await this.#mapEngineError(cause, pin !== undefined, pinHash, signal);
    }
    const material: TlsClientMaterial = { certificateChain: chain, privateKeyEngine: PKCS11_ENGINE_ID, privateKeyIdentifier: this.#keyUriText };
    if (o.serverCaFile !== undefined) material.serverCaCertificates = await readCerts(o.serverCaFile, 'serverCaFile', signal);
    return material;
  }

  async #certificates(signal: AbortSignal | undefined): Promise<string[]> {
    const o = this.#options;
    let chain: string[];
    if (o.certFile !== undefined) {
      chain = await readCerts(o.certFile, 'certFile', signal);
    } else {
      const certUri = o.certUri !== undefined ? parsePkcs11Uri(o.certUri) : { ...this.#keyUri, type: 'cert' as const };
      const der = await readCertificateObject(o.modulePath, certUri, { ...(o.pkcs11ToolPath ? { toolPath: o.pkcs11ToolPath } : {}), ...(signal ? { signal } : {}) });
      try {
        chain = [new X509Certificate(der).toString()];
      } catch (cause) {
        throw new NervesHubError('NH_PKCS11_CERT', `the certificate object ${describePkcs11Object(certUri)} is not an X.509 certificate`, { cause });
      }
    }
    if (o.signerCertFile !== undefined) chain.push(...(await readCerts(o.signerCertFile, 'signerCertFile', signal)));
    return chain;
  }

  /** Lists tokens (when pkcs11-tool is there) to tell a missing token from a missing object. */
  async #checkToken(signal: AbortSignal | undefined): Promise<void> {
    const o = this.#options;
    const uri = this.#keyUri;
    if (uri.token === undefined && uri.serial === undefined && uri.manufacturer === undefined && uri.model === undefined) return;
    let tokens;
    try {
      tokens = await listTokens(o.modulePath, { ...(o.pkcs11ToolPath ? { toolPath: o.pkcs11ToolPath } : {}), ...(signal ? { signal } : {}) });
    } catch (error) {
      // pkcs11-tool is optional here: without it the engine still reports a missing object
      if (isNervesHubError(error) && error.code === 'NH_PKCS11_TOOL_MISSING') return;
      throw error;
    }
    if (!tokens.some((t) => tokenMatches(t, uri))) {
      const seen = tokens.map((t) => `"${t.label}"`).join(', ') || 'none';
      throw new NervesHubError('NH_PKCS11_TOKEN_NOT_FOUND', `no token matches ${describePkcs11Object(uri)} in ${o.modulePath} (tokens: ${seen}): check the token label and that it is initialized`);
    }
  }

  async #mapEngineError(cause: unknown, hadPin: boolean, pinHash: string | undefined, signal: AbortSignal | undefined): Promise<NervesHubError> {
    if (isNervesHubError(cause)) return cause;
    const e = cause as { code?: string; message?: string };
    const text = `${e.code ?? ''} ${e.message ?? ''}`;
    // the engine's message never holds our PIN: it only ever saw a pin-source path
    const clean = new Error(String(e.message ?? cause));
    const code = ENGINE_REASONS.find(([re]) => re.test(text))?.[1] ?? 'NH_PKCS11_KEY_LOAD';
    const what = describePkcs11Object(this.#keyUri);
    switch (code) {
      case 'NH_PKCS11_PIN_INCORRECT':
        this.#refusedPin = pinHash;
        return new NervesHubError(code, `the token refused the PIN for ${what}: fix the PIN (${pinWhere(this.#options)}); it will not be tried again`, { cause: clean });
      case 'NH_PKCS11_OBJECT_NOT_FOUND':
        await this.#checkToken(signal);
        return new NervesHubError(code, `the token has no private key ${what}: check object=/id= (pkcs11-tool --module ${this.#options.modulePath} --login -O)`, { cause: clean });
      case 'NH_PKCS11_PIN_UNAVAILABLE':
        return new NervesHubError(code, hadPin ? `the token did not take the PIN for ${what}` : `the token needs a PIN for ${what}: set pinEnv, pinFile or pin`, { cause: clean });
      case 'NH_PKCS11_CERT':
        return new NervesHubError(code, `the device certificate does not belong to the private key ${what}: reissue it for the token's public key`, { cause: clean });
      case 'NH_PKCS11_ENGINE_NOT_REGISTERED':
        return new NervesHubError(code, 'the OpenSSL pkcs11 engine is not registered in this Node process: start Node with --openssl-config=FILE (see writeOpenSslConfig)', { cause: clean });
      default:
        return new NervesHubError(code, `the pkcs11 engine could not load the private key ${what}: ${clean.message}`, { cause: clean });
    }
  }
}

function pinWhere(o: PinSource): string {
  if (o.pinEnv !== undefined) return `environment variable ${o.pinEnv}`;
  if (o.pinFile !== undefined) return `file ${o.pinFile}`;
  if (o.pin !== undefined) return 'the pin callback';
  return 'the URI pin-value';
}

async function readCerts(path: string, what: string, signal: AbortSignal | undefined): Promise<string[]> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path, signal ? { signal } : {}));
  } catch (cause) {
    if (signal?.aborted) throw cause;
    throw new NervesHubError('NH_PKCS11_CERT', `cannot read ${what} ${path}: check the path and its permissions`, { cause });
  }
  try {
    return parseCertificateFile(bytes);
  } catch (cause) {
    throw new NervesHubError('NH_PKCS11_CERT', `${what} ${path} does not hold a certificate in PEM or DER`, { cause });
  }
}
