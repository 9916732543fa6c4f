/**
 * Test helpers for apps built on nerves-hub-link: a local NervesHub server, a test CA and a
 * fwup-format archive writer. Import from `nerves-hub-link/testing`; never use in production.
 * @module nerves-hub-link/testing
 */

// --- certificates ---
export { TestCertificateAuthority } from './test-ca.js';
export type { IssuedCertificate, IssueOptions } from './test-ca.js';

// --- firmware ---
export { createFirmware, createFwupKeyPair, writeFirmware } from './create-firmware.js';
export type {
  CreatedFirmware,
  CreateFirmwareOptions,
  FwupKeyPair,
  FirmwareResourceSource,
  FirmwareMetaOptions,
  FirmwareTask,
  FirmwareTaskDeltaSource,
  FwupCall,
} from './create-firmware.js';

// --- server ---
export { NervesHubTestServer } from './server/nerves-hub-test-server.js';
export type {
  NervesHubTestServerOptions,
  ConnectionInfo,
  DeviceFrame,
  ServerFrame,
  MalformedFrameRecord,
  UpgradeRecord,
  TlsRejectionRecord,
  AuthMethod,
  UpdateOffer,
  UpdatePayload,
  RefuseUpgradesOptions,
  WaitOptions,
} from './server/types.js';
export { verifyNh1Headers } from './server/nh1-verifier.js';
export type { SharedSecretCredential, Nh1Rejection, Nh1Verdict, Nh1VerifyOptions } from './server/nh1-verifier.js';

// --- firmware host ---
export { FirmwareHost } from './firmware-host.js';
export type { FirmwareFaults, FirmwareRequestRecord, ListeningFirmwareHost } from './firmware-host.js';

// --- NervesKey / ATECC508A ---
export { SimulatedAtecc508a } from './simulated-atecc508a.js';
export type { SimulatedAtecc508aOptions, SimulatedAteccFault, SimulatedAteccCommand } from './simulated-atecc508a.js';
export { createNervesKeyImage, nervesKeySimulatorOptions } from './nerveskey-image.js';
export type { NervesKeyImage, NervesKeyImageOptions, NervesKeyContents } from './nerveskey-image.js';
// --- device services (extensions, console, archives) ---
export {
  attachExtensions,
  detachExtensions,
  requestHealthCheck,
  requestLocation,
  consoleInput,
  consoleWindowSize,
  consoleOutput,
  waitForConsoleOutput,
  uploadFile,
  waitForDeviceFile,
  pushArchive,
  CONSOLE_FILE_CHUNK_BYTES,
} from './server/service-requests.js';
export type { UploadedDeviceFile } from './server/service-requests.js';
