import type { I2cTransport } from './i2c-transport.js';
import { Atecc508aError, Atecc508aErrorCodes } from './atecc-error.js';
import { invalidOptions } from '../errors.js';

/**
 * The part of the optional `i2c-bus` package's promise API that {@link openLinuxI2cTransport}
 * uses. Node cannot issue the `I2C_SLAVE` ioctl that `/dev/i2c-N` needs to address a device, so
 * the native addon does it.
 *
 * @example
 * ```ts
 * const i2cBus = (await import('i2c-bus' as string)) as I2cBusModule; // the optional i2c-bus package
 * ```
 */
export interface I2cBusModule {
  /** Opens `/dev/i2c-<busNumber>`. */
  openPromisified(busNumber: number): Promise<I2cBusHandle>;
}

/**
 * An open bus of the `i2c-bus` promise API (its `PromisifiedBus`), as far as it is used here.
 *
 * @example
 * ```ts
 * const handle: I2cBusHandle = await i2cBus.openPromisified(1);
 * ```
 */
export interface I2cBusHandle {
  /** Plain I²C write of `length` bytes of `buffer` to `address` (ioctl I2C_SLAVE + write). */
  i2cWrite(address: number, length: number, buffer: Buffer): Promise<I2cBytesWritten>;
  /** Plain I²C read of `length` bytes from `address` into `buffer`. */
  i2cRead(address: number, length: number, buffer: Buffer): Promise<I2cBytesRead>;
  /** Closes the device file. */
  close(): Promise<void>;
}

/**
 * Result of {@link I2cBusHandle.i2cWrite}.
 *
 * @example
 * ```ts
 * const { bytesWritten }: I2cBytesWritten = await handle.i2cWrite(0x60, 1, Buffer.of(0x01));
 * ```
 */
export interface I2cBytesWritten {
  /** Bytes written. */
  bytesWritten: number;
}

/**
 * Result of {@link I2cBusHandle.i2cRead}.
 *
 * @example
 * ```ts
 * const { bytesRead, buffer }: I2cBytesRead = await handle.i2cRead(0x60, 4, Buffer.alloc(4));
 * ```
 */
export interface I2cBytesRead {
  /** Bytes read. */
  bytesRead: number;
  /** The buffer read into. */
  buffer: Buffer;
}

/**
 * Options of {@link openLinuxI2cTransport}.
 *
 * @example
 * ```ts
 * const options: LinuxI2cOptions = { i2cBusModule: i2cBus };
 * ```
 */
export interface LinuxI2cOptions {
  /** Use this `i2c-bus`-compatible module instead of importing `i2c-bus` (bundlers, tests). */
  i2cBusModule?: I2cBusModule;
}

/** The package name, kept in a variable so that bundlers and `tsc` leave the import alone. */
const I2C_BUS_PACKAGE = 'i2c-bus';

async function loadI2cBus(bus: number): Promise<I2cBusModule> {
  let mod: unknown;
  try {
    mod = await import(I2C_BUS_PACKAGE);
  } catch (cause) {
    throw new Atecc508aError(
      Atecc508aErrorCodes.i2cUnavailable,
      { step: `open /dev/i2c-${bus}` },
      `the optional package "i2c-bus" is not installed: install it next to nerves-hub-link (npm install i2c-bus; it builds a native addon) or pass your own I2cTransport`,
      { cause },
    );
  }
  const candidate = mod as Partial<I2cBusModule> & { default?: Partial<I2cBusModule> };
  const api = typeof candidate.openPromisified === 'function' ? candidate : candidate.default;
  if (typeof api?.openPromisified !== 'function') {
    throw new Atecc508aError(Atecc508aErrorCodes.i2cUnavailable, { step: `open /dev/i2c-${bus}` }, 'the installed "i2c-bus" package has no openPromisified(): install i2c-bus 5.x');
  }
  return api as I2cBusModule;
}

/**
 * Opens `/dev/i2c-<bus>` through the optional `i2c-bus` package, loaded only when this is called.
 *
 * @param bus - the bus number (NervesKey boards use 1: `/dev/i2c-1`)
 * @throws Atecc508aError `NH_ATECC_I2C_UNAVAILABLE` when `i2c-bus` is missing or the device file cannot be opened
 * @example
 * ```ts
 * const transport = await openLinuxI2cTransport(1);
 * const chip = new Atecc508a({ transport });
 * ```
 */
export async function openLinuxI2cTransport(bus: number, options: LinuxI2cOptions = {}): Promise<I2cTransport> {
  if (!Number.isInteger(bus) || bus < 0) throw invalidOptions(`openLinuxI2cTransport: bus must be a non-negative integer, got ${String(bus)}`);
  const api = options.i2cBusModule ?? (await loadI2cBus(bus));
  let handle: I2cBusHandle;
  try {
    handle = await api.openPromisified(bus);
  } catch (cause) {
    throw new Atecc508aError(
      Atecc508aErrorCodes.i2cUnavailable,
      { step: `open /dev/i2c-${bus}` },
      `cannot open /dev/i2c-${bus}: is the i2c-dev module loaded and the bus enabled, and may this user open it (group i2c)?`,
      { cause },
    );
  }
  return {
    async write(address, bytes) {
      const { bytesWritten } = await handle.i2cWrite(address, bytes.length, Buffer.from(bytes));
      if (bytesWritten !== bytes.length) throw new Error(`short I2C write: ${bytesWritten} of ${bytes.length} bytes`);
    },
    async read(address, length) {
      const { bytesRead, buffer } = await handle.i2cRead(address, length, Buffer.alloc(length));
      if (bytesRead !== length) throw new Error(`short I2C read: ${bytesRead} of ${length} bytes`);
      return new Uint8Array(buffer.subarray(0, length));
    },
    close: () => handle.close(),
  };
}
