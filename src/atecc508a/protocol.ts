import type { Atecc508aZone } from './atecc-error.js';

/** The default 7-bit I²C address of an ATECC508A/608A (0xC0 in Microchip's 8-bit notation). */
export const ATECC508A_DEFAULT_ADDRESS = 0x60;

/** First byte of every write: what the chip does with the rest. @internal */
export const WordAddress = Object.freeze({ reset: 0x00, sleep: 0x01, idle: 0x02, command: 0x03 } as const);

/** Command opcodes used here. @internal */
export const Opcode = Object.freeze({ read: 0x02, info: 0x30, genKey: 0x40 } as const);

/** Zone codes of the Read command's param1 (bit 7 set = 32-byte read). @internal */
export const ZONE_CODE: Readonly<Record<Atecc508aZone, number>> = Object.freeze({ config: 0x00, otp: 0x01, data: 0x02 });

/** Read param1 flag for a 32-byte block read instead of a 4-byte word. @internal */
export const READ_32_BYTES = 0x80;

/** GenKey mode that computes the public key of the private key already in a slot. @internal */
export const GENKEY_MODE_PUBLIC = 0x00;

/** The 4-byte status packet a chip sends after a successful wake. @internal */
export const WAKE_RESPONSE = Object.freeze([0x04, 0x11, 0x33, 0x43] as const);

/** Zone sizes in bytes. @internal */
export const ZONE_SIZE = Object.freeze({ config: 128, otp: 64 } as const);

/** Status bytes of a 4-byte status/error packet. @internal */
export const Status = Object.freeze({
  success: 0x00,
  miscompare: 0x01,
  parseError: 0x03,
  eccFault: 0x05,
  selfTestError: 0x07,
  healthTestError: 0x08,
  executionError: 0x0f,
  afterWake: 0x11,
  watchdogAboutToExpire: 0xee,
  communicationError: 0xff,
} as const);

/** Human names of the status bytes (for error messages). @internal */
export function statusName(status: number): string {
  switch (status) {
    case Status.miscompare:
      return 'checkmac/verify miscompare (0x01)';
    case Status.parseError:
      return 'parse error (0x03): the chip rejected the opcode, zone, address or length';
    case Status.eccFault:
      return 'ECC fault (0x05)';
    case Status.selfTestError:
      return 'self-test error (0x07)';
    case Status.healthTestError:
      return 'health test error (0x08)';
    case Status.executionError:
      return 'execution error (0x0F): the chip refused the command in its current configuration (zone unlocked, slot not readable, wrong key type)';
    case Status.afterWake:
      return 'wake token (0x11) instead of a response';
    case Status.watchdogAboutToExpire:
      return 'watchdog about to expire (0xEE)';
    case Status.communicationError:
      return 'communication error (0xFF): the chip saw a bad CRC or a short packet';
    default:
      return `unknown status 0x${status.toString(16).padStart(2, '0')}`;
  }
}

/** Size of a data-zone slot in bytes (ATECC508A: slots 0–7 36 B, slot 8 416 B, slots 9–15 72 B). */
export function slotSize(slot: number): number {
  if (!Number.isInteger(slot) || slot < 0 || slot > 15) throw new RangeError(`ATECC508A slot must be 0..15, got ${String(slot)}`);
  if (slot < 8) return 36;
  return slot === 8 ? 416 : 72;
}

/**
 * The Read command's param2 for a zone: config/OTP `block << 3 | word`, data
 * `block << 8 | slot << 3 | word`. @internal
 */
export function readAddress(zone: Atecc508aZone, block: number, word: number, slot = 0): number {
  return zone === 'data' ? (block << 8) | (slot << 3) | word : (block << 3) | word;
}
