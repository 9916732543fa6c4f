import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { NervesHubError, invalidOptions } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { safeLog, silentLogger } from '../logging/logger.js';
import { CONSOLE_VERSION, DEVICE_API_VERSION, Topics } from '../protocol/constants.js';
import type { TopicChannel } from '../socket/topic-channel.js';
import type { ConsoleSession, ConsoleSessionFactory, ConsoleSize } from './console-session.js';
import { CONSOLE_MAX_FILE_BYTES, FileReceiver } from './file-receiver.js';
import { createPtySession } from './pty-session.js';
import { createReplSession } from './repl-session.js';

/**
 * Options of {@link RemoteConsole}.
 *
 * @example
 * ```ts
 * const options: RemoteConsoleOptions = { timeoutSeconds: 600, uploadDir: '/data/uploads', shell: { command: '/bin/sh' } };
 * ```
 */
export interface RemoteConsoleOptions {
  /** A shell in a PTY (needs the optional `node-pty`) instead of the default Node REPL. */
  shell?: {
    /** The program to run in the PTY, e.g. `/bin/sh`. */
    command: string;
    /** Its arguments. */
    args?: string[];
    /** Its working directory (default: the process's). */
    cwd?: string;
    /** Its environment (default: the process's). */
    env?: Record<string, string>;
  };
  /** Or any session factory (wins over `shell`). */
  session?: ConsoleSessionFactory;
  /** Inactivity timeout in seconds (default 300, as nerves_hub_link's `remote_iex_timeout`). */
  timeoutSeconds?: number;
  /** Directory for `file-data` uploads; without it uploads are refused. */
  uploadDir?: string;
  /** Largest upload (default and maximum 10 MiB). */
  maxUploadBytes?: number;
  /** An upload without data for this long is abandoned (default 60 000 ms). */
  uploadIdleMs?: number;
  /** Log sink (default: silent). */
  logger?: Logger;
}

/** Error codes of the remote console. */
export const ConsoleErrorCodes = {
  /** The shell console needs `node-pty`, which is not installed. */
  ptyUnavailable: 'NH_CONSOLE_PTY_UNAVAILABLE',
  /** `sendFile` while the console topic is not joined. */
  notJoined: 'NH_CONSOLE_NOT_JOINED',
  /** `sendFile` of a file of 10 MiB or more. */
  fileTooLarge: 'NH_CONSOLE_FILE_TOO_LARGE',
  /** `sendFile` of a file that cannot be read. */
  fileNotReadable: 'NH_CONSOLE_FILE_NOT_READABLE',
} as const;

/** Bytes per `file-data` chunk of {@link RemoteConsole.sendFile}. */
export const CONSOLE_FILE_CHUNK_BYTES = 1024;

/** Where {@link RemoteConsole} joins `console` (a `NervesHubSocket`). */
export interface ConsoleHost {
  /** Joins a topic over the device's connection. */
  joinTopic(topic: string, params: () => Record<string, unknown>): TopicChannel;
}

/** The boxed inactivity banner (nerves_hub_link's, byte for byte). */
export const CONSOLE_TIMEOUT_BANNER =
  '\r\n****************************************\r\n*   Session timeout due to inactivity  *\r\n*                                      *\r\n*   Press any key to continue...       *\r\n****************************************\r\n';

/** The line pushed when the session ends by itself (reference §6). */
export function consoleStoppedLine(reason: string): string {
  return `\r******* Remote IEx stopped: ${reason} *******\r`;
}

/**
 * The remote console (reference §3.2, §4.3, §6): joins `console` with
 * `{console_version, device_api_version}`; the first keystroke starts a session (a Node REPL, or a
 * shell in a PTY); `dn` is input, output goes back as `up`, `window_size` resizes; after
 * `timeoutSeconds` without input or output the boxed banner is pushed and the session stopped; when
 * the session exits the "stopped" line is pushed; the next key starts a new one. Uploads
 * (`file-data/*`) land in `uploadDir`; {@link sendFile} sends a file to the web console.
 *
 * SECURITY: anyone with console rights on the device's NervesHub organisation gets the app's full
 * rights on the device (a REPL in the app's process, or a shell as the app's user). Off unless the
 * app creates this.
 *
 * @example
 * ```ts
 * const console = new RemoteConsole({ uploadDir: '/data/uploads' });
 * socket.connect();
 * console.join(socket);
 * ```
 */
export class RemoteConsole {
  readonly #o: RemoteConsoleOptions;
  readonly #logger: Logger;
  readonly #timeoutMs: number;
  readonly #files: FileReceiver;
  #channel: TopicChannel | undefined;
  #session: ConsoleSession | undefined;
  #starting: Promise<ConsoleSession | undefined> | undefined;
  #size: ConsoleSize = { cols: 80, rows: 24 };
  #timer: NodeJS.Timeout | undefined;

  /** @throws NervesHubError `NH_INVALID_OPTIONS` for a non-positive timeout or an upload limit above 10 MiB. */
  constructor(options: RemoteConsoleOptions = {}) {
    this.#o = options;
    this.#logger = options.logger ?? silentLogger;
    const seconds = options.timeoutSeconds ?? 300;
    if (!(typeof seconds === 'number' && seconds > 0)) throw invalidOptions('RemoteConsole: timeoutSeconds must be a positive number');
    this.#timeoutMs = seconds * 1000;
    const maxBytes = options.maxUploadBytes ?? CONSOLE_MAX_FILE_BYTES;
    if (!(Number.isSafeInteger(maxBytes) && maxBytes > 0 && maxBytes <= CONSOLE_MAX_FILE_BYTES)) throw invalidOptions('RemoteConsole: maxUploadBytes must be 1 … 10 MiB');
    this.#files = new FileReceiver(options.uploadDir, this.#logger, { maxBytes, idleMs: options.uploadIdleMs ?? 60_000 });
  }

  /** True while a session runs. */
  get active(): boolean {
    return this.#session !== undefined;
  }

  /** True while the `console` topic is joined. */
  get joined(): boolean {
    return this.#channel?.joined ?? false;
  }

  /** Joins `console` (once; the socket rejoins it after reconnects). */
  join(host: ConsoleHost): void {
    if (this.#channel) return;
    const channel = host.joinTopic(Topics.console, () => ({ console_version: CONSOLE_VERSION, device_api_version: DEVICE_API_VERSION }));
    this.#channel = channel;
    channel.on('dn', (p) => void this.#input(typeof p.data === 'string' ? p.data : ''));
    channel.on('window_size', (p) => this.#resize(p));
    channel.on('restart', () => void this.#restart());
    channel.on('file-data/start', (p) => this.#files.start(p));
    channel.on('file-data', (p) => this.#files.data(p));
    channel.on('file-data/stop', (p) => this.#files.stop(p));
  }

  /**
   * Sends a file to the web console: `file-data/start {filename}`, `file-data {filename, chunk,
   * data}` per 1024 bytes (base64), `file-data/stop {filename}`.
   * @throws NervesHubError `NH_CONSOLE_NOT_JOINED`, `NH_CONSOLE_FILE_TOO_LARGE` (≥ 10 MiB), `NH_CONSOLE_FILE_NOT_READABLE`.
   */
  async sendFile(path: string): Promise<void> {
    const channel = this.#channel;
    if (!channel?.joined) throw new NervesHubError(ConsoleErrorCodes.notJoined, 'sendFile: the console topic is not joined');
    const size = await stat(path).then(
      (s) => (s.isFile() ? s.size : Promise.reject(new Error('not a regular file'))),
      (error: Error) => Promise.reject(error),
    ).catch((error: Error) => {
      throw new NervesHubError(ConsoleErrorCodes.fileNotReadable, `sendFile: cannot read ${basename(path)}: ${error.message}`, { cause: error });
    });
    if (size >= CONSOLE_MAX_FILE_BYTES) throw new NervesHubError(ConsoleErrorCodes.fileTooLarge, `sendFile: ${basename(path)} is ${size} bytes; the console takes files under ${CONSOLE_MAX_FILE_BYTES}`);
    const filename = basename(path);
    const handle = await open(path, 'r');
    try {
      const push = (event: string, payload: Record<string, unknown>): void => {
        if (!channel.push(event, payload)) throw new NervesHubError(ConsoleErrorCodes.notJoined, `sendFile: the console topic left during the transfer of ${filename}`);
      };
      push('file-data/start', { filename });
      const buffer = Buffer.alloc(CONSOLE_FILE_CHUNK_BYTES);
      for (let chunk = 0; ; chunk++) {
        const { bytesRead } = await handle.read(buffer, 0, CONSOLE_FILE_CHUNK_BYTES, null);
        if (bytesRead === 0) break;
        push('file-data', { filename, chunk, data: buffer.subarray(0, bytesRead).toString('base64') });
      }
      push('file-data/stop', { filename });
    } finally {
      await handle.close();
    }
  }

  /** Stops the session and any upload, and leaves the topic. */
  close(): void {
    this.#stopSession();
    this.#files.abandon('the console closed');
    this.#channel?.leave();
    this.#channel = undefined;
  }

  async #input(data: string): Promise<void> {
    const session = await this.#ensureSession();
    this.#touch();
    session?.write(data);
  }

  #resize(p: Record<string, unknown>): void {
    const cols = Number(p.width);
    const rows = Number(p.height);
    if (!Number.isInteger(cols) || !Number.isInteger(rows) || cols <= 0 || rows <= 0 || cols > 1000 || rows > 1000) return;
    this.#size = { cols, rows };
    void this.#ensureSession().then((s) => {
      this.#touch();
      s?.resize(cols, rows);
    });
  }

  async #restart(): Promise<void> {
    this.#stopSession();
    this.#up('\r*** Restarting IEx ***\r');
    await this.#ensureSession();
  }

  #ensureSession(): Promise<ConsoleSession | undefined> {
    if (this.#session) return Promise.resolve(this.#session);
    this.#starting ??= this.#startSession().finally(() => (this.#starting = undefined));
    return this.#starting;
  }

  async #startSession(): Promise<ConsoleSession | undefined> {
    let session: ConsoleSession;
    try {
      const factory: ConsoleSessionFactory = this.#o.session ?? (this.#o.shell ? (size) => createPtySession(size, this.#o.shell!) : (size) => createReplSession(size));
      session = await factory(this.#size);
    } catch (error) {
      safeLog(this.#logger, 'error', 'the remote console session could not start', { error: error instanceof Error ? error.message : String(error) });
      this.#up(consoleStoppedLine(error instanceof NervesHubError ? error.code : 'start failure'));
      return undefined;
    }
    this.#session = session;
    session.onOutput((data) => {
      if (this.#session !== session) return;
      this.#touch();
      this.#up(data);
    });
    session.onExit((reason) => {
      if (this.#session !== session) return;
      this.#session = undefined;
      clearTimeout(this.#timer);
      this.#up(consoleStoppedLine(reason));
      safeLog(this.#logger, 'info', `remote console session ended (${reason}); the next key starts a new one`);
    });
    safeLog(this.#logger, 'info', 'remote console session started');
    this.#touch();
    return session;
  }

  #touch(): void {
    clearTimeout(this.#timer);
    if (!this.#session) return;
    this.#timer = setTimeout(() => {
      this.#up(CONSOLE_TIMEOUT_BANNER);
      this.#stopSession();
      safeLog(this.#logger, 'info', 'remote console session stopped after inactivity');
    }, this.#timeoutMs);
    this.#timer.unref();
  }

  #stopSession(): void {
    clearTimeout(this.#timer);
    const s = this.#session;
    this.#session = undefined;
    s?.kill();
  }

  #up(data: string): void {
    this.#channel?.push('up', { data });
  }
}
