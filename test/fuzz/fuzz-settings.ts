/**
 * Shared settings of the fuzz tests: a fixed seed and a small number of runs in CI, so the suite
 * stays fast and a failure reproduces; `FUZZ_RUNS=2000 npx vitest run test/fuzz` runs more locally
 * and `FUZZ_SEED=N` explores other inputs (fast-check prints the seed and path of a failure).
 */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20261130);

/** `FUZZ_RUNS` when set, else the CI default of the property. */
export function fuzzRuns(ciDefault: number): number {
  const fromEnv = Number(process.env.FUZZ_RUNS);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : ciDefault;
}

/** A test's budget grows with the runs asked for (the CI default fits well within 30 s). */
export function fuzzTimeoutMs(ciDefault: number, perRunMs: number): number {
  return Math.max(60_000, fuzzRuns(ciDefault) * perRunMs * 3);
}

/**
 * Records every `unhandledRejection` and `uncaughtException` of the process while installed: the
 * SDK must turn hostile input into typed errors and events, never into an escaped exception.
 */
export function trapEscapes(): { escaped: unknown[]; remove(): void } {
  const escaped: unknown[] = [];
  const onEscape = (error: unknown): void => {
    escaped.push(error);
  };
  process.on('unhandledRejection', onEscape);
  process.on('uncaughtException', onEscape);
  return {
    escaped,
    remove: () => {
      process.off('unhandledRejection', onEscape);
      process.off('uncaughtException', onEscape);
    },
  };
}
