import { setTimeout as delay } from 'node:timers/promises';
import type { Atecc508aErrorContext, Atecc508aZone } from './atecc-error.js';
import { Atecc508aError, Atecc508aErrorCodes } from './atecc-error.js';
import { hasValidCrc, withCrc } from './crc16.js';
import type { I2cTransport } from './i2c-transport.js';
import {
  ATECC508A_DEFAULT_ADDRESS,
  GENKEY_MODE_PUBLIC,
  Opcode,
  READ_32_BYTES,
  Status,
  WAKE_RESPONSE,
  WordAddress,
  ZONE_CODE,
  ZONE_SIZE,
  readAddress,
  slotSize,
  statusName,
} from './protocol.js';

/**
 * Timing and retry settings of {@link Atecc508a}. The defaults follow the datasheet: the chip
 * needs tWHI = 1.5 ms after the wake pulse, a Read finishes within 1 ms and a GenKey within
 * 115 ms (ATECC508A maximum execution times).
 *
 * @example
 * ```ts
 * const chip = new Atecc508a({ transport, timing: { wakeAttempts: 5 } });
 * ```
 */
export interface Atecc508aTiming {
  /** Wait after the wake pulse before reading the wake token (default 2 ms, tWHI is 1.5 ms). */
  wakeDelayMs: number;
  /** Wake attempts before giving up with `NH_ATECC_WAKE` (default 3). */
  wakeAttempts: number;
  /** Attempts of a command whose response fails its CRC or that the chip reports as garbled (default 3). */
  commandAttempts: number;
  /** Interval between response polls while the chip is busy (NACKs reads) (default 1 ms). */
  pollIntervalMs: number;
  /** Longest a Read may take (default 1 ms plus a 20 ms margin for slow buses). */
  readMaxMs: number;
  /** Longest a GenKey may take (default 115 ms plus a 20 ms margin). */
  genKeyMaxMs: number;
}

/** Default {@link Atecc508aTiming}. */
export const ATECC508A_TIMING: Readonly<Atecc508aTiming> = Object.freeze({
  wakeDelayMs: 2,
  wakeAttempts: 3,
  commandAttempts: 3,
  pollIntervalMs: 1,
  readMaxMs: 21,
  genKeyMaxMs: 135,
});

/**
 * Options of {@link Atecc508a}.
 *
 * @example
 * ```ts
 * const options: Atecc508aOptions = { transport: await openLinuxI2cTransport(1), address: 0x60 };
 * ```
 */
export interface Atecc508aOptions {
  /** The I²C bus the chip is on. */
  transport: I2cTransport;
  /** 7-bit I²C address (default 0x60; Trust&Go parts use 0x35). */
  address?: number;
  /** Timing overrides. */
  timing?: Partial<Atecc508aTiming>;
  /** Shown in error messages to say which bus this is, e.g. `/dev/i2c-1`. */
  busName?: string;
}

interface CommandSpec {
  opcode: number;
  param1: number;
  param2: number;
  data?: Uint8Array;
  /** Expected response data length (0: a status packet answers). */
  responseLength: number;
  maxMs: number;
  context: Atecc508aErrorContext;
}

/**
 * The ATECC508A/608A I²C command protocol: wake/idle/sleep, Read of the config, OTP and data
 * zones, and GenKey's public-key mode. Each command wakes the chip, runs, and puts it back to
 * sleep, so the chip's watchdog (≈1.3 s awake) never fires mid-sequence. Commands on one
 * instance run one at a time.
 *
 * @example
 * ```ts
 * const chip = new Atecc508a({ transport: await openLinuxI2cTransport(1) });
 * const serial = await chip.readSerialNumber(); // 9 bytes
 * const slot10 = await chip.readSlot(10);       // 72 bytes
 * ```
 */
export class Atecc508a {
  readonly #transport: I2cTransport;
  readonly #address: number;
  readonly #timing: Readonly<Atecc508aTiming>;
  readonly #where: string;
  #queue: Promise<unknown> = Promise.resolve();

  /** @throws TypeError on a missing transport or a bad address */
  constructor(options: Atecc508aOptions) {
    if (typeof options?.transport?.write !== 'function' || typeof options.transport.read !== 'function') {
      throw new TypeError('Atecc508a: transport must implement write() and read()');
    }
    const address = options.address ?? ATECC508A_DEFAULT_ADDRESS;
    if (!Number.isInteger(address) || address < 0x08 || address > 0x77) throw new TypeError(`Atecc508a: address must be a 7-bit I2C address, got ${String(address)}`);
    this.#transport = options.transport;
    this.#address = address;
    this.#timing = Object.freeze({ ...ATECC508A_TIMING, ...options.timing });
    this.#where = `at 0x${address.toString(16)}${options.busName ? ` on ${options.busName}` : ''}`;
  }

  /**
   * Wakes the chip: holds SDA low by writing 0x00 to address 0 (nobody acknowledges that write),
   * waits tWHI and expects the wake token `04 11 33 43`; retries after a sleep otherwise.
   * @throws Atecc508aError `NH_ATECC_WAKE`
   */
  async wake(signal?: AbortSignal): Promise<void> {
    let last = 'no answer';
    for (let attempt = 1; attempt <= this.#timing.wakeAttempts; attempt++) {
      signal?.throwIfAborted();
      await this.#transport.write(0x00, Uint8Array.of(0x00)).catch(() => undefined);
      await delay(this.#timing.wakeDelayMs);
      try {
        const token = await this.#transport.read(this.#address, 4);
        if (WAKE_RESPONSE.every((b, i) => token[i] === b)) return;
        last = `unexpected answer ${Buffer.from(token).toString('hex')}`;
        // Out of step (e.g. already awake with a stale response): sleep, then wake again.
        await this.sleep();
      } catch (cause) {
        last = `no acknowledge (${(cause as Error).message})`;
      }
    }
    throw new Atecc508aError(
      Atecc508aErrorCodes.wake,
      { step: 'wake' },
      `no wake response from the chip ${this.#where} after ${this.#timing.wakeAttempts} attempts (${last}): check the bus number, the address, the wiring, and that the bus runs below 133 kHz so the wake pulse is long enough`,
    );
  }

  /** Puts the chip into idle mode (keeps TempKey, restarts the watchdog on the next wake). Errors are ignored. */
  async idle(): Promise<void> {
    await this.#transport.write(this.#address, Uint8Array.of(WordAddress.idle)).catch(() => undefined);
  }

  /** Puts the chip to sleep (lowest power, volatile state cleared). Errors are ignored. */
  async sleep(): Promise<void> {
    await this.#transport.write(this.#address, Uint8Array.of(WordAddress.sleep)).catch(() => undefined);
  }

  /**
   * Reads one 4-byte word or one 32-byte block of a zone.
   * @param zone - `config`, `otp` or `data`
   * @param location - `block` (32-byte block index), `word` (4-byte word within the block, for 4-byte reads), `slot` (data zone)
   * @param length - 4 or 32
   * @throws Atecc508aError naming the zone (and slot)
   */
  async read(zone: Atecc508aZone, location: { block: number; word?: number; slot?: number }, length: 4 | 32, signal?: AbortSignal): Promise<Uint8Array> {
    const word = length === 32 ? 0 : (location.word ?? 0);
    const context: Atecc508aErrorContext = { step: 'read', zone, ...(zone === 'data' ? { slot: location.slot ?? 0 } : {}) };
    return this.#run(
      {
        opcode: Opcode.read,
        param1: ZONE_CODE[zone] | (length === 32 ? READ_32_BYTES : 0),
        param2: readAddress(zone, location.block, word, location.slot ?? 0),
        responseLength: length,
        maxMs: this.#timing.readMaxMs,
        context,
      },
      signal,
    );
  }

  /** Reads the whole 128-byte config zone. */
  async readConfigZone(signal?: AbortSignal): Promise<Uint8Array> {
    return this.#readZone('config', ZONE_SIZE.config, signal);
  }

  /** Reads the whole 64-byte OTP zone. */
  async readOtpZone(signal?: AbortSignal): Promise<Uint8Array> {
    return this.#readZone('otp', ZONE_SIZE.otp, signal);
  }

  /** The 9-byte chip serial number: config bytes 0–3 and 8–12. */
  async readSerialNumber(signal?: AbortSignal): Promise<Uint8Array> {
    const block = await this.read('config', { block: 0 }, 32, signal);
    return Uint8Array.from([...block.subarray(0, 4), ...block.subarray(8, 13)]);
  }

  /**
   * Reads a data-zone slot: whole 32-byte blocks, then 4-byte words for the rest.
   * @param length - bytes to read from the slot's start (default: the whole slot; a multiple of 4)
   */
  async readSlot(slot: number, length = slotSize(slot), signal?: AbortSignal): Promise<Uint8Array> {
    if (length % 4 !== 0 || length <= 0 || length > slotSize(slot)) throw new RangeError(`Atecc508a.readSlot: length must be a multiple of 4 up to ${slotSize(slot)}`);
    const out = new Uint8Array(length);
    let offset = 0;
    while (offset < length) {
      const block = offset >> 5;
      if (length - offset >= 32) {
        out.set(await this.read('data', { slot, block }, 32, signal), offset);
        offset += 32;
      } else {
        out.set(await this.read('data', { slot, block, word: (offset & 31) >> 2 }, 4, signal), offset);
        offset += 4;
      }
    }
    return out;
  }

  /**
   * The public key (64 bytes X‖Y) of the P-256 private key in `slot`, computed by the chip
   * (GenKey, public-key mode 0x00; the private key never leaves it).
   */
  async computePublicKey(slot: number, signal?: AbortSignal): Promise<Uint8Array> {
    slotSize(slot);
    return this.#run(
      { opcode: Opcode.genKey, param1: GENKEY_MODE_PUBLIC, param2: slot, responseLength: 64, maxMs: this.#timing.genKeyMaxMs, context: { step: 'genkey (public key)', slot } },
      signal,
    );
  }

  async #readZone(zone: 'config' | 'otp', size: number, signal?: AbortSignal): Promise<Uint8Array> {
    const out = new Uint8Array(size);
    for (let block = 0; block * 32 < size; block++) out.set(await this.read(zone, { block }, 32, signal), block * 32);
    return out;
  }

  /** Serializes commands: one transaction on the bus at a time. */
  #run(spec: CommandSpec, signal?: AbortSignal): Promise<Uint8Array> {
    const result = this.#queue.then(() => this.#transaction(spec, signal));
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #transaction(spec: CommandSpec, signal?: AbortSignal): Promise<Uint8Array> {
    const packet = commandPacket(spec);
    let lastProblem = '';
    try {
      for (let attempt = 1; attempt <= this.#timing.commandAttempts; attempt++) {
        signal?.throwIfAborted();
        await this.wake(signal);
        try {
          await this.#transport.write(this.#address, packet);
        } catch (cause) {
          throw new Atecc508aError(Atecc508aErrorCodes.i2c, spec.context, `the chip ${this.#where} did not accept the command: ${(cause as Error).message}`, { cause });
        }
        const response = await this.#receive(spec, signal);
        if (!hasValidCrc(response)) {
          lastProblem = 'response CRC mismatch';
        } else if (response.length === 4 && spec.responseLength !== 1) {
          const status = response[1] ?? 0;
          if (status === Status.success && spec.responseLength === 0) return new Uint8Array(0);
          if (status === Status.communicationError || status === Status.watchdogAboutToExpire || status === Status.afterWake) {
            lastProblem = statusName(status);
          } else {
            throw new Atecc508aError(Atecc508aErrorCodes.status, { ...spec.context, status }, `the chip answered ${statusName(status)}`);
          }
        } else if (response.length - 3 !== spec.responseLength) {
          throw new Atecc508aError(Atecc508aErrorCodes.badResponse, spec.context, `expected ${spec.responseLength} data bytes, got ${response.length - 3}`);
        } else {
          return response.slice(1, response.length - 2);
        }
        await this.sleep();
      }
    } finally {
      await this.sleep();
    }
    throw new Atecc508aError(
      Atecc508aErrorCodes.crc,
      spec.context,
      `${lastProblem} on each of ${this.#timing.commandAttempts} attempts: check the bus wiring, pull-ups and speed`,
    );
  }

  /** Polls for the response: the chip NACKs reads while it executes. Reads the count byte, then the rest. */
  async #receive(spec: CommandSpec, signal?: AbortSignal): Promise<Uint8Array> {
    const deadline = performance.now() + spec.maxMs;
    for (;;) {
      signal?.throwIfAborted();
      let count: number | undefined;
      try {
        count = (await this.#transport.read(this.#address, 1))[0];
      } catch (cause) {
        if (performance.now() >= deadline) {
          throw new Atecc508aError(Atecc508aErrorCodes.timeout, spec.context, `no response from the chip ${this.#where} within ${spec.maxMs} ms`, { cause });
        }
        await delay(this.#timing.pollIntervalMs);
        continue;
      }
      if (count === undefined || count < 4 || count > 155) return Uint8Array.of(count ?? 0, 0, 0); // fails the CRC check: retried
      let rest: Uint8Array;
      try {
        rest = await this.#transport.read(this.#address, count - 1);
      } catch (cause) {
        throw new Atecc508aError(Atecc508aErrorCodes.i2c, spec.context, `reading the ${count}-byte response failed: ${(cause as Error).message}`, { cause });
      }
      const response = new Uint8Array(count);
      response[0] = count;
      response.set(rest.subarray(0, count - 1), 1);
      return response;
    }
  }
}

/** `03 | count opcode param1 param2(LE) data CRC(LE)`. */
function commandPacket(spec: CommandSpec): Uint8Array {
  const data = spec.data ?? new Uint8Array(0);
  const body = new Uint8Array(5 + data.length);
  body[0] = 7 + data.length;
  body[1] = spec.opcode;
  body[2] = spec.param1;
  body[3] = spec.param2 & 0xff;
  body[4] = spec.param2 >> 8;
  body.set(data, 5);
  const framed = withCrc(body);
  const out = new Uint8Array(framed.length + 1);
  out[0] = WordAddress.command;
  out.set(framed, 1);
  return out;
}
