import { createHash } from 'node:crypto';
import { Atecc508aError, Atecc508aErrorCodes } from './atecc-error.js';
import type { CompressedCertificateFields } from './compressed-certificate.js';
import { parseCompressedCertificate } from './compressed-certificate.js';
import { bitString, hex, octetString, oid, seq, time, tlv, unsignedInteger, utf8String } from './der.js';
import { invalidOptions } from '../errors.js';

/**
 * What {@link decompressCertificate} needs to rebuild a NervesKey **device** certificate
 * (template id 0, serial-number source 0xB).
 *
 * @example
 * ```ts
 * const options: NervesKeyDeviceTemplateOptions = {
 *   template: 'nerveskey-device', deviceSerialNumber, publicKey: devicePublicKey, manufacturerSerialNumber: 'NK-0001', signerPublicKey,
 * };
 * ```
 */
export interface NervesKeyDeviceTemplateOptions {
  /** Selects the device template. */
  template: 'nerveskey-device';
  /** The chip's 9-byte serial number (config zone bytes 0–3 and 8–12); with the dates it makes the X.509 serial. */
  deviceSerialNumber: Uint8Array;
  /** The device's P-256 public key, 64 bytes X‖Y (GenKey public-key mode on slot 0). */
  publicKey: Uint8Array;
  /** The manufacturer serial number from the OTP zone: the subject CN, the device identifier NervesHub sees. */
  manufacturerSerialNumber: string;
  /** The signer's P-256 public key, 64 bytes X‖Y (slot 11, or 14 for the aux set): the authority key identifier. */
  signerPublicKey: Uint8Array;
}

/**
 * What {@link decompressCertificate} needs to rebuild a NervesKey **signer** certificate
 * (self-signed `CN=Signer`, template id 1, serial-number source 0xA).
 *
 * @example
 * ```ts
 * const options: NervesKeySignerTemplateOptions = { template: 'nerveskey-signer', publicKey: signerPublicKey };
 * ```
 */
export interface NervesKeySignerTemplateOptions {
  /** Selects the signer template. */
  template: 'nerveskey-signer';
  /** The signer's P-256 public key, 64 bytes X‖Y (slot 11, or 14 for the aux set): subject key, serial source, key identifiers. */
  publicKey: Uint8Array;
}

/** Options of {@link decompressCertificate}: the template and what it needs. */
export type DecompressCertificateOptions = NervesKeyDeviceTemplateOptions | NervesKeySignerTemplateOptions;

const TEMPLATE = {
  'nerveskey-device': { templateId: 0, snSource: 0xb, step: 'decompress device certificate' },
  'nerveskey-signer': { templateId: 1, snSource: 0xa, step: 'decompress signer certificate' },
} as const;

const ECDSA_WITH_SHA256 = seq(oid('2a8648ce3d040302'));
const CN_SIGNER = name('Signer');
const EXT_DEVICE_FIXED = hex(
  '30090603551d1304023000' + // basicConstraints CA:FALSE
    '300e0603551d0f0101ff0404030205a0' + // keyUsage critical digitalSignature keyEncipherment
    '30130603551d25040c300a06082b06010505070302', // extKeyUsage clientAuth
);
const EXT_SIGNER_FIXED = hex(
  '30120603551d130101ff040830060101ff020100' + // basicConstraints critical CA:TRUE pathlen 0
    '300e0603551d0f0101ff040403020186' + // keyUsage critical digitalSignature keyCertSign cRLSign
    '301d0603551d250416301406082b0601050507030106082b06010505070302', // extKeyUsage serverAuth clientAuth
);

function name(cn: string): Uint8Array {
  return seq(tlv(0x31, seq(oid('550403'), utf8String(cn))));
}

/** SubjectPublicKeyInfo DER of a P-256 X‖Y key. @internal */
export function p256Spki(publicKey: Uint8Array): Uint8Array {
  return seq(seq(oid('2a8648ce3d0201'), oid('2a8648ce3d030107')), bitString(Uint8Array.of(0x04), publicKey));
}

/** SHA-1 of the whole SPKI DER, as the NervesKey templates use for key identifiers. */
function keyId(publicKey: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha1').update(p256Spki(publicKey)).digest());
}

/** SHA-256(source ‖ encoded dates), first 16 bytes, top bits forced to 01 (positive, never shortened). */
function serialNumber(source: Uint8Array, encodedDates: Uint8Array): Uint8Array {
  const digest = createHash('sha256').update(source).update(encodedDates).digest();
  const serial = new Uint8Array(digest.subarray(0, 16));
  serial[0] = ((serial[0] ?? 0) & 0x3f) | 0x40;
  return serial;
}

function checkKey(bytes: Uint8Array, what: string, length: number): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) throw invalidOptions(`decompressCertificate: ${what} must be ${length} bytes`);
}

/** The TBSCertificate a template yields for the given compressed fields. @internal */
export function nervesKeyTbs(fields: Pick<CompressedCertificateFields, 'encodedDates' | 'notBefore' | 'notAfter'>, options: DecompressCertificateOptions): Uint8Array {
  const v3 = tlv(0xa0, unsignedInteger(Uint8Array.of(2)));
  const validity = seq(time(fields.notBefore), time(fields.notAfter));
  if (options.template === 'nerveskey-device') {
    checkKey(options.deviceSerialNumber, 'deviceSerialNumber', 9);
    checkKey(options.publicKey, 'publicKey', 64);
    checkKey(options.signerPublicKey, 'signerPublicKey', 64);
    if (typeof options.manufacturerSerialNumber !== 'string' || options.manufacturerSerialNumber === '') throw invalidOptions('decompressCertificate: manufacturerSerialNumber is required');
    const aki = seq(oid('551d23'), octetString(seq(tlv(0x80, keyId(options.signerPublicKey)))));
    return seq(
      v3,
      unsignedInteger(serialNumber(options.deviceSerialNumber, fields.encodedDates)),
      ECDSA_WITH_SHA256,
      CN_SIGNER,
      validity,
      name(options.manufacturerSerialNumber),
      p256Spki(options.publicKey),
      tlv(0xa3, seq(EXT_DEVICE_FIXED, aki)),
    );
  }
  checkKey(options.publicKey, 'publicKey', 64);
  const id = keyId(options.publicKey);
  const ski = seq(oid('551d0e'), octetString(octetString(id)));
  const aki = seq(oid('551d23'), octetString(seq(tlv(0x80, id))));
  return seq(
    v3,
    unsignedInteger(serialNumber(options.publicKey, fields.encodedDates)),
    ECDSA_WITH_SHA256,
    CN_SIGNER,
    validity,
    CN_SIGNER,
    p256Spki(options.publicKey),
    tlv(0xa3, seq(EXT_SIGNER_FIXED, ski, aki)),
  );
}

/** Certificate = SEQUENCE { tbs, ecdsa-with-SHA256, BIT STRING { SEQUENCE { r, s } } }. @internal */
export function assembleCertificate(tbs: Uint8Array, signature: Uint8Array): Uint8Array {
  const ecdsa = seq(unsignedInteger(signature.subarray(0, 32)), unsignedInteger(signature.subarray(32, 64)));
  return seq(tbs, ECDSA_WITH_SHA256, bitString(ecdsa));
}

/**
 * Rebuilds the X.509 DER of a certificate stored in Microchip's 72-byte compressed format with
 * a NervesKey template, byte for byte as the Elixir `nerves_key`/`atecc508a` libraries wrote it.
 * A pure function: the chip reads happen elsewhere.
 *
 * @param compressed - the 72 bytes of slot 10 (device) or 12 (signer), or 9/15 for the aux set
 * @param options - the template and the values it needs (see {@link NervesKeyDeviceTemplateOptions}, {@link NervesKeySignerTemplateOptions})
 * @returns the certificate, DER
 * @throws Atecc508aError `NH_ATECC_CERT` when the bytes are not a compressed certificate of that template
 * @throws TypeError when an option has the wrong size
 * @example
 * ```ts
 * const signerDer = decompressCertificate(slot12, { template: 'nerveskey-signer', publicKey: slot11.subarray(0, 64) });
 * const deviceDer = decompressCertificate(slot10, {
 *   template: 'nerveskey-device', deviceSerialNumber, publicKey: devicePublicKey, manufacturerSerialNumber, signerPublicKey: slot11.subarray(0, 64),
 * });
 * ```
 */
export function decompressCertificate(compressed: Uint8Array, options: DecompressCertificateOptions): Uint8Array {
  const template = TEMPLATE[options?.template];
  if (template === undefined) throw invalidOptions(`decompressCertificate: unknown template ${String(options?.template)} (expected 'nerveskey-device' or 'nerveskey-signer')`);
  const fields = parseCompressedCertificate(compressed, template.step);
  if (fields.templateId !== template.templateId || fields.snSource !== template.snSource) {
    throw new Atecc508aError(
      Atecc508aErrorCodes.certificate,
      { step: template.step },
      `template id ${fields.templateId} / serial-number source 0x${fields.snSource.toString(16)} do not match the ${options.template} template (${template.templateId} / 0x${template.snSource.toString(16)}): wrong slot?`,
    );
  }
  return assembleCertificate(nervesKeyTbs(fields, options), fields.signature);
}
