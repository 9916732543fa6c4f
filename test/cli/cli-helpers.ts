import { Writable } from 'node:stream';
import type { CliIo } from '../../src/cli/cli-io.js';

/** A CliIo that records what a command writes. */
export function captureIo(isTTY = false): CliIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk, _encoding, done) {
        append(String(chunk));
        done();
      },
    });
  return {
    stdout: sink((s) => (out += s)),
    stderr: sink((s) => (err += s)),
    isTTY,
    out: () => out,
    err: () => err,
  };
}
