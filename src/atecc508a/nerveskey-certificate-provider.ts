import type { CertificateProvider, TlsClientMaterial } from '../auth/certificate-provider.js';
import { checkPkcs11Engine, PKCS11_ENGINE_ID } from '../pkcs11/openssl-engine.js';
import { parsePkcs11Uri } from '../pkcs11/pkcs11-uri.js';
import type { Atecc508aTiming } from './atecc508a.js';
import { Atecc508a } from './atecc508a.js';
import type { I2cTransport } from './i2c-transport.js';
import type { I2cBusModule } from './linux-i2c.js';
import { openLinuxI2cTransport } from './linux-i2c.js';
import type { NervesKeyCertificateSet, NervesKeyInfo } from './nerveskey.js';
import { readNervesKey } from './nerveskey.js';

/**
 * How TLS signs with the NervesKey's slot-0 key: a PKCS#11 module for the chip (nerves_key_pkcs11
 * or Microchip cryptoauthlib built with PKCS#11), used through OpenSSL's pkcs11 engine exactly as
 * in `nerves-hub-link/pkcs11`.
 *
 * @example
 * ```ts
 * const signing: NervesKeySigningOptions = { uri: 'pkcs11:token=1', modulePath: '/usr/lib/nerves_key_pkcs11.so' };
 * ```
 */
export interface NervesKeySigningOptions {
  /** RFC 7512 URI of the slot-0 key in the chip's module (nerves_key_pkcs11: `pkcs11:token=<i2c bus>`). Must not carry a PIN. */
  uri: string;
  /**
   * The module's path. When given, the engine setup is checked before the first handshake
   * (engine installed, module present, engine registered with this module) and a failure says
   * what to fix. Omit only when the engine is registered some other way.
   */
  modulePath?: string;
  /** libp11's engine path when not in a standard place. */
  enginePath?: string;
}

/**
 * Options of {@link NervesKeyCertificateProvider}.
 *
 * @example
 * ```ts
 * const options: NervesKeyCertificateProviderOptions = {
 *   i2cBus: 1,
 *   signing: { uri: 'pkcs11:token=1', modulePath: '/usr/lib/nerves_key_pkcs11.so' },
 * };
 * ```
 */
export interface NervesKeyCertificateProviderOptions {
  /** Signing through the chip's PKCS#11 module (required: there is no file-key fallback). */
  signing: NervesKeySigningOptions;
  /** The bus to read the chip on; default: `/dev/i2c-<i2cBus>` through the optional `i2c-bus` package. */
  transport?: I2cTransport;
  /** Linux I²C bus number when no `transport` is given (default 1). */
  i2cBus?: number;
  /** 7-bit I²C address (default 0x60). */
  address?: number;
  /** `primary` (slots 10/11/12, default) or `aux` (9/14/15). */
  certificateSet?: NervesKeyCertificateSet;
  /** CA certificates that authenticate the NervesHub server. */
  serverCaCertificates?: Array<string | Uint8Array>;
  /** Chip timing overrides. */
  timing?: Partial<Atecc508aTiming>;
  /** An `i2c-bus`-compatible module to use instead of importing `i2c-bus`. */
  i2cBusModule?: I2cBusModule;
}

/**
 * Certificates from a NervesKey (ATECC508A/608A), key in the chip. At the first connection it
 * reads the chip over I²C, rebuilds the device and signer certificates from their compressed
 * slots and checks them against the signer key; later attempts reuse them. TLS signs through
 * OpenSSL's pkcs11 engine with the chip's PKCS#11 module (`privateKeyEngine: 'pkcs11'`); the
 * provider never returns a software key.
 *
 * The I²C transfers end before the handshake starts, so they never interleave with the PKCS#11
 * module's own use of the chip.
 *
 * @example
 * ```ts
 * const provider = new NervesKeyCertificateProvider({
 *   i2cBus: 1,
 *   signing: { uri: 'pkcs11:token=1', modulePath: '/usr/lib/nerves_key_pkcs11.so' },
 * });
 * const socket = new NervesHubSocket({ url, auth: { type: 'certificate', provider }, firmware });
 * ```
 */
export class NervesKeyCertificateProvider implements CertificateProvider {
  readonly #options: Readonly<NervesKeyCertificateProviderOptions>;
  #info: NervesKeyInfo | undefined;
  #engineChecked = false;

  /** @throws TypeError on missing signing options or a bad bus; NervesHubError `NH_PKCS11_URI_INVALID` on a bad URI */
  constructor(options: NervesKeyCertificateProviderOptions) {
    const signing = options?.signing;
    if (typeof signing?.uri !== 'string' || signing.uri === '') {
      throw new TypeError('NervesKeyCertificateProvider: signing.uri is required (the key stays in the chip: sign through its PKCS#11 module)');
    }
    if (parsePkcs11Uri(signing.uri).pinValue !== undefined) throw new TypeError('NervesKeyCertificateProvider: signing.uri must not contain pin-value');
    if (options.transport === undefined && options.i2cBus !== undefined && (!Number.isInteger(options.i2cBus) || options.i2cBus < 0)) {
      throw new TypeError('NervesKeyCertificateProvider: i2cBus must be a non-negative integer');
    }
    this.#options = Object.freeze({ ...options, signing: Object.freeze({ ...signing }) });
  }

  /**
   * Reads the chip (once) and returns what it holds, certificates rebuilt.
   * @throws Atecc508aError naming the step, zone or slot that failed
   */
  async readInfo(options?: { signal?: AbortSignal }): Promise<NervesKeyInfo> {
    if (this.#info) return this.#info;
    const o = this.#options;
    const bus = o.i2cBus ?? 1;
    const transport = o.transport ?? (await openLinuxI2cTransport(bus, o.i2cBusModule ? { i2cBusModule: o.i2cBusModule } : {}));
    try {
      const chip = new Atecc508a({
        transport,
        ...(o.address !== undefined ? { address: o.address } : {}),
        ...(o.timing ? { timing: o.timing } : {}),
        ...(o.transport ? {} : { busName: `/dev/i2c-${bus}` }),
      });
      this.#info = await readNervesKey(chip, { ...(o.certificateSet ? { certificateSet: o.certificateSet } : {}), ...(options?.signal ? { signal: options.signal } : {}) });
      return this.#info;
    } finally {
      if (!o.transport) await transport.close?.().catch(() => undefined);
    }
  }

  /**
   * The chip's certificates and the PKCS#11 key reference.
   * @throws Atecc508aError for chip failures; NervesHubError `NH_PKCS11_*` when the engine setup is incomplete
   */
  async getTlsMaterial(options?: { signal?: AbortSignal }): Promise<TlsClientMaterial> {
    const { signing, serverCaCertificates } = this.#options;
    if (signing.modulePath !== undefined && !this.#engineChecked) {
      checkPkcs11Engine({ modulePath: signing.modulePath, ...(signing.enginePath ? { enginePath: signing.enginePath } : {}) });
      this.#engineChecked = true;
    }
    const info = await this.readInfo(options);
    return {
      certificateChain: [info.deviceCertificatePem, info.signerCertificatePem],
      privateKeyEngine: PKCS11_ENGINE_ID,
      privateKeyIdentifier: signing.uri,
      ...(serverCaCertificates ? { serverCaCertificates } : {}),
    };
  }
}
