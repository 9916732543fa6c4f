import { isNervesHubError } from '../../errors.js';
import { usageFailure } from './keys-option.js';

/**
 * Runs a provisioning action: a `NervesHubError` becomes `nerves-hub-link: MESSAGE (CODE)` and exit
 * code 1; an unreadable input file (ENOENT, EACCES, EISDIR) becomes a usage error (exit 2).
 */
export async function runProvisioning(command: string, usage: string, action: () => Promise<number>): Promise<number> {
  try {
    return await action();
  } catch (error) {
    if (isNervesHubError(error)) {
      process.stderr.write(`nerves-hub-link ${command}: ${error.message} (${error.code})\n`);
      return 1;
    }
    const e = error as NodeJS.ErrnoException;
    if (e.code === 'ENOENT' || e.code === 'EACCES' || e.code === 'EISDIR') {
      return usageFailure(command, `cannot open '${e.path ?? '?'}' (${e.code})`, usage);
    }
    throw error;
  }
}

/** `parseArgs` with its exceptions turned into a usage failure (exit 2). */
export function parseOrUsage<T>(command: string, usage: string, parse: () => T): T | number {
  try {
    return parse();
  } catch (error) {
    return usageFailure(command, (error as Error).message, usage);
  }
}
