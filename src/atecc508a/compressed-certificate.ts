import { Atecc508aError, Atecc508aErrorCodes } from './atecc-error.js';

/** Size of a Microchip compressed certificate. */
export const COMPRESSED_CERTIFICATE_SIZE = 72;

/**
 * The fields of a Microchip compressed certificate (72 bytes):
 * `r‖s (64) | dates (3) | signer id (2) | template id:4 chain id:4 | SN source:4 format version:4 | reserved (1)`.
 * @internal
 */
export interface CompressedCertificateFields {
  /** ECDSA signature r‖s, 64 bytes. */
  signature: Uint8Array;
  /** The 3 encoded date bytes (they also feed the serial number). */
  encodedDates: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  signerId: number;
  templateId: number;
  chainId: number;
  snSource: number;
  formatVersion: number;
}

/** Parses the 72 bytes, checking what can be checked without a template. @internal */
export function parseCompressedCertificate(compressed: Uint8Array, step: string): CompressedCertificateFields {
  if (!(compressed instanceof Uint8Array) || compressed.length !== COMPRESSED_CERTIFICATE_SIZE) {
    throw new Atecc508aError(Atecc508aErrorCodes.certificate, { step }, `a compressed certificate is ${COMPRESSED_CERTIFICATE_SIZE} bytes, got ${compressed?.length ?? 'none'}`);
  }
  const encodedDates = compressed.slice(64, 67);
  const formatVersion = (compressed[70] ?? 0) & 0x0f;
  if (formatVersion !== 0) {
    throw new Atecc508aError(Atecc508aErrorCodes.certificate, { step }, `unknown compressed-certificate format version ${formatVersion} (is the slot empty or not a certificate?)`);
  }
  const { notBefore, notAfter } = decodeCompressedDates(encodedDates, step);
  return {
    signature: compressed.slice(0, 64),
    encodedDates,
    notBefore,
    notAfter,
    signerId: ((compressed[67] ?? 0) << 8) | (compressed[68] ?? 0),
    templateId: (compressed[69] ?? 0) >> 4,
    chainId: (compressed[69] ?? 0) & 0x0f,
    snSource: (compressed[70] ?? 0) >> 4,
    formatVersion,
  };
}

/**
 * Decodes `year-2000:5 | month:4 | day:5 | hour:5 | expire years:5`. Minutes and seconds are 0;
 * 0 expire years means no expiry (9999-12-31T23:59:59Z, RFC 5280 §4.1.2.5). @internal
 */
export function decodeCompressedDates(bytes: Uint8Array, step: string): { notBefore: Date; notAfter: Date } {
  const v = ((bytes[0] ?? 0) << 16) | ((bytes[1] ?? 0) << 8) | (bytes[2] ?? 0);
  const year = 2000 + (v >>> 19);
  const month = (v >>> 15) & 0x0f;
  const day = (v >>> 10) & 0x1f;
  const hour = (v >>> 5) & 0x1f;
  const expireYears = v & 0x1f;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23) {
    throw new Atecc508aError(Atecc508aErrorCodes.certificate, { step }, `the encoded dates ${Buffer.from(bytes).toString('hex')} are not a valid date (is the slot empty or not a certificate?)`);
  }
  const notBefore = new Date(Date.UTC(year, month - 1, day, hour));
  const notAfter = expireYears === 0 ? new Date(Date.UTC(9999, 11, 31, 23, 59, 59)) : new Date(Date.UTC(year + expireYears, month - 1, day, hour));
  return { notBefore, notAfter };
}

/** Encodes an issue date (to the hour) and a validity in whole years (0: no expiry, max 31). @internal */
export function encodeCompressedDates(issued: Date, expireYears: number): Uint8Array {
  const year = issued.getUTCFullYear() - 2000;
  if (year < 0 || year > 31) throw new RangeError('a compressed certificate can encode issue years 2000..2031');
  if (!Number.isInteger(expireYears) || expireYears < 0 || expireYears > 31) throw new RangeError('expire years must be 0..31');
  const v = (year << 19) | ((issued.getUTCMonth() + 1) << 15) | (issued.getUTCDate() << 10) | (issued.getUTCHours() << 5) | expireYears;
  return Uint8Array.of((v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}
