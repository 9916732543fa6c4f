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
export { sanitizeForLog, LOG_LIMITS } from './internal/log-sanitizer.js';
export { LOG_RATE_LIMIT } from './internal/log-rate-limiter.js';

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
export { FileCertificateProvider } from './auth/file-certificate-provider.js';
export type { FileCertificateProviderOptions } from './auth/file-certificate-provider.js';
export { createSharedSecretHeaders, SHARED_SECRET_DEFAULTS } from './auth/shared-secret.js';
export type { SharedSecretHeaderOptions, SharedSecretHeaders } from './auth/shared-secret.js';

// --- firmware ---
export { FirmwareVerifier, FIRMWARE_VERIFIER_DEFAULTS } from './firmware/firmware-verifier.js';
export type { VerificationResult, FirmwareVerifierOptions } from './firmware/firmware-verifier.js';
export { FirmwareVerificationError } from './firmware/verification-error.js';
export type { FirmwareVerificationCode } from './firmware/verification-error.js';
export type { FirmwareMetadata } from './firmware/firmware-metadata.js';
export { formatFwupMetadata } from './firmware/firmware-metadata.js';
export type { FirmwareResource } from './firmware/firmware-archive-checker.js';
export type { FirmwareDeltaResource } from './firmware/delta-resource.js';
export type { MetaConfDeltaSource } from './firmware/meta-conf-delta.js';
export type { FirmwareInput } from './firmware/byte-source.js';
export { parsePublicKey } from './firmware/public-key.js';
export { readFirmwareMetadata } from './firmware/read-firmware-metadata.js';
export type { ReadFirmwareMetadataOptions } from './firmware/read-firmware-metadata.js';
export { computeFirmwareUuid } from './firmware/firmware-uuid.js';

// --- socket ---
export { NervesHubSocket } from './socket/nerves-hub-socket.js';
export { SOCKET_DEFAULTS } from './socket/options.js';
export type { NervesHubSocketOptions, SocketAuth, CertificateAuth, SharedSecretAuth, SocketTlsOptions } from './socket/options.js';
export type { NervesHubSocketEvents, ConnectedInfo, DisconnectedInfo, ReconnectingInfo, InvalidMessageInfo } from './socket/socket-events.js';
export { SocketErrorCodes } from './socket/connect-errors.js';
export type { TopicChannel, TopicReply } from './socket/topic-channel.js';
export { BACKOFF_DEFAULTS, backoffDelayList, jitterDelays } from './socket/backoff.js';
export type { EventMap, Listener } from './internal/typed-emitter.js';
export type { RandomSource } from './socket/backoff.js';
// payloads of socket events (parsers live in src/protocol)
export type { ArchiveInfo } from './protocol/archive-info.js';
export { parseArchiveInfo } from './protocol/archive-info.js';
export type { ScriptRunRequest, ScriptRunResult } from './protocol/server-messages.js';
export { parsePublicKeysMessage, parseScriptRunRequest, isEd25519PublicKeyBase64 } from './protocol/server-messages.js';

// --- download ---
export { Downloader } from './download/downloader.js';
export type { DownloaderOptions, DownloadOptions } from './download/downloader.js';
export { DownloadError, DownloadErrorCodes } from './download/download-error.js';
export type { DownloadErrorCode } from './download/download-error.js';
export { DEFAULT_RETRY_OPTIONS } from './download/retry-options.js';
export { DEFAULT_MAX_BYTES_WHEN_SIZE_UNKNOWN } from './download/body-size-guard.js';
export type { RetryOptions } from './download/retry-options.js';
export { parseRetryAfterMs } from './download/retry-after.js';
export { PART_SIZE_BYTES, Sha256Parts, sha256Hex, verifyFileChecksums } from './download/sha256-parts.js';
export type { FileChecksumResult } from './download/sha256-parts.js';
// appliers
export { FwupApplier, DEFAULT_FWUP_APPLIER_OPTIONS, NO_KEYS_MESSAGE } from './update/appliers/fwup-applier.js';
export type { FwupApplierOptions } from './update/appliers/fwup-applier.js';
export { FileApplier, DEFAULT_FILE_APPLIER_OPTIONS } from './update/appliers/file-applier.js';
export type { FileApplierOptions } from './update/appliers/file-applier.js';
export { ApplyErrorCodes, FwupError } from './update/appliers/apply-errors.js';
export { FwupFramingDecoder, fwupMessageOf, frameInput, FRAMED_INPUT_END } from './update/fwup-framing.js';
export type { FwupFrame, FwupPacket, FwupExitHandshake } from './update/fwup-framing.js';

// --- update ---
export type { UpdateClient, UpdateDecision, FwupMessage } from './update/update-client.js';
export type { FirmwareApplier, ApplyContext } from './update/firmware-applier.js';
export { deltaCapability, verifierDeltaOptions } from './update/delta-capability.js';
export type { DeltaCapability } from './update/delta-capability.js';
export { UpdateManager } from './update/update-manager.js';
export { UPDATE_MANAGER_DEFAULTS } from './update/update-manager-options.js';
export type { UpdateManagerOptions, UpdateOutcome } from './update/update-manager-options.js';
export type { BuiltInStrategyName, StrategyContext, UpdateStrategy } from './update/update-strategy.js';
export { streamingStrategy } from './update/streaming-strategy.js';
export { createDefaultUpdateClient } from './update/default-update-client.js';
export type { DefaultUpdateClientOptions } from './update/default-update-client.js';
export { guardedCall } from './update/guarded-call.js';
export type { GuardedResult, GuardedCallOptions } from './update/guarded-call.js';
export { guardUpdateClient, GUARDED_CLIENT_DEFAULTS } from './update/guarded-client.js';
export type { GuardedUpdateClient } from './update/guarded-client.js';
export { normalizeUpdateDecision } from './update/update-decision.js';
export { classifyUpdateFailure } from './update/failure-reason.js';
export type { ClassifiedFailure } from './update/failure-reason.js';
export { ProgressThrottle } from './update/progress-throttle.js';
export type { Clock } from './update/progress-throttle.js';
export { UpdateJournal, JOURNAL_DEFAULTS } from './update/update-journal.js';
export type { JournalState, JournalPendingUpdate, JournalFailure, UpdateFailureKind } from './update/update-journal.js';
export { CACHED_STRATEGY_DEFAULTS, cachedStrategy } from './update/cached-strategy.js';
export type { FirmwareDownloadSource, FirmwareDownloadOptions, FirmwareStreamVerifier, VerifierDeltaOptions } from './update/update-ports.js';

// --- composition ---
export { NervesHubLink } from './link/nerves-hub-link.js';
export type { NervesHubLinkOptions, UpdateOutcomeListener, WiredSocketOptions, WiredUpdateOptions } from './link/nerves-hub-link.js';
export type { LinkStatus, LinkStatusListener } from './link/link-status.js';
