/**
 * `nerves-hub-link/pkcs11`: device keys that never leave a PKCS#11 token (HSM, TPM through
 * tpm2-pkcs11, SoftHSM2, a NervesKey through its PKCS#11 module). TLS signs through OpenSSL's
 * pkcs11 engine (libp11), registered by an OpenSSL config the Node process is started with;
 * no native addon is loaded. Importing this entry point runs nothing.
 * @packageDocumentation
 */
export { parsePkcs11Uri, formatPkcs11Uri, redactPkcs11Uri, describePkcs11Object } from './pkcs11-uri.js';
export type { Pkcs11Uri, Pkcs11ObjectType } from './pkcs11-uri.js';
export {
  PKCS11_ENGINE_ID,
  findPkcs11EnginePath,
  openSslConfigText,
  writeOpenSslConfig,
  isPkcs11EngineRegistered,
  checkPkcs11Engine,
} from './openssl-engine.js';
export type { OpenSslConfigOptions, Pkcs11EngineCheck, WrittenOpenSslConfig } from './openssl-engine.js';
export { Pkcs11ErrorCodes } from './pkcs11-errors.js';
export type { Pkcs11ErrorCode } from './pkcs11-errors.js';
export { Pkcs11CertificateProvider } from './pkcs11-certificate-provider.js';
export type { Pkcs11CertificateProviderOptions, Pkcs11CheckResult } from './pkcs11-certificate-provider.js';
export type { PinSource } from './pin-source.js';
