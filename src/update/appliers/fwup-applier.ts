import type { Logger } from '../../logging/logger.js';
import { silentLogger } from '../../logging/logger.js';
import { FailureReasons } from '../../protocol/status.js';
import { NervesHubError, invalidOptions } from '../../errors.js';
import type { ApplyContext, FirmwareApplier } from '../firmware-applier.js';
import { ApplyErrorCodes, abortedApplyError } from './apply-errors.js';
import { FwupProcess } from './fwup-process.js';

/**
 * Options of {@link FwupApplier}.
 *
 * @example
 * ```ts
 * const applier = new FwupApplier({ devicePath: '/dev/mmcblk0', task: 'upgrade', fwupPath: '/usr/bin/fwup' });
 * ```
 */
export interface FwupApplierOptions {
  /** fwup's `-d` target (block device or image file), e.g. `/dev/mmcblk0`. */
  devicePath: string;
  /** fwup task (`--task`), default `upgrade`. */
  task?: string;
  /** fwup executable, default `fwup` (looked up on PATH). */
  fwupPath?: string;
  /** Extra fwup arguments (e.g. `--unsafe`, `--progress-low 0`). */
  extraArgs?: string[];
  /** Extra environment for fwup (merged over the process environment). */
  env?: Record<string, string>;
  /** Where to log. */
  logger?: Logger;
  /** Grace time between SIGTERM and SIGKILL when stopping fwup (ms). */
  killGraceMs?: number;
  /** Largest input packet written to fwup's stdin (bytes). */
  maxPacketBytes?: number;
}

/** Defaults of {@link FwupApplierOptions}. */
export const FWUP_APPLIER_DEFAULTS = Object.freeze({
  /** Default {@link FwupApplierOptions.task}. */
  task: 'upgrade',
  /** Default {@link FwupApplierOptions.fwupPath} (looked up on the PATH). */
  fwupPath: 'fwup',
  /** Default {@link FwupApplierOptions.killGraceMs}. */
  killGraceMs: 5000,
  /** Default {@link FwupApplierOptions.maxPacketBytes}. */
  maxPacketBytes: 64 * 1024,
});

/**
 * Applies a firmware archive by streaming it into `fwup --apply --framing -i -` (framed stdin,
 * with back-pressure) and turning fwup's framed output into progress and messages. Refuses to run
 * without public keys (fwup would skip signature checks). If the source throws or the signal
 * fires, fwup is stopped (SIGTERM, then SIGKILL) before the promise rejects, and since fwup never
 * received the end-of-input packet it cannot have completed the update.
 *
 * @example
 * ```ts
 * const applier = new FwupApplier({ devicePath: '/dev/mmcblk0', task: 'upgrade' });
 * await applier.apply(source, { signal, publicKeys: [pub], onProgress: (p) => log(`applying ${p}%`), onMessage: () => {} });
 * ```
 */
export class FwupApplier implements FirmwareApplier {
  /** fwup applies delta (xdelta3/VCDIFF) resources and checks each patched output's length and BLAKE2b-256. */
  readonly verifiesDeltaOutput = true;
  readonly #options: Required<Omit<FwupApplierOptions, 'logger'>> & { logger: Logger };

  /** @throws NervesHubError `NH_INVALID_OPTIONS` without `devicePath`. */
  constructor(options: FwupApplierOptions) {
    if (typeof options.devicePath !== 'string' || options.devicePath === '') {
      throw invalidOptions('FwupApplier needs a devicePath (fwup -d)');
    }
    const d = FWUP_APPLIER_DEFAULTS;
    this.#options = {
      devicePath: options.devicePath,
      task: options.task ?? d.task,
      fwupPath: options.fwupPath ?? d.fwupPath,
      extraArgs: [...(options.extraArgs ?? [])],
      env: { ...options.env },
      killGraceMs: options.killGraceMs ?? d.killGraceMs,
      maxPacketBytes: options.maxPacketBytes ?? d.maxPacketBytes,
      logger: options.logger ?? silentLogger,
    };
  }

  /** The fwup task prefix it runs (`--task`); delta resources must declare their source in such a task. */
  get deltaTask(): string {
    return this.#options.task;
  }

  /** The fwup command line for `publicKeys` (reads the archive from framed stdin). */
  argsFor(publicKeys: readonly string[]): string[] {
    const o = this.#options;
    return [
      '--apply',
      '--no-unmount',
      '-d',
      o.devicePath,
      '--task',
      o.task,
      '--framing',
      ...publicKeys.flatMap((key) => ['--public-key', key]),
      ...o.extraArgs,
      '-i',
      '-',
    ];
  }

  /** Streams `source` into fwup; resolves after fwup said OK and exited 0. */
  async apply(source: AsyncIterable<Uint8Array>, context: ApplyContext): Promise<void> {
    const o = this.#options;
    if (context.publicKeys.length === 0) throw new NervesHubError(ApplyErrorCodes.noKeys, FailureReasons.noKeys);
    if (context.signal.aborted) throw abortedApplyError(context.signal.reason, 'signal');

    // Loaded when fwup runs, not at import (≈ 2 MB RSS with dgram, for a process that may never apply).
    const { spawn } = process.getBuiltinModule('node:child_process');
    const child = spawn(o.fwupPath, this.argsFor(context.publicKeys), {
      env: { ...process.env, ...o.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new FwupProcess(child, context, { fwupPath: o.fwupPath, killGraceMs: o.killGraceMs, maxPacketBytes: o.maxPacketBytes, logger: o.logger }).run(source);
  }
}
