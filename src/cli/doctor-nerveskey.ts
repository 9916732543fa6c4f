/**
 * `doctor`'s NervesKey steps (i2c, chip, nerveskey, certs), run only for `auth.type: "nerveskey"`:
 * the bus opens, the chip wakes, it reads as a provisioned NervesKey, and its certificates rebuild
 * and verify against the signer. Each is its own step so a failure says which part to fix; the
 * chip's errors already name the step, zone and slot. The atecc508a code is loaded only here.
 */
import type { Atecc508a } from '../atecc508a/atecc508a.js';
import type { I2cTransport } from '../atecc508a/i2c-transport.js';
import type { I2cBusModule } from '../atecc508a/linux-i2c.js';
import type { AgentNervesKeyAuthConfig } from './agent-config.js';

/** The NervesKey steps, in order (the `engine` step follows, as for PKCS#11). */
export const NERVESKEY_DOCTOR_STEPS = ['i2c', 'chip', 'nerveskey', 'certs'] as const;
/** One NervesKey step's name. */
export type NervesKeyDoctorStep = (typeof NERVESKEY_DOCTOR_STEPS)[number];

/** What an ATECC error carries besides its code (see `Atecc508aError`). */
interface ChipFailure {
  code?: string;
  message?: string;
  zone?: string;
  slot?: number;
}

const CERTIFICATE_SLOTS = { primary: '10/11/12', aux: '9/14/15' } as const;

/**
 * The fix for a NervesKey step's failure, naming the bus, address, zone and slot involved;
 * undefined for errors that are not the chip's.
 */
export function nervesKeyFix(error: unknown, auth: AgentNervesKeyAuthConfig): string | undefined {
  const e = (typeof error === 'object' && error !== null ? error : {}) as ChipFailure;
  const bus = auth.i2cBus;
  const address = `0x${(auth.i2cAddress ?? 0x60).toString(16)}`;
  const where = [e.zone !== undefined ? `${e.zone} zone` : '', e.slot !== undefined ? `slot ${e.slot}` : ''].filter(Boolean).join(', ');
  const at = where ? ` (${where})` : '';
  switch (e.code) {
    case 'NH_ATECC_I2C_UNAVAILABLE':
      return /not installed|openPromisified/.test(e.message ?? '')
        ? 'npm install i2c-bus next to nerves-hub-link (an optional dependency with a native addon, needed only for auth.type "nerveskey")'
        : `enable I²C bus ${bus} (Raspberry Pi: dtparam=i2c_arm=on; modprobe i2c-dev), check auth.i2cBus, and let this user open /dev/i2c-${bus} (group i2c)`;
    case 'NH_ATECC_WAKE':
      return `check auth.i2cBus (${bus}) and auth.i2cAddress (${address}): "i2cdetect -y ${bus}" should list ${address.slice(2)}; check the wiring, the chip's power and that the bus runs at 100 kHz`;
    case 'NH_ATECC_I2C':
    case 'NH_ATECC_CRC':
    case 'NH_ATECC_TIMEOUT':
    case 'NH_ATECC_BAD_RESPONSE':
    case 'NH_ATECC_STATUS':
      return `a transfer with the chip at ${address} on /dev/i2c-${bus} failed${at}: check the wiring, pull-ups and bus speed, then run doctor again; if it keeps failing at the same place the chip is faulty`;
    case 'NH_ATECC_NOT_NERVESKEY':
      return `the chip at ${address} is not a provisioned NervesKey${at}: provision it (nerves_key's NervesKey.provision) or point auth.i2cAddress at the NervesKey`;
    case 'NH_ATECC_CERT':
      return `the ${auth.certificateSet ?? 'primary'} certificate set (slots ${CERTIFICATE_SLOTS[auth.certificateSet ?? 'primary']}) does not make a valid chain${at}: check auth.certificateSet ("primary" or "aux"); if that is right, provision the set again`;
    default:
      return undefined;
  }
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/**
 * Runs the NervesKey steps ({@link NERVESKEY_DOCTOR_STEPS}) in order on one open bus: call `step(name)`
 * for each, then {@link close} releases the bus (also after a failed step).
 */
export class NervesKeyDoctor {
  readonly #auth: AgentNervesKeyAuthConfig;
  readonly #i2cBusModule: I2cBusModule | undefined;
  #transport: I2cTransport | undefined;
  #chip: Atecc508a | undefined;

  /** `i2cBusModule` replaces the optional `i2c-bus` package (tests, bundlers). */
  constructor(auth: AgentNervesKeyAuthConfig, i2cBusModule?: I2cBusModule) {
    this.#auth = auth;
    this.#i2cBusModule = i2cBusModule;
  }

  /** Runs one step; returns the pass detail or throws the chip's typed error. */
  async step(name: NervesKeyDoctorStep): Promise<string> {
    const auth = this.#auth;
    const bus = `/dev/i2c-${auth.i2cBus}`;
    switch (name) {
      case 'i2c': {
        const { openLinuxI2cTransport } = await import('../atecc508a/linux-i2c.js');
        this.#transport = await openLinuxI2cTransport(auth.i2cBus, this.#i2cBusModule ? { i2cBusModule: this.#i2cBusModule } : {});
        return `${bus} opened${this.#i2cBusModule ? '' : ' through the i2c-bus package'}`;
      }
      case 'chip': {
        const { Atecc508a } = await import('../atecc508a/atecc508a.js');
        const chip = new Atecc508a({ transport: this.#transport!, busName: bus, ...(auth.i2cAddress !== undefined ? { address: auth.i2cAddress } : {}) });
        await chip.wake();
        await chip.sleep();
        this.#chip = chip;
        return `the chip at 0x${(auth.i2cAddress ?? 0x60).toString(16)} on ${bus} answered the wake sequence`;
      }
      case 'nerveskey': {
        const { readNervesKeyIdentity } = await import('../atecc508a/nerveskey.js');
        const id = await readNervesKeyIdentity(this.#chip!);
        return `a provisioned NervesKey (config and data zones locked): serial number ${id.manufacturerSerialNumber}${id.boardName ? `, board "${id.boardName}"` : ''}, chip serial ${hex(id.serialNumber)}`;
      }
      case 'certs': {
        const [{ readNervesKey, NERVESKEY_SLOTS }, { X509Certificate }] = await Promise.all([import('../atecc508a/nerveskey.js'), import('node:crypto')]);
        const set = auth.certificateSet ?? 'primary';
        const info = await readNervesKey(this.#chip!, { certificateSet: set });
        const device = new X509Certificate(info.deviceCertificatePem);
        const signer = new X509Certificate(info.signerCertificatePem);
        const cn = (c: InstanceType<typeof X509Certificate>): string => /(?:^|\n)CN=([^\n]*)/.exec(c.subject)?.[1] ?? '(no CN)';
        const slots = NERVESKEY_SLOTS[set];
        return (
          `device certificate CN=${cn(device)} (valid until ${new Date(device.validTo).toISOString().slice(0, 10)}, slot ${slots.deviceCertificate}) and signer certificate CN=${cn(signer)} ` +
          `(slot ${slots.signerCertificate}) rebuilt and verified against the signer key in slot ${slots.signerPublicKey} (${set} set)`
        );
      }
    }
  }

  /** Closes the bus (errors ignored). */
  async close(): Promise<void> {
    await this.#transport?.close?.().catch(() => undefined);
    this.#transport = undefined;
  }
}
