/**
 * `nerves-hub-link/atecc508a`: NervesKey (Microchip ATECC508A/608A) support. Reads the chip over
 * I²C (an {@link I2cTransport}; on Linux through the optional `i2c-bus` package, loaded only when
 * {@link openLinuxI2cTransport} runs), rebuilds the device and signer certificates from
 * Microchip's compressed format with the NervesKey templates, and signs TLS through the chip's
 * PKCS#11 module. Importing this entry point runs nothing.
 * @packageDocumentation
 */
export { NervesKeyCertificateProvider } from './nerveskey-certificate-provider.js';
export type { NervesKeyCertificateProviderOptions, NervesKeySigningOptions } from './nerveskey-certificate-provider.js';
export { readNervesKey, NERVESKEY_PRIVATE_KEY_SLOT } from './nerveskey.js';
export type { NervesKeyInfo, NervesKeyCertificateSet } from './nerveskey.js';
export { decompressCertificate } from './nerveskey-template.js';
export type { DecompressCertificateOptions, NervesKeyDeviceTemplateOptions, NervesKeySignerTemplateOptions } from './nerveskey-template.js';
export { COMPRESSED_CERTIFICATE_SIZE } from './compressed-certificate.js';
export { Atecc508a, ATECC508A_TIMING } from './atecc508a.js';
export type { Atecc508aOptions, Atecc508aTiming } from './atecc508a.js';
export { ATECC508A_DEFAULT_ADDRESS, slotSize } from './protocol.js';
export { atecc508aCrc16 } from './crc16.js';
export type { I2cTransport } from './i2c-transport.js';
export { openLinuxI2cTransport } from './linux-i2c.js';
export type { I2cBusModule, I2cBusHandle, I2cBytesRead, I2cBytesWritten, LinuxI2cOptions } from './linux-i2c.js';
export { Atecc508aError, Atecc508aErrorCodes } from './atecc-error.js';
export type { Atecc508aErrorCode, Atecc508aErrorContext, Atecc508aZone } from './atecc-error.js';
