import { spawn } from 'node:child_process';
import type { Logger } from '../../internal/logger.js';
import { safeLog, silentLogger } from '../../internal/logger.js';
import { NervesHubError } from '../../errors.js';
import type { ApplyContext, FirmwareApplier } from '../firmware-applier.js';
import { FRAMED_INPUT_END, FwupFramingDecoder, frameInput, fwupMessageOf } from '../fwup-framing.js';
import { nextOrAbort, releaseSource } from '../../internal/abortable-source.js';
import { ApplyErrorCodes, FwupError, abortedApplyError } from './apply-errors.js';

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
export const DEFAULT_FWUP_APPLIER_OPTIONS = Object.freeze({
  /** Default {@link FwupApplierOptions.task}. */
  task: 'upgrade',
  /** Default {@link FwupApplierOptions.fwupPath} (looked up on the PATH). */
  fwupPath: 'fwup',
  /** Default {@link FwupApplierOptions.killGraceMs}. */
  killGraceMs: 5000,
  /** Default {@link FwupApplierOptions.maxPacketBytes}. */
  maxPacketBytes: 64 * 1024,
});

/** Message used when no public key is configured (same words as nerves_hub_link). */
export const NO_KEYS_MESSAGE = 'Refusing unverified firmware : no public keys available';

const STDERR_KEEP_BYTES = 4096;

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
  readonly #options: Required<Omit<FwupApplierOptions, 'logger'>> & { logger: Logger };

  /** @throws NervesHubError `NH_BAD_OPTIONS` without `devicePath`. */
  constructor(options: FwupApplierOptions) {
    if (typeof options.devicePath !== 'string' || options.devicePath === '') {
      throw new NervesHubError('NH_BAD_OPTIONS', 'FwupApplier needs a devicePath (fwup -d)');
    }
    const d = DEFAULT_FWUP_APPLIER_OPTIONS;
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
    const logger = o.logger;
    if (context.publicKeys.length === 0) throw new NervesHubError(ApplyErrorCodes.noKeys, NO_KEYS_MESSAGE);
    if (context.signal.aborted) throw abortedApplyError(context.signal.reason, 'signal');

    const child = spawn(o.fwupPath, this.argsFor(context.publicKeys), {
      env: { ...process.env, ...o.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });

    return new Promise<void>((resolve, reject) => {
      const decoder = new FwupFramingDecoder();
      let lastError: string | undefined;
      let okSeen = false;
      let stderr = '';
      let failure: NervesHubError | undefined; // set when we decided to stop fwup
      let exited = false;
      let settled = false;
      let killTimer: NodeJS.Timeout | undefined;
      let drainWaiter: (() => void) | undefined;
      const iterator = source[Symbol.asyncIterator]();

      const settle = (error?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(killTimer);
        context.signal.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      };
      const stop = (error: NervesHubError): void => {
        failure ??= error;
        drainWaiter?.();
        releaseSource(iterator);
        if (exited) {
          settle(failure);
          return;
        }
        child.kill('SIGTERM');
        killTimer = setTimeout(() => child.kill('SIGKILL'), o.killGraceMs);
      };
      const onAbort = (): void => stop(abortedApplyError(context.signal.reason, 'signal'));
      context.signal.addEventListener('abort', onAbort, { once: true });

      const call = (what: string, fn: () => void): void => {
        try {
          fn();
        } catch (error) {
          safeLog(logger, 'warn', `${what} callback threw`, { error: String(error) });
        }
      };

      child.stdout.on('data', (chunk: Buffer) => {
        let frames;
        try {
          frames = decoder.push(chunk);
        } catch (error) {
          stop(error as NervesHubError);
          return;
        }
        for (const frame of frames) {
          if (frame.kind !== 'packet') continue;
          const message = fwupMessageOf(frame);
          if (message.type === 'progress') call('onProgress', () => context.onProgress(message.percent));
          else if (message.type === 'error') lastError = message.message;
          else if (message.type === 'ok') okSeen = true;
          if (message.type === 'error' || message.type === 'warning') safeLog(logger, message.type === 'error' ? 'error' : 'info', `fwup: ${message.message}`);
          call('onMessage', () => context.onMessage(message));
        }
      });
      child.stderr.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_KEEP_BYTES);
      });
      // fwup stops reading when it fails early (bad signature): EPIPE here is expected.
      child.stdin.on('error', () => drainWaiter?.());

      child.on('error', (error: NodeJS.ErrnoException) => {
        exited = true;
        releaseSource(iterator);
        if (error.code === 'ENOENT') {
          settle(
            new NervesHubError(
              ApplyErrorCodes.fwupNotFound,
              `fwup was not found at "${o.fwupPath}": install fwup (https://github.com/fwup-home/fwup) on the device or set fwupPath`,
              { cause: error },
            ),
          );
        } else {
          settle(new FwupError(`could not run fwup: ${error.message}`, { exitCode: null, cause: error }));
        }
      });

      child.on('close', (code, signal) => {
        exited = true;
        drainWaiter?.();
        releaseSource(iterator);
        if (failure) {
          settle(failure);
          return;
        }
        try {
          decoder.end();
        } catch (error) {
          safeLog(logger, 'warn', 'fwup output ended inside a packet', { error: String(error) });
        }
        if (code === 0 && okSeen && lastError === undefined) {
          safeLog(logger, 'info', 'fwup applied the firmware');
          settle();
          return;
        }
        const message = lastError ?? (signal ? `fwup was killed by ${signal}` : code === 0 ? 'fwup exited without reporting success' : `fwup exited with code ${code ?? 'unknown'}`);
        settle(new FwupError(message, { exitCode: code, signal, stderr: stderr.trim() }));
      });

      const pump = async (): Promise<void> => {
        try {
          for (;;) {
            if (failure || exited) return;
            const next = await nextOrAbort(iterator, context.signal);
            if (next === 'aborted' || failure || exited) return;
            if (next.done) break;
            for (const packet of frameInput(next.value, o.maxPacketBytes)) {
              if (failure || exited || child.stdin.destroyed) return;
              if (!child.stdin.write(packet)) {
                await new Promise<void>((resume) => {
                  const done = (): void => {
                    child.stdin.off('drain', done);
                    child.stdin.off('close', done);
                    resume();
                  };
                  drainWaiter = done;
                  child.stdin.on('drain', done);
                  child.stdin.on('close', done);
                });
                drainWaiter = undefined;
              }
            }
          }
          if (!failure && !exited && !child.stdin.destroyed) child.stdin.end(FRAMED_INPUT_END);
        } catch (error) {
          stop(abortedApplyError(error, 'source'));
        }
      };
      void pump();
    });
  }
}
