/**
 * One interactive session behind the remote console: a Node REPL or a shell in a PTY.
 *
 * @example
 * ```ts
 * const session: ConsoleSession = await createReplSession({ cols: 80, rows: 24 });
 * session.onOutput((text) => channel.push('up', { data: text }));
 * session.write('1 + 1\r');
 * ```
 */
export interface ConsoleSession {
  /** Feeds keystrokes (as the terminal sends them: `\r` for Enter). */
  write(data: string): void;
  /** The terminal was resized. */
  resize(cols: number, rows: number): void;
  /** Ends the session; `onExit` is not called for a kill. */
  kill(): void;
  /** Output of the session (UTF-8 text, terminal escapes included). */
  onOutput(listener: (data: string) => void): void;
  /** The session ended by itself (`.exit`, Ctrl-D, the shell exited); `reason` is short text. */
  onExit(listener: (reason: string) => void): void;
}

/** Terminal size at session start. */
export interface ConsoleSize {
  /** Columns. */
  cols: number;
  /** Rows. */
  rows: number;
}

/** Starts a session (the console calls it at the first keystroke and after each exit or timeout). */
export type ConsoleSessionFactory = (size: ConsoleSize) => ConsoleSession | Promise<ConsoleSession>;
