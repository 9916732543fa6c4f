import { NervesHubError } from '../errors.js';
import type { ConsoleSession, ConsoleSize } from './console-session.js';

/** The optional dependency a shell console needs. */
export const PTY_PACKAGE = 'node-pty';

/**
 * A shell in a pseudo-terminal, through the optional dependency `node-pty` (loaded only here,
 * only when the app asks for a shell console).
 *
 * @example
 * ```ts
 * const session = await createPtySession({ cols: 80, rows: 24 }, { command: '/bin/sh', args: ['-l'] });
 * ```
 * @throws NervesHubError `NH_CONSOLE_PTY_UNAVAILABLE` when `node-pty` is not installed.
 */
export async function createPtySession(size: ConsoleSize, shell: { command: string; args?: string[]; cwd?: string; env?: Record<string, string> }): Promise<ConsoleSession> {
  let pty: PtyModule;
  try {
    // a variable specifier: bundlers and tsc must not resolve the optional package
    const name = PTY_PACKAGE;
    pty = (await import(name)) as PtyModule;
  } catch (cause) {
    throw new NervesHubError('NH_CONSOLE_PTY_UNAVAILABLE', `the shell console needs the optional dependency ${PTY_PACKAGE}: install it next to nerves-hub-link, or use the default Node REPL console`, { cause });
  }
  const spawn = pty.spawn ?? pty.default?.spawn;
  if (typeof spawn !== 'function') throw new NervesHubError('NH_CONSOLE_PTY_UNAVAILABLE', `${PTY_PACKAGE} loaded but has no spawn()`);
  const env = { TERM: 'xterm-256color', ...(shell.env ?? (process.env as Record<string, string>)) };
  const child = spawn(shell.command, shell.args ?? [], { name: env.TERM, cols: size.cols, rows: size.rows, cwd: shell.cwd ?? process.cwd(), env });
  let killed = false;
  return {
    write: (data) => void (killed || child.write(data)),
    resize: (cols, rows) => void (killed || child.resize(cols, rows)),
    kill: () => {
      if (killed) return;
      killed = true;
      child.kill();
    },
    onOutput: (l) => void child.onData(l),
    onExit: (l) =>
      void child.onExit(({ exitCode, signal }) => {
        if (killed) return;
        killed = true;
        l(signal ? `signal ${signal}` : `exit ${exitCode}`);
      }),
  };
}

/** The parts of node-pty used here. */
interface PtyProcess {
  write(data: string): void;
  resize(cols: number, rows: number): void;
  kill(signal?: string): void;
  onData(listener: (data: string) => void): unknown;
  onExit(listener: (e: { exitCode: number; signal?: number }) => void): unknown;
}
type PtySpawn = (file: string, args: string[], options: { name: string; cols: number; rows: number; cwd: string; env: Record<string, string> }) => PtyProcess;
interface PtyModule {
  spawn?: PtySpawn;
  default?: { spawn?: PtySpawn };
}
