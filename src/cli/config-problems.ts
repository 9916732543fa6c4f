/**
 * Collects every problem of a `device.json` so the user fixes them in one round, and suggests the
 * known key a misspelt one was probably meant to be.
 */

/** One problem of a config: the JSON path of the key at fault and what is wrong with it. */
export interface ConfigProblem {
  /** JSON path, e.g. `auth.certFile`, `fwupPublicKeys[0]`, `(file)`. */
  key: string;
  message: string;
}

/** Thrown by a check to record a problem and skip the rest of that check. */
export class ConfigProblemSignal extends Error {
  constructor(readonly problem: ConfigProblem) {
    super(problem.message);
  }
}

/** Thrown to stop a check whose problems are already recorded. */
class ConfigSkipSignal extends Error {}

/** Stops the current check without recording anything (its problems are already recorded). */
export function skipCheck(): never {
  throw new ConfigSkipSignal('skipped');
}

/** Records problems; `attempt` runs one independent check and keeps going after a problem. */
export class ConfigProblems {
  readonly list: ConfigProblem[] = [];

  add(key: string, message: string): void {
    this.list.push({ key, message });
  }

  /** Runs `check`; a {@link ConfigProblemSignal} it throws is recorded and `undefined` returned. */
  attempt<T>(check: () => T): T | undefined {
    try {
      return check();
    } catch (error) {
      if (error instanceof ConfigSkipSignal) return undefined;
      if (!(error instanceof ConfigProblemSignal)) throw error;
      this.list.push(error.problem);
      return undefined;
    }
  }
}

/** Records one problem and stops the current check. */
export function problem(key: string, message: string): never {
  throw new ConfigProblemSignal({ key, message });
}

/** Levenshtein distance, small strings only (config keys). */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/**
 * The known key `unknown` most likely meant: same letters in another case, or at most a third of
 * its letters (at least 1, at most 3) away. Undefined when nothing is close.
 */
export function closestKey(unknown: string, known: readonly string[]): string | undefined {
  const lower = unknown.toLowerCase();
  const sameCase = known.find((k) => k.toLowerCase() === lower);
  if (sameCase !== undefined) return sameCase;
  const limit = Math.min(3, Math.max(1, Math.floor(unknown.length / 3)));
  let best: { key: string; d: number } | undefined;
  for (const key of known) {
    const d = distance(lower, key.toLowerCase());
    if (d <= limit && (best === undefined || d < best.d)) best = { key, d };
  }
  return best?.key;
}

/** Records one problem per key of `o` not in `allowed`, with a "did you mean" when one is close. */
export function checkUnknownKeys(problems: ConfigProblems, o: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const k of Object.keys(o)) {
    if (allowed.includes(k)) continue;
    const guess = closestKey(k, allowed);
    const hint = guess !== undefined ? `did you mean "${guess}"?` : `known: ${allowed.join(', ')}`;
    problems.add(path ? `${path}.${k}` : k, `is not a known key (${hint})`);
  }
}
