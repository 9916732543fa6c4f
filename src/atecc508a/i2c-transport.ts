/**
 * Raw I²C access to one bus, as the ATECC508A command layer needs it: whole-message writes and
 * reads addressed to a 7-bit address. A transfer the addressed device does not acknowledge must
 * reject (the wake sequence relies on that and ignores the rejection).
 *
 * Implement it over your platform's I²C API, use {@link openLinuxI2cTransport} on Linux, or a
 * simulated chip in tests (`SimulatedAtecc508a` from `nerves-hub-link/testing`).
 *
 * @example
 * ```ts
 * const transport: I2cTransport = {
 *   write: (address, bytes) => bus.i2cWrite(address, bytes.length, Buffer.from(bytes)).then(() => undefined),
 *   read: async (address, length) => new Uint8Array((await bus.i2cRead(address, length, Buffer.alloc(length))).buffer),
 * };
 * ```
 */
export interface I2cTransport {
  /** Writes `bytes` to the device at the 7-bit `address` in one transfer. Rejects on NACK. */
  write(address: number, bytes: Uint8Array): Promise<void>;
  /** Reads `length` bytes from the device at the 7-bit `address` in one transfer. Rejects on NACK. */
  read(address: number, length: number): Promise<Uint8Array>;
  /** Releases the bus (optional). */
  close?(): Promise<void>;
}
