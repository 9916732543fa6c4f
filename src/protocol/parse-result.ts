/** Outcome of validating a server payload: the typed value, or why it was refused. */
export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** @internal */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** @internal optional string: absent/null → undefined; non-string → error */
export function optionalString(obj: Record<string, unknown>, key: string): string | undefined | Error {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') return new Error(`"${key}" must be a string`);
  return v;
}
