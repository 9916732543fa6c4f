import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { encodeCompressedDates } from '../atecc508a/compressed-certificate.js';
import type { NervesKeyCertificateSet } from '../atecc508a/nerveskey.js';
import { NERVESKEY_OTP_MAGIC, NERVESKEY_PRIVATE_KEY_SLOT, NERVESKEY_SLOTS } from '../atecc508a/nerveskey.js';
import type { DecompressCertificateOptions } from '../atecc508a/nerveskey-template.js';
import { assembleCertificate, nervesKeyTbs } from '../atecc508a/nerveskey-template.js';
import type { SimulatedAtecc508aOptions } from './simulated-atecc508a.js';

/**
 * The slot contents of a provisioned NervesKey, for {@link nervesKeySimulatorOptions}.
 *
 * @example
 * ```ts
 * const contents: NervesKeyContents = { serialNumber, manufacturerSerialNumber: 'NK-0001', devicePublicKey, deviceCompressed, signerPublicKey, signerCompressed };
 * ```
 */
export interface NervesKeyContents {
  /** 9-byte chip serial number. */
  serialNumber: Uint8Array;
  /** Manufacturer serial number written to OTP (the certificate CN). */
  manufacturerSerialNumber: string;
  /** Board name written to OTP (default `NervesKey`). */
  boardName?: string;
  /** Public key (64 bytes X‖Y) of the slot-0 private key. */
  devicePublicKey: Uint8Array;
  /** Compressed device certificate (72 bytes). */
  deviceCompressed: Uint8Array;
  /** Signer public key (64 bytes X‖Y). */
  signerPublicKey: Uint8Array;
  /** Compressed signer certificate (72 bytes). */
  signerCompressed: Uint8Array;
  /** Which slots to fill (default `primary`: 10/11/12; `aux`: 9/14/15). */
  certificateSet?: NervesKeyCertificateSet;
}

/**
 * Lays out NervesKey contents as the provisioning tools do (OTP "Nrvs" header, certificate slots,
 * slot-0 public key) for a {@link SimulatedAtecc508a}.
 *
 * @example
 * ```ts
 * const chip = new SimulatedAtecc508a(nervesKeySimulatorOptions(contents));
 * ```
 */
export function nervesKeySimulatorOptions(contents: NervesKeyContents): SimulatedAtecc508aOptions {
  const otp = new Uint8Array(64);
  otp.set(NERVESKEY_OTP_MAGIC, 0);
  const msn = new TextEncoder().encode(contents.manufacturerSerialNumber);
  if (msn.length > 32) throw new RangeError('manufacturerSerialNumber is at most 32 bytes');
  otp[5] = msn.length > 16 ? 1 : 0; // flags: long serial number
  otp.set(new TextEncoder().encode(contents.boardName ?? 'NervesKey').subarray(0, 10), 6);
  otp.set(msn, 16);
  const slots = NERVESKEY_SLOTS[contents.certificateSet ?? 'primary'];
  const signerSlot = new Uint8Array(72);
  signerSlot.set(contents.signerPublicKey.subarray(0, 64));
  return {
    serialNumber: contents.serialNumber,
    otp,
    slots: { [slots.deviceCertificate]: contents.deviceCompressed, [slots.signerPublicKey]: signerSlot, [slots.signerCertificate]: contents.signerCompressed },
    publicKeys: { [NERVESKEY_PRIVATE_KEY_SLOT]: contents.devicePublicKey },
  };
}

/**
 * Options of {@link createNervesKeyImage}.
 *
 * @example
 * ```ts
 * const options: NervesKeyImageOptions = { manufacturerSerialNumber: 'NK-0001', devicePublicKeyPem: hsmPublicKeyPem };
 * ```
 */
export interface NervesKeyImageOptions {
  /** The device identifier (certificate CN). */
  manufacturerSerialNumber: string;
  /** Public key of the device key (SPKI PEM), e.g. a key in SoftHSM standing in for slot 0. Default: a new key pair. */
  devicePublicKeyPem?: string;
  /** Reuse this signer (PKCS#8 PEM of a P-256 key) instead of creating one. */
  signerKeyPem?: string;
  /** Chip serial number (default: random, starting 01 23 like real parts). */
  serialNumber?: Uint8Array;
  /** Issue time, to the hour (default: the current hour; years 2000–2031). */
  issuedAt?: Date;
  /** Device certificate validity in years (default 31, as `mix nerves_key.device`). */
  deviceValidityYears?: number;
  /** Signer certificate validity in years (default 1). */
  signerValidityYears?: number;
  /** Which slots to fill (default `primary`). */
  certificateSet?: NervesKeyCertificateSet;
}

/**
 * A provisioned NervesKey made up for tests: signer and device certificates issued with the
 * NervesKey templates and stored compressed, ready for a {@link SimulatedAtecc508a}.
 *
 * @example
 * ```ts
 * const image = createNervesKeyImage({ manufacturerSerialNumber: 'NK-0001' });
 * server.registerSignerCa(image.signerCertificatePem);
 * ```
 */
export interface NervesKeyImage {
  /** Options for `new SimulatedAtecc508a(...)`. */
  simulatorOptions: SimulatedAtecc508aOptions;
  /** What went into the slots. */
  contents: NervesKeyContents;
  /** The signer certificate (register it as the CA NervesHub trusts). */
  signerCertificatePem: string;
  /** The signer's private key, PKCS#8 PEM. */
  signerKeyPem: string;
  /** The device certificate. */
  deviceCertificatePem: string;
  /** The device private key (PKCS#8 PEM) when one was generated, else empty. */
  devicePrivateKeyPem: string;
}

function rawPublicKey(key: KeyObject): Uint8Array {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.crv !== 'P-256' || !jwk.x || !jwk.y) throw new TypeError('a NervesKey holds P-256 keys');
  return Uint8Array.from([...Buffer.from(jwk.x, 'base64url'), ...Buffer.from(jwk.y, 'base64url')]);
}

function pemOf(der: Uint8Array): string {
  return `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
}

function issue(
  encodedDates: Uint8Array,
  validity: { notBefore: Date; notAfter: Date },
  options: DecompressCertificateOptions,
  signerKey: KeyObject,
  header: [templateAndChain: number, snSourceAndVersion: number],
): { der: Uint8Array; compressed: Uint8Array } {
  const tbs = nervesKeyTbs({ encodedDates, ...validity }, options);
  const signature = new Uint8Array(sign('sha256', tbs, { key: signerKey, dsaEncoding: 'ieee-p1363' }));
  const compressed = Uint8Array.from([...signature, ...encodedDates, 0x00, 0x00, ...header, 0x00]);
  return { der: assembleCertificate(tbs, signature), compressed };
}

function validityOf(issuedAt: Date, years: number): { notBefore: Date; notAfter: Date } {
  const notBefore = new Date(Date.UTC(issuedAt.getUTCFullYear(), issuedAt.getUTCMonth(), issuedAt.getUTCDate(), issuedAt.getUTCHours()));
  const notAfter = years === 0 ? new Date(Date.UTC(9999, 11, 31, 23, 59, 59)) : new Date(Date.UTC(notBefore.getUTCFullYear() + years, notBefore.getUTCMonth(), notBefore.getUTCDate(), notBefore.getUTCHours()));
  return { notBefore, notAfter };
}

/**
 * Makes up a provisioned NervesKey: a `CN=Signer` signer and a device certificate issued with the
 * NervesKey templates, compressed into their 72-byte slot form, plus the OTP and slot layout.
 *
 * @example
 * ```ts
 * const image = createNervesKeyImage({ manufacturerSerialNumber: 'NK-0001', devicePublicKeyPem });
 * const chip = new SimulatedAtecc508a(image.simulatorOptions);
 * ```
 */
export function createNervesKeyImage(options: NervesKeyImageOptions): NervesKeyImage {
  const signerKey = options.signerKeyPem ? createPrivateKey(options.signerKeyPem) : generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  let devicePrivateKeyPem = '';
  let devicePublic: KeyObject;
  if (options.devicePublicKeyPem) {
    devicePublic = createPublicKey(options.devicePublicKeyPem);
  } else {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    devicePublic = pair.publicKey;
    devicePrivateKeyPem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  }
  const issuedAt = options.issuedAt ?? new Date();
  const serialNumber = options.serialNumber ?? Uint8Array.from([0x01, 0x23, ...randomBytes(7)]);
  const signerPublicKey = rawPublicKey(createPublicKey(signerKey));
  const devicePublicKey = rawPublicKey(devicePublic);

  const signerYears = options.signerValidityYears ?? 1;
  const signer = issue(encodeCompressedDates(issuedAt, signerYears), validityOf(issuedAt, signerYears), { template: 'nerveskey-signer', publicKey: signerPublicKey }, signerKey, [0x10, 0xa0]);
  const deviceYears = options.deviceValidityYears ?? 31;
  const device = issue(
    encodeCompressedDates(issuedAt, deviceYears),
    validityOf(issuedAt, deviceYears),
    { template: 'nerveskey-device', deviceSerialNumber: serialNumber, publicKey: devicePublicKey, manufacturerSerialNumber: options.manufacturerSerialNumber, signerPublicKey },
    signerKey,
    [0x00, 0xb0],
  );
  const contents: NervesKeyContents = {
    serialNumber,
    manufacturerSerialNumber: options.manufacturerSerialNumber,
    devicePublicKey,
    deviceCompressed: device.compressed,
    signerPublicKey,
    signerCompressed: signer.compressed,
    ...(options.certificateSet ? { certificateSet: options.certificateSet } : {}),
  };
  return {
    simulatorOptions: nervesKeySimulatorOptions(contents),
    contents,
    signerCertificatePem: pemOf(signer.der),
    signerKeyPem: signerKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    deviceCertificatePem: pemOf(device.der),
    devicePrivateKeyPem,
  };
}
