/**
 * libconfuse float options, as fwup reads `length` on every build where `int` is 32 bits and `off_t`
 * 64 (x86_64, aarch64, 32-bit with large files): the value goes through C `strtod`, which must
 * consume the whole string, and fwup then casts it to `off_t` (truncation toward zero). So
 * `020000` is 20000 (not octal), `8192.0` is 8192 and `0x2000` is 8192 (C99 hex float).
 */

/** glibc `isspace` in the C locale: what strtod skips before the number. */
const LEADING_SPACE = /^[ \t\n\v\f\r]*/;
const DECIMAL = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
const HEX = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?[0-9]+))?$/;
const SPECIAL = /^([+-]?)(?:(inf|infinity)|nan(?:\([0-9A-Za-z_]*\))?)$/i;
/** Smallest positive normal double; glibc reports ERANGE below it, which libconfuse refuses. */
const DBL_MIN = 2.2250738585072014e-308;

/** Raised for a value libconfuse would refuse ("invalid floating point value" / "out of range"). */
export class ConfFloatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfFloatError';
  }
}

/** `M × 2^exponent` rounded once to the nearest double, like strtod does for hex floats. */
function scaleToDouble(mantissa: bigint, exponent: number): number {
  if (mantissa === 0n) return 0;
  let m = mantissa;
  let e = exponent;
  // Keep 55 significant bits (53 + guard + sticky) so Number() rounds exactly once.
  const extra = m.toString(2).length - 55;
  if (extra > 0) {
    const dropped = m & ((1n << BigInt(extra)) - 1n);
    m = (m >> BigInt(extra)) | (dropped === 0n ? 0n : 1n);
    e += extra;
  }
  let value = Number(m);
  // Scaling by powers of two is exact in the normal range; huge steps would overflow 2 ** e itself.
  while (e > 0 && Number.isFinite(value)) {
    const step = Math.min(e, 1000);
    value *= 2 ** step;
    e -= step;
  }
  while (e < 0 && value !== 0) {
    const step = Math.min(-e, 1000);
    value /= 2 ** step;
    e += step;
  }
  return value;
}

/**
 * C `strtod(text, &end)` with `*end == '\0'` required, as libconfuse parses a float option.
 *
 * @throws ConfFloatError for trailing garbage, an empty-after-spaces string, or a value out of
 *   the double range (strtod's ERANGE, which libconfuse turns into a parse error)
 */
export function parseConfFloat(text: string): number {
  // strtod("") converts nothing and leaves end at the (empty) string's NUL: libconfuse accepts it.
  if (text === '') return 0;
  const body = text.replace(LEADING_SPACE, '');
  let value: number;
  let nonZero: boolean;
  let special: RegExpExecArray | null;
  let hex: RegExpExecArray | null;
  if (DECIMAL.test(body)) {
    value = Number(body);
    nonZero = /[1-9]/.test(body.replace(/[eE].*$/, ''));
  } else if ((hex = HEX.exec(body)) && `${hex[2]}${hex[3] ?? ''}` !== '') {
    const fraction = hex[3] ?? '';
    const mantissa = BigInt(`0x${hex[2]}${fraction}`);
    nonZero = mantissa !== 0n;
    // A huge written exponent only matters for a non-zero mantissa; clamp it to stay a number.
    const written = Math.max(-1e6, Math.min(1e6, Number(hex[4] ?? '0')));
    value = scaleToDouble(mantissa, written - 4 * fraction.length);
    if (hex[1] === '-') value = -value;
  } else if ((special = SPECIAL.exec(body))) {
    value = special[2] ? Infinity : NaN;
    if (special[1] === '-') value = -value;
    return value;
  } else {
    throw new ConfFloatError(`invalid floating point value '${text}'`);
  }
  // Overflow, and underflow of a non-zero number (to 0 or below the normal range), set ERANGE.
  if (!Number.isFinite(value) || (nonZero && Math.abs(value) < DBL_MIN)) {
    throw new ConfFloatError(`floating point value '${text}' is out of range`);
  }
  return value;
}

/**
 * A `length` item as fwup 1.16 uses it on 64-bit builds: strtod, then `(off_t)` truncation.
 *
 * @throws ConfFloatError when libconfuse would refuse the text, or the value is not a usable size
 *   (infinite, NaN, or beyond 2^53)
 */
export function parseConfLength(text: string): number {
  const value = parseConfFloat(text);
  const truncated = Math.trunc(value) + 0; // + 0 turns -0 into 0
  if (!Number.isSafeInteger(truncated)) throw new ConfFloatError(`length '${text}' is out of range`);
  return truncated;
}
