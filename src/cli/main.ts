#!/usr/bin/env node
/**
 * `nerves-hub-link` command: a small dispatcher. Each subcommand lives in `commands/<name>.ts` and
 * exports `run(argv): Promise<number>` (the exit code). Exit codes: 0 success, 1 failure (e.g. an
 * invalid archive), 2 usage errors.
 */
import { SDK_VERSION } from '../download/user-agent.js';
import { COMMANDS, type CommandModule } from './commands/registry.js';
import { allowOpenSslReexec, reportExitCodeToParent } from './openssl-reexec.js';

const USAGE = `Usage: nerves-hub-link <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, entry]) => `  ${name.padEnd(10)} ${entry.summary}`)
  .join('\n')}

Run 'nerves-hub-link <command> --help' for a command's options.
'nerves-hub-link --version' prints the version.
`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    process.stdout.write(`nerves-hub-link ${SDK_VERSION}\n`);
    return 0;
  }
  const entry = Object.prototype.hasOwnProperty.call(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!entry) {
    process.stderr.write(`nerves-hub-link: unknown command '${name}'\n\n${USAGE}`);
    return 2;
  }
  const command: CommandModule = await entry.load();
  return command.run(rest);
}

// run/doctor may restart this script with --openssl-config for a PKCS#11 key
allowOpenSslReexec(process.argv[1]);
main(process.argv.slice(2))
  .then(
    (code) => code,
    (error: unknown) => {
      process.stderr.write(`nerves-hub-link: ${error instanceof Error ? error.message : String(error)}\n`);
      return 1;
    },
  )
  .then(async (code) => {
    process.exitCode = code;
    await reportExitCodeToParent(code);
  });
