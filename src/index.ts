/**
 * The TypeScript SDK for devices that receive firmware updates from NervesHub: what a device app
 * uses. Start with {@link NervesHubLink}. Parts for integrators who compose the socket, the update
 * manager and the downloader by hand are in `nerves-hub-link/advanced`; test helpers are in
 * `nerves-hub-link/testing`.
 *
 * Every public name is listed here explicitly; nothing runs at import time.
 * @module nerves-hub-link
 */

// --- start here ---
export { NervesHubLink } from './link/nerves-hub-link.js';
export type { NervesHubLinkOptions, UpdateOutcomeListener } from './link/nerves-hub-link.js';
export type { LinkStatus, LinkStatusListener } from './link/link-status.js';
export type { UpdateOutcome } from './update/update-manager-options.js';

// --- connection ---
export { NervesHubSocket } from './socket/nerves-hub-socket.js';
export type { NervesHubSocketOptions, SocketAuth } from './socket/options.js';
export type { NervesHubSocketEvents } from './socket/socket-events.js';
export { SocketErrorCodes } from './socket/connect-errors.js';
export type { WireFirmwareMeta } from './protocol/wire-firmware-meta.js';
export type { UpdateInfo } from './protocol/update-info.js';
export type { CertificateProvider, TlsClientMaterial } from './auth/certificate-provider.js';
export { FileCertificateProvider } from './auth/file-certificate-provider.js';
export type { FileCertificateProviderOptions } from './auth/file-certificate-provider.js';
export { createSharedSecretHeaders } from './auth/shared-secret.js';
export type { SharedSecretHeaderOptions, SharedSecretHeaders } from './auth/shared-secret.js';

// --- updates ---
export type { UpdateClient, UpdateDecision, FwupMessage } from './update/update-client.js';
export { createDefaultUpdateClient } from './update/default-update-client.js';
export type { DefaultUpdateClientOptions } from './update/default-update-client.js';
export { MIN_RESCHEDULE_MINUTES } from './protocol/status.js';
export type { BuiltInStrategyName, UpdateStrategy } from './update/update-strategy.js';
export type { FirmwareApplier, ApplyContext } from './update/firmware-applier.js';
export { FwupApplier } from './update/appliers/fwup-applier.js';
export type { FwupApplierOptions } from './update/appliers/fwup-applier.js';
export { FileApplier } from './update/appliers/file-applier.js';
export type { FileApplierOptions } from './update/appliers/file-applier.js';

// --- device services ---
export type { LinkExtensionsOptions, LinkArchivesOptions, ScriptHandler } from './link/device-services.js';
export type { HealthOptions } from './extensions/health/health-extension.js';
export type { DeviceStatus, HealthCheckResult } from './extensions/health/device-status.js';
export type { MetricSet } from './extensions/health/metric-set.js';
export type { GeoLocation, GeoResolver } from './extensions/geo/geo-extension.js';
export type { ArchiveClient, ArchiveOutcome } from './archives/archive-manager.js';
export type { RemoteConsoleOptions } from './console/remote-console.js';

// --- delta updates ---
export type { DeltaCapability } from './update/delta-capability.js';
export type { FirmwareDeltaResource } from './firmware/delta-resource.js';
export { DeltaError } from './delta/delta-error.js';
export type { DeltaErrorCode } from './delta/delta-error.js';
export type { DeltaSource, DeltaSourceFile, DeltaSourceOpener, DeltaSourceRequest } from './delta/delta-source.js';
export { rawRangeSource } from './delta/archive-delta-source.js';

// --- verification ---
export { FirmwareVerifier } from './firmware/firmware-verifier.js';
export type { VerificationResult, FirmwareVerifierOptions } from './firmware/firmware-verifier.js';
export { FirmwareVerificationError } from './firmware/verification-error.js';
export type { FirmwareVerificationCode } from './firmware/verification-error.js';
export type { FirmwareMetadata } from './firmware/firmware-metadata.js';
export { readFirmwareMetadata } from './firmware/read-firmware-metadata.js';

// --- errors & logging ---
export { NervesHubError, isNervesHubError } from './errors.js';
export { DownloadError, DownloadErrorCodes } from './download/download-error.js';
export { ApplyErrorCodes } from './update/appliers/apply-errors.js';
export type { Logger, LogLevel } from './logging/logger.js';
export { silentLogger } from './logging/logger.js';
export { sanitizeForLog } from './logging/log-sanitizer.js';
export { redactUrl } from './logging/redact.js';
