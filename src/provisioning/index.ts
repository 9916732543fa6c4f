/**
 * `nerves-hub-link/provisioning`: what a device team needs before a device can update, without
 * Elixir: fwup signing keys, firmware signing (like `fwup -S`), a signer CA to register with
 * NervesHub and device certificates (CN = identifier), including certificate requests for keys in
 * a PKCS#11 token. The `nerves-hub-link keys|firmware|cert` commands are built on these functions.
 * Importing this entry point runs nothing.
 * @packageDocumentation
 */

// --- fwup signing keys ---
export {
  FWUP_KEY_LENGTHS,
  generateFwupKeyPair,
  decodeFwupPrivateKey,
  fwupPublicKeyOf,
  createFwupKeyFiles,
  readFwupPrivateKey,
  readFwupPublicKey,
} from './fwup-keys.js';
export type { FwupKeyPair, FwupKeyFiles } from './fwup-keys.js';

// --- firmware signing ---
export { signFirmware } from './sign-firmware.js';
export type { SignFirmwareOptions, SignFirmwareResult } from './sign-firmware.js';

// --- device identity ---
export {
  CERTIFICATE_DEFAULTS,
  createSignerCa,
  createSignerCaFiles,
  createDeviceCertificate,
  createDeviceCertificateFiles,
  readSignerFiles,
} from './certificates.js';
export type {
  CertificateWithKey,
  CertificateFiles,
  ValidityOptions,
  SignerCaOptions,
  SignerMaterial,
  DeviceCertificateOptions,
  DeviceCertificateFilesOptions,
} from './certificates.js';
export { createPkcs11DeviceCsr } from './pkcs11-csr.js';
export type { Pkcs11CsrOptions, Pkcs11Csr } from './pkcs11-csr.js';
export type { PinSource } from '../pkcs11/pin-source.js';

// --- errors ---
export { ProvisioningErrorCodes } from './provisioning-errors.js';
export type { ProvisioningErrorCode } from './provisioning-errors.js';
