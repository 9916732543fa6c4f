// Shared by the benches: the median, number formatting, and timing a command under /usr/bin/time.
import { spawnSync } from 'node:child_process';

/** Median of numbers (the mean of the two middle ones for an even count). */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Two decimals. */
export const fmt = (n) => n.toFixed(2);

/** Runs a command under /usr/bin/time: wall seconds, CPU seconds (user + sys), peak RSS in MB, and its stdout. */
export function timeCommand(command, args) {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', command, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${r.status}): ${r.stdout} ${r.stderr}`);
  const [wall, user, sys, kib] = r.stderr.trim().split('\n').pop().split(' ').map(Number);
  return { wall, cpu: user + sys, rssMb: kib / 1024, stdout: r.stdout };
}
