import { join } from 'node:path';
import { invalidOptions } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { UpdateReporter } from '../protocol/status.js';
import type { DeltaSource } from '../delta/delta-source.js';
import type { FirmwareApplier } from './firmware-applier.js';
import type { Clock } from './progress-throttle.js';
import type { UpdateClient } from './update-client.js';
import type { FirmwareDownloadSource, FirmwareStreamVerifier, VerifierDeltaOptions } from './update-ports.js';
import type { BuiltInStrategyName, UpdateStrategy } from './update-strategy.js';
import { streamingStrategy } from './streaming-strategy.js';
import { cachedStrategy } from './cached-strategy.js';

/** Defaults of {@link UpdateManagerOptions}. */
export const UPDATE_MANAGER_DEFAULTS = Object.freeze({
  /** Default {@link UpdateManagerOptions.strategy}. */
  strategy: 'streaming' as BuiltInStrategyName,
  /** Default {@link UpdateManagerOptions.decisionTimeoutMs}. */
  decisionTimeoutMs: 60_000,
  /** Default {@link UpdateManagerOptions.callbackTimeoutMs}. */
  callbackTimeoutMs: 10_000,
  /** Default {@link UpdateManagerOptions.progressIntervalMs}. */
  progressIntervalMs: 500,
  /** Default {@link UpdateManagerOptions.maxVerificationFailures}. */
  maxVerificationFailures: 3,
  /** Default {@link UpdateManagerOptions.maxInterruptedAttempts}. */
  maxInterruptedAttempts: 5,
  /** Default {@link UpdateManagerOptions.failureMemoryMs} (24 h). */
  failureMemoryMs: 24 * 60 * 60 * 1000,
  /** Sub-directory of `stateDir` used as `cacheDir` when none is given. */
  cacheSubdir: 'firmware',
});

/**
 * Options of the {@link UpdateManager}.
 *
 * @example
 * ```ts
 * const manager = new UpdateManager({
 *   client, reporter: socket, applier, publicKeys: () => socket.fwupPublicKeys,
 *   strategy: 'cached', stateDir: '/data/nerves-hub-link', decisionTimeoutMs: 30_000,
 * });
 * ```
 */
export interface UpdateManagerOptions {
  /** The app's behaviour (decisions and hooks). */
  client: UpdateClient;
  /** Where statuses and progress go (the `NervesHubSocket`). */
  reporter: UpdateReporter;
  /** Writes the verified firmware (`FwupApplier`, `FileApplier` or your own). */
  applier: FirmwareApplier;
  /** The fwup public keys (base64 Ed25519) in force right now; read at every offer. */
  publicKeys: () => readonly string[];
  /** Downloads the firmware; default `new Downloader({ logger, allowInsecureHttpDownloadsForTesting })`. */
  downloader?: FirmwareDownloadSource;
  /**
   * LAB SETUPS ONLY. Lets an `http:` firmware URL through to the downloader (and into the default
   * `Downloader`; give your own `Downloader` the same option). Anyone on the network path can then
   * read, stall or replace the download. Default `false`: an `http:` URL is reported `failed`
   * (`NH_DOWNLOAD_INSECURE_URL`) before anything is downloaded or written.
   */
  allowInsecureHttpDownloadsForTesting?: boolean;
  /**
   * Builds the verifier for one update; default `new FirmwareVerifier({ publicKeys, ...delta })`.
   * `delta.allowDeltaResources` is true only for an applier with `verifiesDeltaOutput` (fwup); a
   * verifier that ignores it refuses delta firmware, which is safe.
   */
  createVerifier?: (publicKeys: readonly string[], delta: VerifierDeltaOptions) => FirmwareStreamVerifier;
  /**
   * How updates run: an {@link UpdateStrategy} (`streamingStrategy()`, `cachedStrategy({ cacheDir })`
   * or your own), or the shorthand `'streaming'` (default) / `'cached'` (with {@link cacheDir}).
   * Change it later with `UpdateManager.setStrategy()`.
   */
  strategy?: UpdateStrategy | BuiltInStrategyName;
  /**
   * What NervesHub delta firmware is rebuilt against: `{ archivePath }` (the firmware archive
   * installed now) or an opener of your own (e.g. `rawRangeSource` over the running partition).
   * Default: the applier's own (`FileApplier`: the file it applied last). With a delta source every
   * download is rebuilt into the full archive in TypeScript and then verified like a full firmware
   * (signature, every resource's length and BLAKE2b-256) before the applier sees a byte; a full
   * firmware passes through unchanged.
   */
  deltaSource?: DeltaSource;
  /** Cache directory of the `'cached'` shorthand; default `<stateDir>/firmware`. */
  cacheDir?: string;
  /** Directory of the update journal (resume and failed-UUID memory). Without it nothing is persisted. */
  stateDir?: string;
  /** How long `updateAvailable` may take before it counts as `ignore` (ms, default 60 000). */
  decisionTimeoutMs?: number;
  /** How long other hooks (`reboot`, `onProgress`…) may take before they are abandoned (ms, default 10 000). */
  callbackTimeoutMs?: number;
  /** Minimum time between two progress reports (ms, default 500). */
  progressIntervalMs?: number;
  /** Network interface of the download, reported in `started` (default: `null`). */
  networkInterface?: () => string | null;
  /** Verification failures of one UUID after which it is refused without downloading (default 3). */
  maxVerificationFailures?: number;
  /** Restarts during one update after which it is reported `failed` instead of retried (default 5). */
  maxInterruptedAttempts?: number;
  /** How long a failure is remembered against its UUID (ms, default 24 h, NervesHub's penalty time). */
  failureMemoryMs?: number;
  /** Log sink (default: silent). */
  logger?: Logger;
  /** Monotonic clock for the progress throttle. */
  clock?: Clock;
}

/**
 * How {@link nerves-hub-link/advanced!UpdateManager.handleUpdate | UpdateManager.handleUpdate} (which `NervesHubLink` calls for every offer) ended.
 *
 * @example
 * ```ts
 * const outcome: UpdateOutcome = await manager.handleUpdate(info);
 * if (outcome.status === 'failed') console.error(outcome.uuid, outcome.reason);
 * ```
 * @category Start here
 */
export interface UpdateOutcome {
  /**
   * - `completed`: applied, `completed` reported, reboot hook called.
   * - `failed`: `failed` reported with `reason`.
   * - `ignored` / `rescheduled`: reported as decided (or `ignored` after a bad answer).
   * - `refused`: no public keys, `failed "Refusing unverified firmware…"` reported, client never asked.
   * - `dropped`: another update was running (or the manager is closed); nothing reported.
   * - `aborted`: `close()` stopped it; nothing reported (a cached download resumes later).
   */
  status: 'completed' | 'failed' | 'ignored' | 'rescheduled' | 'dropped' | 'refused' | 'aborted';
  /** UUID of the offered firmware. */
  uuid: string;
  /** Why (for `failed`, `ignored`, `rescheduled`, `refused`, `dropped`). */
  reason?: string;
  /** The error that ended a `failed` update (absent when it was refused from local memory). */
  error?: Error;
}

/** The numeric settings of an {@link UpdateManager}, validated. */
export interface UpdateManagerSettings {
  decisionTimeoutMs: number;
  callbackTimeoutMs: number;
  progressIntervalMs: number;
  maxVerificationFailures: number;
  maxInterruptedAttempts: number;
  failureMemoryMs: number;
}

/** Merges the numeric options over the defaults; throws `NH_INVALID_OPTIONS` naming a bad one. */
export function resolveUpdateManagerSettings(options: Partial<UpdateManagerSettings>): UpdateManagerSettings {
  const d = UPDATE_MANAGER_DEFAULTS;
  return {
    decisionTimeoutMs: checked('decisionTimeoutMs', options.decisionTimeoutMs ?? d.decisionTimeoutMs, true),
    callbackTimeoutMs: checked('callbackTimeoutMs', options.callbackTimeoutMs ?? d.callbackTimeoutMs, true),
    progressIntervalMs: checked('progressIntervalMs', options.progressIntervalMs ?? d.progressIntervalMs, false),
    maxVerificationFailures: checked('maxVerificationFailures', options.maxVerificationFailures ?? d.maxVerificationFailures, true),
    maxInterruptedAttempts: checked('maxInterruptedAttempts', options.maxInterruptedAttempts ?? d.maxInterruptedAttempts, true),
    failureMemoryMs: checked('failureMemoryMs', options.failureMemoryMs ?? d.failureMemoryMs, false),
  };
}

function checked(name: string, value: number, positive: boolean): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (positive && value === 0)) {
    throw invalidOptions(`${name} must be a finite number ${positive ? '> 0' : '≥ 0'} (got ${String(value)})`);
  }
  return value;
}

/**
 * The strategy `choice` stands for: an {@link UpdateStrategy} as it is, `'streaming'`, or
 * `'cached'` in `dirs.cacheDir` (default `<stateDir>/firmware`).
 * @throws NervesHubError `NH_INVALID_OPTIONS` for an unknown name, an object that is not a
 *   strategy, or `'cached'` without `cacheDir`/`stateDir`.
 */
export function resolveStrategy(choice: UpdateStrategy | BuiltInStrategyName | undefined, dirs: { cacheDir?: string | undefined; stateDir?: string | undefined }): UpdateStrategy {
  const wanted = choice ?? UPDATE_MANAGER_DEFAULTS.strategy;
  if (wanted === 'streaming') return streamingStrategy();
  if (wanted === 'cached') {
    const cacheDir = dirs.cacheDir ?? (dirs.stateDir === undefined ? undefined : join(dirs.stateDir, UPDATE_MANAGER_DEFAULTS.cacheSubdir));
    if (cacheDir === undefined) {
      throw invalidOptions('the cached strategy needs cacheDir (or stateDir, for <stateDir>/firmware)');
    }
    return cachedStrategy({ cacheDir });
  }
  if (typeof wanted === 'object' && wanted !== null && typeof wanted.name === 'string' && wanted.name !== '' && typeof wanted.run === 'function' && typeof wanted.resumable === 'boolean') {
    return wanted;
  }
  const shown = typeof wanted === 'object' && wanted !== null ? 'an object without name, resumable and run' : JSON.stringify(wanted);
  throw invalidOptions(`unknown strategy ${shown} (use 'streaming', 'cached' or an UpdateStrategy)`);
}
