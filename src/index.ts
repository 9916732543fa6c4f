/**
 * nerves-hub-link: the TypeScript SDK for devices that receive firmware updates from NervesHub.
 *
 * Every public name is listed here explicitly; nothing runs at import time.
 * @packageDocumentation
 */

// --- errors & logging ---
export { NervesHubError, isNervesHubError } from './errors.js';
export type { Logger, LogLevel } from './internal/logger.js';
export { silentLogger } from './internal/logger.js';
export { redactUrl } from './internal/redact.js';

// --- protocol ---
export {
  DEVICE_API_VERSION,
  CONSOLE_VERSION,
  SERIALIZER_VSN,
  CERTIFICATE_SOCKET_PATH,
  SHARED_SECRET_SOCKET_PATH,
  Topics,
  ServerEvents,
  DeviceEvents,
  CONNECTION_ERROR_REASON_HEADER,
} from './protocol/constants.js';
export type { FirmwareMeta } from './protocol/firmware-metadata.js';
export { FIRMWARE_META_KEYS } from './protocol/firmware-metadata.js';
export type { ParseResult } from './protocol/parse-result.js';
export type { UpdateInfo } from './protocol/update-info.js';
export { parseUpdateInfo } from './protocol/update-info.js';
export type { UpdateStatus, ProgressStage, UpdateReporter } from './protocol/status.js';
export { FailureReasons, MIN_RESCHEDULE_MINUTES, statusUpdatePayload } from './protocol/status.js';

// --- auth ---
export type { CertificateProvider, TlsClientMaterial } from './auth/certificate-provider.js';

// --- firmware ---

// --- socket ---

// --- download ---

// --- update ---
export type { UpdateClient, UpdateDecision, FwupMessage } from './update/update-client.js';
export type { FirmwareApplier, ApplyContext } from './update/firmware-applier.js';
