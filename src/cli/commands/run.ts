import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { LinkArchivesOptions } from '../../link/device-services.js';
import { INVALID_OPTIONS, isNervesHubError } from '../../errors.js';
import type { Logger } from '../../logging/logger.js';
import { safeLog } from '../../logging/logger.js';
import { redactUrl } from '../../logging/redact.js';
import { sanitizeForLog } from '../../logging/log-sanitizer.js';
import { NervesHubLink } from '../../link/nerves-hub-link.js';
import { createDefaultUpdateClient } from '../../update/default-update-client.js';
import type { AgentConfig } from '../agent-config.js';
import { AgentConfigError, loadAgentConfig } from '../agent-config.js';
import { agentApplier, agentAuth, agentDeltaSource, agentDownloader, agentSocketOptions, deviceIdentity, readServerCa } from '../agent.js';
import type { CliIo } from '../cli-io.js';
import { processIo } from '../cli-io.js';
import { createCliLogger, parseLogFormat, parseLogLevel } from '../cli-logger.js';
import { reexecForPkcs11 } from '../openssl-reexec.js';
import { usageFailure } from './keys-option.js';

const USAGE = `Usage: nerves-hub-link run --config device.json [--log-format text|json] [--log-level LEVEL]

Runs the SDK as a standalone agent: connects to NervesHub, applies the updates it offers
(verified against fwupPublicKeys) and reboots as configured.

Options:
  -c, --config FILE      device configuration (see "device.json reference" in the README)
  --log-format F         text (default) or json (one JSON object per line), on stderr
  --log-level L          error, warn, info (default) or debug
  -h, --help             show this help

Stops cleanly on SIGINT/SIGTERM (exit 0). After a completed update (or the server's reboot):
reboot.type "exit" exits with reboot.code; "command" runs reboot.argv (no shell), then stops.
Exit codes: 0 stopped, 1 failure, 2 configuration or usage error.
`;

/** Timeouts of the agent's shutdown. */
export const RUN_DEFAULTS = Object.freeze({
  /** Longest wait for `link.stop()` before exiting anyway. */
  stopTimeoutMs: 10_000,
  /** Longest wait for the reboot command to finish. */
  rebootCommandTimeoutMs: 60_000,
});

/** Why the agent ends. */
type Ending = { kind: 'signal'; signal: NodeJS.Signals } | { kind: 'reboot' };

/** `nerves-hub-link run`. */
export async function run(argv: string[], io: CliIo = processIo()): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        'log-format': { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    return usageFailure('run', (error as Error).message, USAGE, io.stderr);
  }
  const { values } = parsed;
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  let logger: Logger;
  try {
    logger = createCliLogger({ format: parseLogFormat(values['log-format']), level: parseLogLevel(values['log-level']), stream: io.stderr });
  } catch (error) {
    return usageFailure('run', (error as Error).message, USAGE, io.stderr);
  }
  if (values.config === undefined) return usageFailure('run', '--config is required', USAGE, io.stderr);

  let finish!: (ending: Ending) => void;
  const ended = new Promise<Ending>((resolve) => (finish = resolve));
  let config: AgentConfig;
  let link: NervesHubLink;
  try {
    config = await loadAgentConfig(values.config);
    const restarted = await reexecForPkcs11(config);
    if (restarted !== undefined) return restarted;
    // A PKCS#11 misconfiguration (module, token, PIN, object, engine) stops here, before any handshake.
    if (config.auth.type === 'pkcs11') {
      const auth = await agentAuth(config);
      if (auth.type === 'certificate' && 'check' in auth.provider) await (auth.provider as { check(): Promise<unknown> }).check();
    }
    link = await createAgent(config, logger, () => finish({ kind: 'reboot' }));
    const identity = await deviceIdentity(config);
    safeLog(logger, 'info', `nerves-hub-link agent starting: device ${identity.identifier}, firmware ${config.firmware.product ?? '?'} ${config.firmware.version ?? '?'}`, {
      device: identity.identifier,
      auth: identity.auth,
      ...(identity.certificateValidTo ? { certificateValidTo: identity.certificateValidTo } : {}),
      firmwareUuid: config.firmware.uuid,
      url: redactUrl(config.url),
      apply: config.apply.type,
      deltaSource: config.deltaSource?.type ?? 'none',
      strategy: config.strategy,
      reboot: config.reboot.type,
      ...(config.services.archives ? { archives: config.services.archives.command ? 'command' : 'kept' } : {}),
    });
    if (config.allowInsecureHttpDownloadsForTesting) {
      safeLog(logger, 'warn', 'INSECURE: allowInsecureHttpDownloadsForTesting is set: firmware may be downloaded over plain http. Lab setups only; remove it from device.json on real devices.');
    }
  } catch (error) {
    if (error instanceof AgentConfigError && error.problems.length > 1) {
      io.stderr.write(`nerves-hub-link run: ${error.problems.length} problems in ${values.config}:\n${error.problems.map((p) => `  ${sanitizeForLog(`config key "${p.key}": ${p.message}`)}\n`).join('')}`);
      return 2;
    }
    if (error instanceof AgentConfigError || (isNervesHubError(error) && (error.code === 'NH_CONFIG_UNSUPPORTED' || error.code.startsWith('NH_PKCS11_')))) {
      io.stderr.write(`nerves-hub-link run: ${error.message}\n`);
      return 2;
    }
    throw error;
  }

  const onSignal = (signal: NodeJS.Signals): void => finish({ kind: 'signal', signal });
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  link.start();
  const ending = await ended;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);

  if (ending.kind === 'signal') {
    safeLog(logger, 'info', `${ending.signal}: stopping`);
    await stopWithin(link, logger);
    return 0;
  }
  if (config.reboot.type === 'exit') {
    safeLog(logger, 'info', `reboot requested: stopping and exiting with code ${config.reboot.code}`);
    await stopWithin(link, logger);
    return config.reboot.code;
  }
  safeLog(logger, 'info', 'reboot requested: running the reboot command', { argv: config.reboot.argv });
  const command = runCommand('reboot', config.reboot.argv, logger);
  await stopWithin(link, logger);
  return (await command) ? 0 : 1;
}

/** Builds the agent's {@link NervesHubLink} from a config. `onReboot` is called for the reboot hook. */
export async function createAgent(config: AgentConfig, logger: Logger, onReboot: () => void): Promise<NervesHubLink> {
  const socket = await agentSocketOptions(config);
  const serverCa = await readServerCa(config);
  const client = createDefaultUpdateClient({ currentFirmwareUuid: config.firmware.uuid, reboot: onReboot });
  client.onProgress = (stage, percent) => safeLog(logger, 'info', `${stage} ${percent}%`, { stage, percent });
  const services = config.services;
  client.identify = async () => {
    safeLog(logger, 'info', 'NervesHub asked this device to identify itself', services.identify ? { argv: services.identify.argv } : undefined);
    if (services.identify) await runCommand('identify', services.identify.argv, logger);
  };
  const deltaSource = agentDeltaSource(config);
  try {
    // The socket and the update manager log connections, errors and outcomes themselves.
    return new NervesHubLink({
      socket,
      client,
      applier: agentApplier(config, logger),
      update: {
        strategy: config.strategy,
        stateDir: config.stateDir,
        downloader: agentDownloader(config, serverCa, logger),
        allowInsecureHttpDownloadsForTesting: config.allowInsecureHttpDownloadsForTesting === true,
        ...(deltaSource !== undefined ? { deltaSource } : {}),
      },
      // health and geo on by default, as nerves_hub_link; the console only when enabled
      extensions: { health: services.extensions.health, geo: services.extensions.geo ? {} : false },
      ...(services.console
        ? {
            console: {
              ...(services.console.timeoutSeconds !== undefined ? { timeoutSeconds: services.console.timeoutSeconds } : {}),
              ...(services.console.uploadDir !== undefined ? { uploadDir: services.console.uploadDir } : {}),
              ...(services.console.shell ? { shell: { command: services.console.shell[0]!, args: services.console.shell.slice(1) } } : {}),
            },
          }
        : {}),
      ...(services.archives ? { archives: agentArchives(config, logger) } : {}),
      logger,
    });
  } catch (error) {
    // Options the config schema lets through but the socket refuses (e.g. a non-http proxy URL).
    if (isNervesHubError(error) && error.code === INVALID_OPTIONS) throw new AgentConfigError(/: (\w+) /.exec(error.message)?.[1] ?? '(options)', error.message);
    throw error;
  }
}

/**
 * Archives of `run`: every offer is downloaded (the archive keys decide what is trusted); a
 * verified archive is handed to `archives.command` (argv + the path, no shell) or left in the dir.
 */
function agentArchives(config: AgentConfig, logger: Logger): LinkArchivesOptions {
  const archives = config.services.archives!;
  const dir = archives.dir ?? join(config.stateDir, 'archives');
  return {
    dir,
    client: {
      archiveAvailable: (info) => {
        safeLog(logger, 'info', `NervesHub offered archive ${info.uuid}; downloading`, { uuid: info.uuid, version: info.version });
        return 'download';
      },
      archiveReady: async (info, path) => {
        if (!archives.command) {
          safeLog(logger, 'info', `archive ${info.uuid} verified; kept at ${path} (no archives.command)`, { uuid: info.uuid, path });
          return;
        }
        safeLog(logger, 'info', `archive ${info.uuid} verified; running the archive command`, { uuid: info.uuid, path, argv: archives.command });
        await runCommand('archive', [...archives.command, path], logger);
      },
    },
  };
}

async function stopWithin(link: NervesHubLink, logger: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), RUN_DEFAULTS.stopTimeoutMs)));
  const result = await Promise.race([link.stop().then(() => 'stopped' as const), timeout]);
  clearTimeout(timer);
  if (result === 'timeout') safeLog(logger, 'warn', `stop did not finish within ${RUN_DEFAULTS.stopTimeoutMs} ms; exiting anyway`);
  else safeLog(logger, 'info', 'stopped');
}

/** Spawns a configured command (no shell); resolves true when it exits 0. */
function runCommand(what: 'reboot' | 'identify' | 'archive', argv: string[], logger: Logger): Promise<boolean> {
  return new Promise((resolve) => {
    const [file, ...args] = argv as [string, ...string[]];
    const child = spawn(file, args, { stdio: 'inherit', shell: false });
    const timer = setTimeout(() => {
      safeLog(logger, 'error', `the ${what} command did not finish within ${RUN_DEFAULTS.rebootCommandTimeoutMs} ms`);
      resolve(false);
    }, RUN_DEFAULTS.rebootCommandTimeoutMs);
    timer.unref();
    child.once('error', (error) => {
      clearTimeout(timer);
      safeLog(logger, 'error', `cannot run the ${what} command ${file}: ${error.message}`);
      resolve(false);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) safeLog(logger, 'info', `${what} command finished`);
      else safeLog(logger, 'error', `the ${what} command failed`, { code, signal });
      resolve(code === 0);
    });
  });
}
