/**
 * Formats a string value the way fwup prints it in meta.conf and `fwup -m`: bare when it is made only
 * of ASCII letters, digits, `_` and `.`; otherwise double-quoted with `"` and `\` backslash-escaped
 * (the empty string is quoted too).
 *
 * @example
 * ```ts
 * fwupQuote('0.1.0'); // 0.1.0
 * fwupQuote('fwup fixture'); // "fwup fixture"
 * ```
 */
export function fwupQuote(value: string): string {
  if (/^[A-Za-z0-9_.]+$/.test(value)) return value;
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
