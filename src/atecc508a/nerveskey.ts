import { X509Certificate, createPublicKey } from 'node:crypto';
import type { Atecc508a } from './atecc508a.js';
import { Atecc508aError, Atecc508aErrorCodes } from './atecc-error.js';
import { decompressCertificate, p256Spki } from './nerveskey-template.js';

/** Which certificate set of a NervesKey to use: the primary slots 10/11/12, or the auxiliary 9/14/15. */
export type NervesKeyCertificateSet = 'primary' | 'aux';

/** Slots of a NervesKey certificate set. @internal */
export const NERVESKEY_SLOTS = Object.freeze({
  primary: { deviceCertificate: 10, signerPublicKey: 11, signerCertificate: 12 },
  aux: { deviceCertificate: 9, signerPublicKey: 14, signerCertificate: 15 },
} as const);

/** Slot of the device private key. */
export const NERVESKEY_PRIVATE_KEY_SLOT = 0;

/** "Nrvs": the first 4 bytes of a NervesKey OTP zone. @internal */
export const NERVESKEY_OTP_MAGIC = Object.freeze([0x4e, 0x72, 0x76, 0x73] as const);

/**
 * What a provisioned NervesKey holds, with its certificates rebuilt.
 *
 * @example
 * ```ts
 * const info: NervesKeyInfo = await readNervesKey(chip);
 * console.log(info.manufacturerSerialNumber, info.deviceCertificatePem);
 * ```
 */
export interface NervesKeyInfo {
  /** The chip's 9-byte serial number. */
  serialNumber: Uint8Array;
  /** The manufacturer serial number from OTP: the device certificate's CN. */
  manufacturerSerialNumber: string;
  /** The board name from OTP (may be empty). */
  boardName: string;
  /** The device public key (64 bytes X‖Y) of the slot-0 private key. */
  publicKey: Uint8Array;
  /** The device certificate, DER. */
  deviceCertificate: Uint8Array;
  /** The signer certificate, DER. */
  signerCertificate: Uint8Array;
  /** The device certificate, PEM. */
  deviceCertificatePem: string;
  /** The signer certificate, PEM. */
  signerCertificatePem: string;
}

/** OTP layout: magic(4) flags(2, BE) board name(10) manufacturer SN(16, or 48 when flags = 1). @internal */
export function parseNervesKeyOtp(otp: Uint8Array): { boardName: string; manufacturerSerialNumber: string } {
  if (!NERVESKEY_OTP_MAGIC.every((b, i) => otp[i] === b)) {
    throw new Atecc508aError(Atecc508aErrorCodes.notNervesKey, { step: 'read NervesKey OTP data', zone: 'otp' }, 'the OTP zone does not start with "Nrvs": this chip is not a provisioned NervesKey');
  }
  const flags = ((otp[4] ?? 0) << 8) | (otp[5] ?? 0);
  const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8').replace(/\0+$/, '');
  const manufacturerSerialNumber = text(otp.subarray(16, flags === 1 ? 64 : 32));
  if (manufacturerSerialNumber === '') {
    throw new Atecc508aError(Atecc508aErrorCodes.notNervesKey, { step: 'read NervesKey OTP data', zone: 'otp' }, 'the manufacturer serial number (OTP bytes 16–31) is empty');
  }
  return { boardName: text(otp.subarray(6, 16)), manufacturerSerialNumber };
}

function pem(der: Uint8Array): string {
  return `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
}

function verifies(der: Uint8Array, signerPublicKey: Uint8Array): boolean {
  try {
    return new X509Certificate(der).verify(createPublicKey({ key: Buffer.from(p256Spki(signerPublicKey)), format: 'der', type: 'spki' }));
  } catch {
    return false;
  }
}

/**
 * Reads what makes a chip a provisioned NervesKey: the config zone (both lock bytes set, the chip
 * serial number) and the OTP zone (the NervesKey magic, board name, manufacturer serial number).
 *
 * @throws Atecc508aError naming the step and zone that failed (`NH_ATECC_NOT_NERVESKEY` for an unprovisioned chip)
 * @example
 * ```ts
 * const { manufacturerSerialNumber } = await readNervesKeyIdentity(new Atecc508a({ transport }));
 * ```
 * @internal
 */
export async function readNervesKeyIdentity(
  chip: Atecc508a,
  signal?: AbortSignal,
): Promise<{ serialNumber: Uint8Array; boardName: string; manufacturerSerialNumber: string }> {
  const config = await chip.readConfigZone(signal);
  // LockValue (data + OTP) is byte 86, LockConfig byte 87: 0x00 locked, 0x55 unlocked.
  if (config[86] !== 0x00 || config[87] !== 0x00) {
    throw new Atecc508aError(Atecc508aErrorCodes.notNervesKey, { step: 'check lock state', zone: 'config' }, 'the config or data zone is not locked: this chip is not provisioned (run the NervesKey provisioning first)');
  }
  const serialNumber = Uint8Array.from([...config.subarray(0, 4), ...config.subarray(8, 13)]);
  return { serialNumber, ...parseNervesKeyOtp(await chip.readOtpZone(signal)) };
}

/**
 * Reads a provisioned NervesKey and rebuilds its device and signer certificates: the config zone
 * (lock state, serial number), the OTP zone (manufacturer serial number), the certificate slots
 * and the slot-0 public key. Both certificates are checked against the signer's public key.
 *
 * @throws Atecc508aError naming the step, zone or slot that failed (`NH_ATECC_NOT_NERVESKEY` for an
 * unprovisioned chip, `NH_ATECC_CERT` when the slots do not make a valid chain)
 * @example
 * ```ts
 * const info = await readNervesKey(new Atecc508a({ transport: await openLinuxI2cTransport(1) }));
 * ```
 */
export async function readNervesKey(chip: Atecc508a, options: { certificateSet?: NervesKeyCertificateSet; signal?: AbortSignal } = {}): Promise<NervesKeyInfo> {
  const set = options.certificateSet ?? 'primary';
  const slots = NERVESKEY_SLOTS[set];
  if (slots === undefined) throw new TypeError(`readNervesKey: certificateSet must be 'primary' or 'aux'`);
  const signal = options.signal;
  const { serialNumber, boardName, manufacturerSerialNumber } = await readNervesKeyIdentity(chip, signal);
  const signerPublicKey = (await chip.readSlot(slots.signerPublicKey, 72, signal)).slice(0, 64);
  const signerCompressed = await chip.readSlot(slots.signerCertificate, 72, signal);
  const deviceCompressed = await chip.readSlot(slots.deviceCertificate, 72, signal);
  const publicKey = await chip.computePublicKey(NERVESKEY_PRIVATE_KEY_SLOT, signal);

  const signerCertificate = decompressCertificate(signerCompressed, { template: 'nerveskey-signer', publicKey: signerPublicKey });
  if (!verifies(signerCertificate, signerPublicKey)) {
    throw new Atecc508aError(
      Atecc508aErrorCodes.certificate,
      { step: 'verify signer certificate', slot: slots.signerCertificate },
      `the signer certificate rebuilt from slot ${slots.signerCertificate} does not verify with the public key in slot ${slots.signerPublicKey}: the ${set} certificate set is inconsistent`,
    );
  }
  const deviceCertificate = decompressCertificate(deviceCompressed, {
    template: 'nerveskey-device',
    deviceSerialNumber: serialNumber,
    publicKey,
    manufacturerSerialNumber,
    signerPublicKey,
  });
  if (!verifies(deviceCertificate, signerPublicKey)) {
    throw new Atecc508aError(
      Atecc508aErrorCodes.certificate,
      { step: 'verify device certificate', slot: slots.deviceCertificate },
      `the device certificate rebuilt from slot ${slots.deviceCertificate} does not verify against the signer key in slot ${slots.signerPublicKey} (wrong certificate set, or the OTP serial number or slot-0 key differ from when it was issued)`,
    );
  }
  return {
    serialNumber,
    manufacturerSerialNumber,
    boardName,
    publicKey,
    deviceCertificate,
    signerCertificate,
    deviceCertificatePem: pem(deviceCertificate),
    signerCertificatePem: pem(signerCertificate),
  };
}
