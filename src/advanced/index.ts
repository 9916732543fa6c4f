/**
 * Parts for integrators who compose the SDK by hand: the update manager, the downloader, the
 * update journal, fwup's framed protocol, backoff, wire constants and parsers of server messages,
 * and the defaults of every option. A device app built on `NervesHubLink` does not need this
 * entry; its API may change in minor releases before 1.0.
 *
 * Every public name is listed here explicitly; nothing runs at import time.
 * @module nerves-hub-link/advanced
 */

// --- composition by hand ---
export { UpdateManager } from '../update/update-manager.js';
export { UPDATE_MANAGER_DEFAULTS } from '../update/update-manager-options.js';
export type { UpdateManagerOptions } from '../update/update-manager-options.js';
export type { WiredSocketOptions, WiredUpdateOptions } from '../link/nerves-hub-link.js';
export type { FirmwareDownloadSource, FirmwareStreamVerifier } from '../update/update-ports.js';
export type { Clock } from '../update/progress-throttle.js';
export { CACHED_STRATEGY_DEFAULTS } from '../update/cached-strategy.js';

// --- download ---
export { Downloader, DOWNLOADER_DEFAULTS } from '../download/downloader.js';
export type { DownloaderOptions } from '../download/downloader.js';
export type { DownloadOptions } from '../download/download-options.js';
export type { DownloadErrorCode } from '../download/download-error.js';
export { RETRY_DEFAULTS } from '../download/retry-options.js';
export type { RetryOptions } from '../download/retry-options.js';
export { PART_SIZE_BYTES, sha256Hex, verifyFileChecksums } from '../download/sha256-parts.js';
export type { FileChecksumResult } from '../download/sha256-parts.js';

// --- journal ---
export { UpdateJournal, JOURNAL_DEFAULTS } from '../update/update-journal.js';
export type { JournalState, JournalPendingUpdate, JournalFailure, UpdateFailureKind, UpdateStage } from '../update/update-journal.js';

// --- appliers & fwup framing ---
export { FWUP_APPLIER_DEFAULTS } from '../update/appliers/fwup-applier.js';
export { FILE_APPLIER_DEFAULTS } from '../update/appliers/file-applier.js';
export { FwupError } from '../update/appliers/apply-errors.js';
export { FwupFramingDecoder, fwupMessageOf, frameInput, FRAMED_INPUT_END } from '../update/fwup-framing.js';
export type { FwupFrame, FwupPacket, FwupExitHandshake } from '../update/fwup-framing.js';

// --- socket ---
export { SOCKET_DEFAULTS } from '../socket/options.js';
export type { CertificateAuth, SharedSecretAuth, SocketTlsOptions } from '../socket/options.js';
export type { ConnectedInfo, DisconnectedInfo, ReconnectingInfo, InvalidMessageInfo } from '../socket/socket-events.js';
export type { TopicChannel, TopicReply } from '../socket/topic-channel.js';
export { BACKOFF_DEFAULTS, backoffDelayList } from '../socket/backoff.js';
export type { RandomSource } from '../socket/backoff.js';
export type { EventMap, Listener } from '../events/typed-emitter.js';
export { SHARED_SECRET_DEFAULTS } from '../auth/shared-secret.js';

// --- firmware ---
export { FIRMWARE_VERIFIER_DEFAULTS } from '../firmware/firmware-verifier.js';
export type { ReadFirmwareMetadataOptions } from '../firmware/read-firmware-metadata.js';
export type { FirmwareInput } from '../firmware/byte-source.js';
export type { FirmwareResource } from '../firmware/firmware-archive-checker.js';
export { formatFwupMetadata } from '../firmware/firmware-metadata.js';
export { parsePublicKey } from '../firmware/public-key.js';
export { computeFirmwareUuid } from '../firmware/firmware-uuid.js';

// --- protocol: wire constants, statuses and parsers of server messages ---
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
} from '../protocol/constants.js';
export { WIRE_FIRMWARE_META_KEYS } from '../protocol/wire-firmware-meta.js';
export type { ParseResult } from '../protocol/parse-result.js';
export { parseUpdateInfo, isNoUpdateMessage } from '../protocol/update-info.js';
export type { UpdateStatus, ProgressStage, UpdateReporter } from '../protocol/status.js';
export { FailureReasons, statusUpdatePayload } from '../protocol/status.js';
export type { ArchiveInfo } from '../protocol/archive-info.js';
export { parseArchiveInfo } from '../protocol/archive-info.js';
export type { ScriptRunRequest, ScriptRunResult } from '../protocol/server-messages.js';
export { parsePublicKeysMessage, parseScriptRunRequest, isEd25519PublicKeyBase64 } from '../protocol/server-messages.js';

// --- logging limits ---
export { LOG_LIMITS } from '../logging/log-sanitizer.js';
export { LOG_RATE_LIMIT } from '../logging/log-rate-limiter.js';
