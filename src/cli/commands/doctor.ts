import { parseArgs } from 'node:util';
import type { CliIo } from '../cli-io.js';
import { formatDuration, processIo } from '../cli-io.js';
import type { DoctorStepResult } from '../doctor-checks.js';
import { runDoctorChecks } from '../doctor-checks.js';
import { loadAgentConfig } from '../agent-config.js';
import { reexecForPkcs11 } from '../openssl-reexec.js';
import { usageFailure } from './keys-option.js';

const USAGE = `Usage: nerves-hub-link doctor --config device.json [--join] [--json]

Checks, step by step, that this device can reach NervesHub with its configuration:
config, clock, DNS, TCP, TLS (server certificate and our client certificate) and fwup keys.
Prints what failed and how to fix it. Safe on a live device: by default nothing connects as the
device, so a running agent stays connected and its update in progress is not touched.

Options:
  -c, --config FILE   device configuration (the one 'nerves-hub-link run' uses)
  --join              also check authentication (the WebSocket upgrade) and a real join of the
                      "device" topic, and whether NervesHub sends fwup keys. This connects as the
                      device: NervesHub then disconnects a running agent with the same identity
                      (it reconnects by itself). Stop the agent first. The join reports the
                      update in progress recorded in stateDir, so NervesHub keeps it.
  --json              print one JSON object {"ok", "steps": [{name, status, detail, fix?, code?, durationMs}]}
  -h, --help          show this help

Exit codes: 0 no check failed, 1 a check failed, 2 usage error.
`;

const MARKS: Readonly<Record<DoctorStepResult['status'], string>> = Object.freeze({ pass: '✓', fail: '✗', skip: '-' });

function formatStep(step: DoctorStepResult): string {
  const time = step.status === 'skip' ? '' : ` (${formatDuration(step.durationMs)})`;
  let text = `  ${MARKS[step.status]} ${step.name.padEnd(7)} ${step.detail}${time}\n`;
  if (step.code) text += `            code: ${step.code}\n`;
  if (step.fix) text += `            fix:  ${step.fix}\n`;
  return text;
}

/** `nerves-hub-link doctor`. */
export async function run(argv: string[], io: CliIo = processIo()): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { config: { type: 'string', short: 'c' }, join: { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (error) {
    return usageFailure('doctor', (error as Error).message, USAGE, io.stderr);
  }
  const { values } = parsed;
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  if (values.config === undefined) return usageFailure('doctor', '--config is required', USAGE, io.stderr);
  const json = values.json === true;
  // A PKCS#11 key needs Node started with the engine's OpenSSL config: restart with it if needed
  // (a config that does not load is reported by the config step below).
  const config = await loadAgentConfig(values.config).catch(() => undefined);
  if (config) {
    try {
      const restarted = await reexecForPkcs11(config);
      if (restarted !== undefined) return restarted;
    } catch {
      // the engine step reports it, with the fix
    }
  }
  const join = values.join === true;
  if (!json) {
    io.stdout.write(`nerves-hub-link doctor: ${values.config}\n`);
    io.stdout.write(
      join
        ? '(--join: connects as this device; a running agent with the same identity is disconnected and reconnects)\n'
        : '(read-only: nothing connects as this device; add --join to check authentication and the join too)\n',
    );
  }
  const steps = await runDoctorChecks(values.config, { join, onStep: (step) => void (json ? undefined : io.stdout.write(formatStep(step))) });
  const ok = !steps.some((s) => s.status === 'fail');
  if (json) {
    io.stdout.write(`${JSON.stringify({ ok, steps: steps.map((s) => ({ ...s, durationMs: Math.round(s.durationMs) })) })}\n`);
  } else {
    const failed = steps.filter((s) => s.status === 'fail').length;
    const passed = join ? '\nAll checks passed.\n' : '\nNo check failed. Run with --join (agent stopped) to check authentication and the join too.\n';
    io.stdout.write(ok ? passed : `\n${failed} check${failed === 1 ? '' : 's'} failed; later checks that depend on ${failed === 1 ? 'it' : 'them'} were skipped.\n`);
  }
  return ok ? 0 : 1;
}
