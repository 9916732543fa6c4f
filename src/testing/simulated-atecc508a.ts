import type { I2cTransport } from '../atecc508a/i2c-transport.js';
import { hasValidCrc, withCrc } from '../atecc508a/crc16.js';
import { ATECC508A_DEFAULT_ADDRESS, GENKEY_MODE_PUBLIC, Opcode, Status, WAKE_RESPONSE, WordAddress, ZONE_SIZE, slotSize } from '../atecc508a/protocol.js';

/**
 * Recorded contents of a {@link SimulatedAtecc508a}.
 *
 * @example
 * ```ts
 * const contents: SimulatedAtecc508aOptions = { serialNumber: Buffer.from('0123d2b0c4a1e5c8ee', 'hex'), slots: { 10: slot10 } };
 * ```
 */
export interface SimulatedAtecc508aOptions {
  /** The 9-byte chip serial number (laid out in config bytes 0–3 and 8–12). */
  serialNumber: Uint8Array;
  /** OTP zone, up to 64 bytes (zero padded). */
  otp?: Uint8Array;
  /** Data-zone slot contents (zero padded to the slot size). */
  slots?: Record<number, Uint8Array>;
  /** Public keys (64 bytes X‖Y) the chip computes for the private keys in these slots (GenKey mode 0). */
  publicKeys?: Record<number, Uint8Array>;
  /** Slots whose contents Read refuses (IsSecret) with an execution error (default `[0]`). */
  secretSlots?: number[];
  /** Config and data zones locked, as on a provisioned chip (default true). */
  locked?: boolean;
  /** 7-bit I²C address (default 0x60). */
  address?: number;
}

/**
 * A fault the simulated chip plays on the coming transfers.
 *
 * @example
 * ```ts
 * const chip = new SimulatedAtecc508a(nervesKeySimulatorOptions(contents));
 * chip.injectFault({ kind: 'corrupt-response' });          // one response with a bad CRC
 * chip.injectFault({ kind: 'status', status: 0x0f });      // one execution error
 * chip.injectFault({ kind: 'busy', times: 3 });            // NACK three response reads
 * ```
 */
export interface SimulatedAteccFault {
  /**
   * `no-wake`: ignore the wake pulse; `busy`: NACK response reads as a chip still executing;
   * `corrupt-response`: send a response with a wrong CRC; `corrupt-command`: treat the command as
   * garbled on the bus (status 0xFF); `status`: answer `status` instead of executing; `silent`:
   * never answer the command.
   */
  kind: 'no-wake' | 'busy' | 'corrupt-response' | 'corrupt-command' | 'status' | 'silent';
  /** How many times the fault plays (default 1); for `busy`, how many reads are NACKed. */
  times?: number;
  /** For `status`: the status byte to answer (e.g. 0x0F execution error, 0x05 ECC fault). */
  status?: number;
  /** For `status`: only for this opcode. */
  opcode?: number;
}

/** One command the simulated chip received. */
export interface SimulatedAteccCommand {
  /** Opcode, e.g. 0x02 Read, 0x40 GenKey. */
  opcode: number;
  /** param1 (for Read: zone code, bit 7 = 32 bytes). */
  param1: number;
  /** param2 (for Read: the address). */
  param2: number;
}

type State = 'sleep' | 'idle' | 'awake';
type PendingFault = SimulatedAteccFault & { left: number };

function nackError(why: string): Error {
  return Object.assign(new Error(`Remote I/O error (no acknowledge: ${why})`), { code: 'EREMOTEIO' });
}

/**
 * A simulated ATECC508A that answers the real I²C command protocol, bytes in and bytes out: the
 * wake pulse (a write to address 0) and its `04 11 33 43` token, sleep/idle word addresses, command
 * packets with their count and CRC-16, Read of the config, OTP and data zones (4- and 32-byte
 * reads, slot addressing, lock and secret-slot checks), GenKey in public-key mode, Info, and the
 * 4-byte status packet for errors. It implements `I2cTransport`, so it stands in for a bus with a
 * chip on it. Use it to test code built on `nerves-hub-link/atecc508a` without hardware.
 *
 * @example
 * ```ts
 * const chip = new SimulatedAtecc508a(createNervesKeyImage({ manufacturerSerialNumber: 'NK-0001' }).simulatorOptions);
 * const provider = new NervesKeyCertificateProvider({ transport: chip, signing: { uri: 'pkcs11:token=1' } });
 * ```
 */
export class SimulatedAtecc508a implements I2cTransport {
  /** Every command received, in order. */
  readonly commands: SimulatedAteccCommand[] = [];
  readonly #address: number;
  readonly #config = new Uint8Array(ZONE_SIZE.config);
  readonly #otp = new Uint8Array(ZONE_SIZE.otp);
  readonly #slots: Uint8Array[] = [];
  readonly #publicKeys: Map<number, Uint8Array>;
  readonly #secret: Set<number>;
  readonly #locked: boolean;
  #faults: PendingFault[] = [];
  #state: State = 'sleep';
  #output: Uint8Array = new Uint8Array(0);
  #pointer = 0;
  #wakes = 0;
  #executing = false;

  /** @throws TypeError on a serial number that is not 9 bytes */
  constructor(options: SimulatedAtecc508aOptions) {
    if (options?.serialNumber?.length !== 9) throw new TypeError('SimulatedAtecc508a: serialNumber must be 9 bytes');
    this.#address = options.address ?? ATECC508A_DEFAULT_ADDRESS;
    this.#locked = options.locked ?? true;
    this.#config.set(options.serialNumber.subarray(0, 4), 0);
    this.#config.set([0x00, 0x00, 0x50, 0x00], 4); // RevNum of an ATECC508A
    this.#config.set(options.serialNumber.subarray(4, 9), 8);
    this.#config[14] = 0x01; // I2C_Enable
    this.#config[16] = this.#address << 1;
    this.#config.set([0x87, 0x20], 20); // SlotConfig[0]: the NervesKey private key slot
    this.#config[86] = this.#locked ? 0x00 : 0x55;
    this.#config[87] = this.#locked ? 0x00 : 0x55;
    if (options.otp) this.#otp.set(options.otp.subarray(0, ZONE_SIZE.otp));
    for (let slot = 0; slot < 16; slot++) {
      const content = new Uint8Array(slotSize(slot));
      const given = options.slots?.[slot];
      if (given) content.set(given.subarray(0, content.length));
      this.#slots.push(content);
    }
    this.#publicKeys = new Map(Object.entries(options.publicKeys ?? {}).map(([k, v]) => [Number(k), v]));
    this.#secret = new Set(options.secretSlots ?? [0]);
  }

  /** The chip's power state. */
  get state(): 'sleep' | 'idle' | 'awake' {
    return this.#state;
  }

  /** How many times the chip woke up. */
  get wakeCount(): number {
    return this.#wakes;
  }

  /** Queues a fault for the coming transfers. */
  injectFault(fault: SimulatedAteccFault): void {
    const left = fault.times ?? 1;
    this.#faults.push({ ...fault, left });
  }

  #takeFault(kind: SimulatedAteccFault['kind'], opcode?: number): PendingFault | undefined {
    const fault = this.#faults.find((f) => f.kind === kind && f.left > 0 && (f.kind !== 'status' || f.opcode === undefined || f.opcode === opcode));
    if (fault) fault.left--;
    this.#faults = this.#faults.filter((f) => f.left > 0);
    return fault;
  }

  /** I²C write: wake pulse, sleep/idle/reset word addresses, command packets. */
  async write(address: number, bytes: Uint8Array): Promise<void> {
    if (address === 0x00) {
      // SDA held low through the byte: a wake pulse. Nobody acknowledges the general call.
      if (this.#state !== 'awake' && !this.#takeFault('no-wake')) {
        this.#state = 'awake';
        this.#wakes++;
        this.#respond(Uint8Array.from(WAKE_RESPONSE));
      }
      throw nackError('general call');
    }
    if (address !== this.#address) throw nackError(`no device at 0x${address.toString(16)}`);
    if (this.#state !== 'awake') throw nackError('chip asleep');
    const word = bytes[0];
    if (word === WordAddress.sleep || word === WordAddress.idle) {
      this.#state = word === WordAddress.sleep ? 'sleep' : 'idle';
      this.#output = new Uint8Array(0);
    } else if (word === WordAddress.reset) {
      this.#pointer = 0;
    } else if (word === WordAddress.command) {
      this.#command(bytes.subarray(1));
    } else {
      throw nackError(`bad word address ${String(word)}`);
    }
  }

  /** I²C read: the response buffer (0xFF past its end); NACK while asleep or busy. */
  async read(address: number, length: number): Promise<Uint8Array> {
    if (address !== this.#address) throw nackError(`no device at 0x${address.toString(16)}`);
    if (this.#state !== 'awake') throw nackError('chip asleep');
    if (this.#executing && this.#takeFault('busy')) throw nackError('executing');
    this.#executing = false;
    if (this.#output.length === 0) throw nackError('no response pending');
    const out = new Uint8Array(length).fill(0xff);
    out.set(this.#output.subarray(this.#pointer, this.#pointer + length));
    this.#pointer += length;
    return out;
  }

  #respond(packet: Uint8Array): void {
    this.#output = packet;
    this.#pointer = 0;
  }

  #status(status: number): void {
    this.#respond(withCrc(Uint8Array.of(4, status)));
  }

  #command(packet: Uint8Array): void {
    this.#executing = true;
    const count = packet[0] ?? 0;
    if (count < 7 || count !== packet.length || !hasValidCrc(packet) || this.#takeFault('corrupt-command')) return this.#status(Status.communicationError);
    const opcode = packet[1] ?? 0;
    const param1 = packet[2] ?? 0;
    const param2 = (packet[3] ?? 0) | ((packet[4] ?? 0) << 8);
    this.commands.push({ opcode, param1, param2 });
    if (this.#takeFault('silent')) return this.#respond(new Uint8Array(0));
    const forced = this.#takeFault('status', opcode);
    if (forced) return this.#status(forced.status ?? Status.executionError);
    const result = this.#execute(opcode, param1, param2);
    if (typeof result === 'number') return this.#status(result);
    const response = withCrc(Uint8Array.from([result.length + 3, ...result]));
    if (this.#takeFault('corrupt-response')) response[response.length - 1] = (response[response.length - 1] ?? 0) ^ 0x01;
    this.#respond(response);
  }

  #execute(opcode: number, param1: number, param2: number): Uint8Array | number {
    switch (opcode) {
      case Opcode.read:
        return this.#read(param1, param2);
      case Opcode.genKey: {
        if (param1 !== GENKEY_MODE_PUBLIC) return param1 & 0x04 ? Status.executionError : Status.parseError; // slot 0 is locked
        const key = this.#publicKeys.get(param2);
        return key ? key.slice(0, 64) : Status.executionError;
      }
      case Opcode.info:
        return param1 === 0x00 ? Uint8Array.of(0x00, 0x00, 0x50, 0x00) : Status.parseError;
      default:
        return Status.parseError;
    }
  }

  #read(param1: number, address: number): Uint8Array | number {
    const zone = param1 & 0x03;
    const length = param1 & 0x80 ? 32 : 4;
    const block = zone === 2 ? address >> 8 : (address >> 3) & 0x1f;
    const word = address & 0x07;
    if (length === 32 && word !== 0) return Status.parseError;
    const offset = block * 32 + word * 4;
    if (zone === 0 || zone === 1) {
      const bytes = zone === 0 ? this.#config : this.#otp;
      return offset + length <= bytes.length ? bytes.slice(offset, offset + length) : Status.parseError;
    }
    if (zone !== 2) return Status.parseError;
    const slot = (address >> 3) & 0x0f;
    const content = this.#slots[slot] ?? new Uint8Array(0);
    if (offset + length > content.length) return Status.parseError;
    if (!this.#locked || this.#secret.has(slot)) return Status.executionError;
    return content.slice(offset, offset + length);
  }
}
