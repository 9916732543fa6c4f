import { PassThrough } from 'node:stream';
import type { ConsoleSession, ConsoleSize } from './console-session.js';

/** A PassThrough that looks like a terminal to readline (columns/rows, `resize`). */
type TerminalStream = PassThrough & { columns: number; rows: number; isTTY: boolean };

/**
 * A Node REPL (the counterpart of IEx) over in-memory streams, in terminal mode: line editing,
 * history and completion behave as in a local `node` prompt. It runs inside the app's process
 * with the app's rights: `process.exit()` typed there stops the device app.
 *
 * @example
 * ```ts
 * const session = createReplSession({ cols: 120, rows: 40 }, { prompt: 'device> ' });
 * ```
 */
export function createReplSession(size: ConsoleSize, options: { prompt?: string; context?: Record<string, unknown> } = {}): ConsoleSession {
  const input = new PassThrough() as TerminalStream;
  const output = new PassThrough() as TerminalStream;
  output.columns = size.cols;
  output.rows = size.rows;
  output.isTTY = true;
  input.isTTY = true;
  const outputListeners: Array<(data: string) => void> = [];
  const exitListeners: Array<(reason: string) => void> = [];
  let killed = false;
  output.setEncoding('utf8');
  output.on('data', (chunk: string) => {
    for (const l of outputListeners) l(chunk);
  });
  // Loaded on first use, not at import: node:repl pulls in readline, vm and domain (≈ 4 MB RSS),
  // and loading domain reroutes every EventEmitter emit in the host app through it.
  const { start } = process.getBuiltinModule('node:repl');
  const server = start({ prompt: options.prompt ?? 'node> ', input, output, terminal: true, useColors: true, useGlobal: false, preview: false });
  Object.assign(server.context, options.context ?? {});
  server.on('exit', () => {
    if (killed) return;
    killed = true;
    for (const l of exitListeners) l('normal');
  });
  return {
    write: (data) => void (killed || input.write(data)),
    resize: (cols, rows) => {
      output.columns = cols;
      output.rows = rows;
      output.emit('resize');
    },
    kill: () => {
      if (killed) return;
      killed = true;
      server.close();
      input.destroy();
      output.destroy();
    },
    onOutput: (l) => void outputListeners.push(l),
    onExit: (l) => void exitListeners.push(l),
  };
}
