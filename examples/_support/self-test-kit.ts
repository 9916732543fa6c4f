/**
 * Plumbing shared by the examples' self-tests (not part of any example's lesson): timeouts, the
 * status list the test server saw, and "am I the entry script?".
 */
import { pathToFileURL } from 'node:url';
import type { Logger } from 'nerves-hub-link';
import type { NervesHubTestServer } from 'nerves-hub-link/testing';

/** Rejects when `promise` has not settled after `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The `status_update` statuses (with `reason` / `delay_for` when present) one device sent, in order. */
export function statusesSeen(server: NervesHubTestServer, identifier: string): Array<{ status: string; reason?: string; delay_for?: number }> {
  return server.frames
    .filter((f) => f.identifier === identifier && f.event === 'status_update')
    .map((f) => f.payload as { status: string; reason?: string; delay_for?: number });
}

/** Logs to stdout; used by the examples when run for real, or with NHL_EXAMPLE_VERBOSE=1. */
export const consoleLogger: Logger = { log: (level, message, data) => console.log(`[${level}] ${message}`, data ?? '') };

/** The logger of a self-test: silent unless NHL_EXAMPLE_VERBOSE is set. */
export function selfTestLogger(): { logger?: Logger } {
  return process.env.NHL_EXAMPLE_VERBOSE ? { logger: consoleLogger } : {};
}

/** True when the module at `moduleUrl` is the script node/tsx was started with. */
export function isEntryPoint(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && moduleUrl === pathToFileURL(process.argv[1]).href;
}

/** True when the example should run its self-test instead of connecting to a real NervesHub. */
export function selfTestRequested(): boolean {
  return process.argv.includes('--self-test') || process.env.NHL_EXAMPLE_SELFTEST === '1';
}

/** Runs `main` as the entry script: prints the error and exits 1 if it rejects. */
export function runMain(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}

/** Waits until the server has received `status_update` with `status` from `identifier` (frames from index `fromIndex` on). */
export async function waitForStatus(
  server: NervesHubTestServer,
  identifier: string,
  status: string,
  fromIndex = 0,
): Promise<{ status: string; reason?: string; delay_for?: number }> {
  const frame = await server.waitForFrame(
    (f) => f.identifier === identifier && f.event === 'status_update' && (f.payload as { status?: unknown }).status === status,
    { fromIndex, timeoutMs: 10_000 },
  );
  return frame.payload as { status: string; reason?: string; delay_for?: number };
}
