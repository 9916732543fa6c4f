import { NervesHubError } from '../errors.js';

/** The three memory zones of an ATECC508A. */
export type Atecc508aZone = 'config' | 'otp' | 'data';

/**
 * Stable codes of {@link Atecc508aError}.
 *
 * @example
 * ```ts
 * if (isNervesHubError(err) && err.code === Atecc508aErrorCodes.wake) console.error('is the NervesKey on i2c-1 at 0x60?');
 * ```
 */
export const Atecc508aErrorCodes = Object.freeze({
  /** The optional `i2c-bus` package is not installed, or `/dev/i2c-N` cannot be opened. */
  i2cUnavailable: 'NH_ATECC_I2C_UNAVAILABLE',
  /** An I²C transfer failed (no ACK from the chip while writing a command, a bus error). */
  i2c: 'NH_ATECC_I2C',
  /** The chip did not answer the wake sequence with `04 11 33 43` after the retries. */
  wake: 'NH_ATECC_WAKE',
  /** Responses kept failing their CRC-16, or the chip kept reporting a CRC error in the command. */
  crc: 'NH_ATECC_CRC',
  /** No response within the command's maximum execution time. */
  timeout: 'NH_ATECC_TIMEOUT',
  /** The chip answered with an error status (parse error, execution error, ECC fault…). */
  status: 'NH_ATECC_STATUS',
  /** A response of the wrong length or shape. */
  badResponse: 'NH_ATECC_BAD_RESPONSE',
  /** The chip is not a provisioned NervesKey (zones unlocked, no NervesKey OTP data). */
  notNervesKey: 'NH_ATECC_NOT_NERVESKEY',
  /** A compressed certificate cannot be rebuilt, or the rebuilt certificate does not verify. */
  certificate: 'NH_ATECC_CERT',
} as const);

/** One of {@link Atecc508aErrorCodes}. */
export type Atecc508aErrorCode = (typeof Atecc508aErrorCodes)[keyof typeof Atecc508aErrorCodes];

/**
 * Where an {@link Atecc508aError} happened: the step, and the zone and slot when there is one.
 *
 * @example
 * ```ts
 * const where: Atecc508aErrorContext = { step: 'read', zone: 'data', slot: 10 };
 * ```
 */
export interface Atecc508aErrorContext {
  /** The step that failed, e.g. `wake`, `read`, `genkey`, `decompress device certificate`. */
  step: string;
  /** The zone being read, for zone reads. */
  zone?: Atecc508aZone;
  /** The slot, for data-zone reads and key commands. */
  slot?: number;
  /** The status byte the chip answered, for `NH_ATECC_STATUS`. */
  status?: number;
}

/**
 * A failure talking to an ATECC508A/608A or rebuilding its certificates. The message and the
 * fields name the step, zone and slot that failed.
 *
 * @example
 * ```ts
 * try {
 *   await provider.getTlsMaterial();
 * } catch (err) {
 *   if (err instanceof Atecc508aError) console.error(err.step, err.zone, err.slot, err.message);
 * }
 * ```
 */
export class Atecc508aError extends NervesHubError {
  /** The step that failed. */
  readonly step: string;
  /** The zone, when the step read a zone. */
  readonly zone: Atecc508aZone | undefined;
  /** The slot, when the step addressed a slot. */
  readonly slot: number | undefined;
  /** The chip's status byte, for `NH_ATECC_STATUS`. */
  readonly status: number | undefined;

  /**
   * Creates the error; the message is prefixed with the step, zone and slot.
   *
   * @param code - one of {@link Atecc508aErrorCodes}
   * @param context - step, zone, slot and status
   * @param message - what went wrong and what to check (the location is prefixed)
   * @param options - `cause`
   */
  constructor(code: Atecc508aErrorCode, context: Atecc508aErrorContext, message: string, options?: { cause?: unknown }) {
    super(code, `ATECC508A ${describeContext(context)}: ${message}`, options);
    this.name = 'Atecc508aError';
    this.step = context.step;
    this.zone = context.zone;
    this.slot = context.slot;
    this.status = context.status;
  }
}

function describeContext(c: Atecc508aErrorContext): string {
  const parts = [c.step];
  if (c.zone !== undefined) parts.push(`${c.zone} zone`);
  if (c.slot !== undefined) parts.push(`slot ${c.slot}`);
  return parts.join(', ');
}
