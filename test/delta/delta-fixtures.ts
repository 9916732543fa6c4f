// Paths and recorded results of test/fixtures/fwup-delta (made with the real fwup 1.16.0 and xdelta3).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DELTA_FIXTURES = fileURLToPath(new URL('../fixtures/fwup-delta/', import.meta.url));
export const deltaFixture = (name: string): string => join(DELTA_FIXTURES, name);
export const DELTA_KEY = readFileSync(deltaFixture('keys/delta-key.pub'), 'utf8').trim();
export const DELTA_PRIVATE_KEY = readFileSync(deltaFixture('keys/delta-key.priv'), 'utf8').trim();

interface RecordedFwupRun {
  argv?: string[];
  exit: number;
  stdout?: string;
  stdout_file?: string;
}
/** expected/results.json: what fwup -V / -a said about each archive. */
export const DELTA_RESULTS: Record<string, RecordedFwupRun> = JSON.parse(readFileSync(deltaFixture('expected/results.json'), 'utf8'));
