/** Outcome of validating a server payload: the typed value, or why it was refused. */
export type ParseResult<T> =
  | {
      /** The payload was valid. */
      ok: true;
      /** The validated, typed value. */
      value: T;
    }
  | {
      /** The payload was refused. */
      ok: false;
      /** Why, for logs (never contains secrets). */
      error: string;
    };

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
