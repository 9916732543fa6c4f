import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Logger } from '../../logging/logger.js';
import { safeLog } from '../../logging/logger.js';
import { NervesHubError } from '../../errors.js';
import type { ApplyContext } from '../firmware-applier.js';
import { FRAMED_INPUT_END, FwupFramingDecoder, frameInput, fwupMessageOf } from '../fwup-framing.js';
import { nextOrAbort, releaseSource } from '../../internal/abortable-source.js';
import { ApplyErrorCodes, FwupError, abortedApplyError } from './apply-errors.js';
import { chunkRecyclerOf } from '../chunk-recycling.js';

const STDERR_KEEP_BYTES = 4096;

/** Settings of one {@link FwupProcess}. @internal */
export interface FwupProcessSettings {
  /** The executable, for error messages. */
  fwupPath: string;
  /** Grace time between SIGTERM and SIGKILL when stopping fwup (ms). */
  killGraceMs: number;
  /** Largest input packet written to fwup's stdin (bytes). */
  maxPacketBytes: number;
  logger: Logger;
}

/** What fwup said on its framed stdout and stderr. */
class FwupReport {
  /** The last `ER` message, if any. */
  lastError: string | undefined;
  /** fwup sent `OK`. */
  okSeen = false;
  /** The tail of stderr. */
  stderr = '';

  /** True when fwup reported success and no error. */
  succeeded(exitCode: number | null): boolean {
    return exitCode === 0 && this.okSeen && this.lastError === undefined;
  }

  /** Why fwup failed, in its own words when it gave any. */
  failure(exitCode: number | null, signal: NodeJS.Signals | null): FwupError {
    const message =
      this.lastError ??
      (signal ? `fwup was killed by ${signal}` : exitCode === 0 ? 'fwup exited without reporting success' : `fwup exited with code ${exitCode ?? 'unknown'}`);
    return new FwupError(message, { exitCode, signal, stderr: this.stderr.trim() });
  }
}

/**
 * One running `fwup --apply --framing`: feeds it the archive as framed stdin packets with
 * back-pressure, decodes its framed output into progress and messages, and settles once fwup
 * exited: resolved after `OK` and exit code 0, rejected otherwise. When the source throws or the
 * signal fires, fwup is stopped (SIGTERM, then SIGKILL) before the promise rejects; it never got
 * the end-of-input packet, so it cannot have completed the update.
 * @internal
 */
export class FwupProcess {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #context: ApplyContext;
  readonly #settings: FwupProcessSettings;
  readonly #decoder = new FwupFramingDecoder();
  readonly #report = new FwupReport();
  /** Set when we decided to stop fwup: the error the apply ends with. */
  #failure: NervesHubError | undefined;
  #exited = false;
  #settled = false;
  #killTimer: NodeJS.Timeout | undefined;
  #drainWaiter: (() => void) | undefined;
  #iterator: AsyncIterator<Uint8Array> | undefined;
  /** Told how many source bytes were framed (copied) so far, when the source lends its buffers. */
  #doneThrough: ((offset: number) => void) | undefined;
  #resolve!: () => void;
  #reject!: (error: Error) => void;
  readonly #onAbort = (): void => this.#stop(abortedApplyError(this.#context.signal.reason, 'signal'));

  constructor(child: ChildProcessWithoutNullStreams, context: ApplyContext, settings: FwupProcessSettings) {
    this.#child = child;
    this.#context = context;
    this.#settings = settings;
  }

  /** Streams `source` into fwup; settles once fwup exited. Call once. */
  run(source: AsyncIterable<Uint8Array>): Promise<void> {
    const done = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#iterator = source[Symbol.asyncIterator]();
    this.#doneThrough = chunkRecyclerOf(source);
    const child = this.#child;
    this.#context.signal.addEventListener('abort', this.#onAbort, { once: true });
    child.stdout.on('data', (chunk: Buffer) => this.#onOutput(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      this.#report.stderr = (this.#report.stderr + chunk.toString('utf8')).slice(-STDERR_KEEP_BYTES);
    });
    // fwup stops reading when it fails early (bad signature): EPIPE here is expected.
    child.stdin.on('error', () => this.#drainWaiter?.());
    child.on('error', (error: NodeJS.ErrnoException) => this.#onSpawnError(error));
    child.on('close', (code, signal) => this.#onClose(code, signal));
    void this.#pump();
    return done;
  }

  #settle(error?: Error): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#killTimer);
    this.#context.signal.removeEventListener('abort', this.#onAbort);
    if (error) this.#reject(error);
    else this.#resolve();
  }

  /** Stops fwup (the apply ends with `error`, or an earlier one). */
  #stop(error: NervesHubError): void {
    this.#failure ??= error;
    this.#drainWaiter?.();
    this.#releaseSource();
    if (this.#exited) {
      this.#settle(this.#failure);
      return;
    }
    this.#child.kill('SIGTERM');
    this.#killTimer = setTimeout(() => this.#child.kill('SIGKILL'), this.#settings.killGraceMs);
  }

  #releaseSource(): void {
    if (this.#iterator !== undefined) releaseSource(this.#iterator);
  }

  #onOutput(chunk: Buffer): void {
    let frames;
    try {
      frames = this.#decoder.push(chunk);
    } catch (error) {
      this.#stop(error as NervesHubError);
      return;
    }
    const { logger } = this.#settings;
    for (const frame of frames) {
      if (frame.kind !== 'packet') continue;
      const message = fwupMessageOf(frame);
      if (message.type === 'progress') this.#call('onProgress', () => this.#context.onProgress(message.percent));
      else if (message.type === 'error') this.#report.lastError = message.message;
      else if (message.type === 'ok') this.#report.okSeen = true;
      if (message.type === 'error' || message.type === 'warning') safeLog(logger, message.type === 'error' ? 'error' : 'info', `fwup: ${message.message}`);
      this.#call('onMessage', () => this.#context.onMessage(message));
    }
  }

  #onSpawnError(error: NodeJS.ErrnoException): void {
    this.#exited = true;
    this.#releaseSource();
    if (error.code === 'ENOENT') {
      this.#settle(
        new NervesHubError(
          ApplyErrorCodes.fwupNotFound,
          `fwup was not found at "${this.#settings.fwupPath}": install fwup (https://github.com/fwup-home/fwup) on the device or set fwupPath`,
          { cause: error },
        ),
      );
    } else {
      this.#settle(new FwupError(`could not run fwup: ${error.message}`, { exitCode: null, cause: error }));
    }
  }

  #onClose(code: number | null, signal: NodeJS.Signals | null): void {
    const { logger } = this.#settings;
    this.#exited = true;
    this.#drainWaiter?.();
    this.#releaseSource();
    if (this.#failure) {
      this.#settle(this.#failure);
      return;
    }
    try {
      this.#decoder.end();
    } catch (error) {
      safeLog(logger, 'warn', 'fwup output ended inside a packet', { error: String(error) });
    }
    if (this.#report.succeeded(code)) {
      safeLog(logger, 'info', 'fwup applied the firmware');
      this.#settle();
      return;
    }
    this.#settle(this.#report.failure(code, signal));
  }

  /** True once nothing more should be written to fwup. */
  get #finished(): boolean {
    return this.#failure !== undefined || this.#exited;
  }

  /** Copies the source into fwup's stdin as framed packets, then the end-of-input packet. */
  async #pump(): Promise<void> {
    const iterator = this.#iterator;
    if (iterator === undefined) return;
    const stdin = this.#child.stdin;
    let framed = 0;
    try {
      for (;;) {
        if (this.#finished) return;
        const next = await nextOrAbort(iterator, this.#context.signal);
        if (next === 'aborted' || this.#finished) return;
        if (next.done) break;
        for (const packet of frameInput(next.value, this.#settings.maxPacketBytes)) {
          if (this.#finished || stdin.destroyed) return;
          if (!stdin.write(packet)) await this.#drained();
        }
        // The packets are copies: the chunk is no longer needed.
        framed += next.value.length;
        this.#doneThrough?.(framed);
      }
      if (!this.#finished && !stdin.destroyed) stdin.end(FRAMED_INPUT_END);
    } catch (error) {
      this.#stop(abortedApplyError(error, 'source'));
    }
  }

  /** Resolves when stdin drained, closed, or fwup is being stopped. */
  async #drained(): Promise<void> {
    const stdin = this.#child.stdin;
    await new Promise<void>((resume) => {
      const done = (): void => {
        stdin.off('drain', done);
        stdin.off('close', done);
        resume();
      };
      this.#drainWaiter = done;
      stdin.on('drain', done);
      stdin.on('close', done);
    });
    this.#drainWaiter = undefined;
  }

  #call(what: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      safeLog(this.#settings.logger, 'warn', `${what} callback threw`, { error: String(error) });
    }
  }
}
