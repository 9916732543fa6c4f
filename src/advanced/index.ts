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
export { streamingStrategy } from '../update/streaming-strategy.js';
export { cachedStrategy } from '../update/cached-strategy.js';
export type { StrategyContext } from '../update/update-strategy.js';

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

// --- device services: extensions, archives, remote console ---
export type { DeviceExtension, ExtensionContext } from '../extensions/extension.js';
export { ExtensionsManager, ExtensionErrorReasons } from '../extensions/extensions-manager.js';
export type { ExtensionsManagerOptions, ExtensionsHost } from '../extensions/extensions-manager.js';
export { HealthExtension, defaultMetricSets } from '../extensions/health/health-extension.js';
export { HEALTH_CHECK_FAILED_ALARM } from '../extensions/health/device-status.js';
export { cpuMetricSet, memoryMetricSet, diskMetricSet, OS_METRIC_DEFAULTS } from '../extensions/health/os-metrics.js';
export type { OsMetricPaths } from '../extensions/health/os-metrics.js';
export { GeoExtension, GeoErrorCodes } from '../extensions/geo/geo-extension.js';
export { ArchiveManager, ArchiveErrorCodes } from '../archives/archive-manager.js';
export type { ArchiveManagerOptions } from '../archives/archive-manager.js';
export { RemoteConsole, ConsoleErrorCodes, CONSOLE_TIMEOUT_BANNER, CONSOLE_FILE_CHUNK_BYTES, consoleStoppedLine } from '../console/remote-console.js';
export type { ConsoleHost } from '../console/remote-console.js';
export type { ConsoleSession, ConsoleSessionFactory, ConsoleSize } from '../console/console-session.js';
export { createReplSession } from '../console/repl-session.js';
export { createPtySession, PTY_PACKAGE } from '../console/pty-session.js';
export { CONSOLE_MAX_FILE_BYTES, safeUploadName } from '../console/file-receiver.js';

// --- delta updates: VCDIFF decoding and rebuild of the full archive ---
export { deltaSourceOf } from '../delta/delta-source.js';
export { openArchiveResource } from '../delta/archive-delta-source.js';
export { rawDeltaSource } from '../delta/raw-delta-source.js';
export type { RawDeltaSourceOptions } from '../delta/raw-delta-source.js';
export { rebuildDeltaArchive } from '../delta/delta-rebuild.js';
export type { DeltaRebuildOptions } from '../delta/delta-rebuild.js';
export { VcdiffDecoder, decodeVcdiff, VCDIFF_DECODER_DEFAULTS } from '../delta/vcdiff-decoder.js';
export type { VcdiffDecoderOptions } from '../delta/vcdiff-decoder.js';
export { withDeltaRebuild } from '../update/delta-rebuild-verifier.js';
export { deltaCapability, verifierDeltaOptions } from '../update/delta-capability.js';
export type { VerifierDeltaOptions } from '../update/update-ports.js';
export type { MetaConfDeltaSource } from '../firmware/meta-conf-delta.js';
