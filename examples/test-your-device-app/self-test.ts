/**
 * Runs app.test.ts with Node's test runner (through tsx, as you would in your own project) and
 * checks that every test passed.
 *
 * Self-test:  npx tsx examples/test-your-device-app/self-test.ts
 * Directly:   npx tsx --test examples/test-your-device-app/app.test.ts
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isEntryPoint, runMain } from '../_support/self-test-kit.js';

/** Counts from the test runner's TAP summary. */
export interface SelfTestReport {
  tests: number;
  pass: number;
  fail: number;
  exitCode: number | null;
}

/** Spawns `node --import tsx --test app.test.ts`; throws unless all tests passed. */
export async function selfTest(): Promise<SelfTestReport> {
  const here = dirname(fileURLToPath(import.meta.url));
  const repoRoot = join(here, '..', '..');
  // tsx's loader, resolved from this project (it also maps `nerves-hub-link` to src/ via tsconfig paths).
  const tsxLoader = createRequire(import.meta.url).resolve('tsx/esm');
  const child = spawn(process.execPath, ['--import', tsxLoader, '--test', '--test-reporter=tap', join(here, 'app.test.ts')], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exitCode = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const count = (name: string): number => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(output)?.[1] ?? NaN);
  const report: SelfTestReport = { tests: count('tests'), pass: count('pass'), fail: count('fail'), exitCode };
  if (exitCode !== 0 || report.fail !== 0 || !(report.pass >= 3) || report.pass !== report.tests) {
    throw new Error(`self-test failed: ${JSON.stringify(report)}\n${output}`);
  }
  return report;
}

if (isEntryPoint(import.meta.url)) {
  runMain(async () => {
    const r = await selfTest();
    console.log(`self-test passed: ${r.pass}/${r.tests} tests`);
  });
}
