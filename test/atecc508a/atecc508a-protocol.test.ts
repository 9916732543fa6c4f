import { describe, expect, it } from 'vitest';
import { Atecc508a, Atecc508aError, atecc508aCrc16 } from '../../src/atecc508a/index.js';
import type { I2cTransport } from '../../src/atecc508a/index.js';
import { SimulatedAtecc508a, nervesKeySimulatorOptions } from '../../src/testing/index.js';
import { VECTORS, hex, vectorContents } from './vectors.js';

const FAST = { wakeDelayMs: 0, pollIntervalMs: 0 };

function setup(options: { locked?: boolean } = {}) {
  const sim = new SimulatedAtecc508a({ ...nervesKeySimulatorOptions(vectorContents(VECTORS[0]!)), ...options });
  // Record every transfer, bytes in and bytes out.
  const wire: string[] = [];
  const transport: I2cTransport = {
    write: async (address, bytes) => {
      wire.push(`W ${address.toString(16)} ${Buffer.from(bytes).toString('hex')}`);
      return sim.write(address, bytes);
    },
    read: async (address, length) => {
      const bytes = await sim.read(address, length);
      wire.push(`R ${address.toString(16)} ${Buffer.from(bytes).toString('hex')}`);
      return bytes;
    },
  };
  return { sim, wire, chip: new Atecc508a({ transport, timing: FAST }) };
}

async function failure(p: Promise<unknown>): Promise<Atecc508aError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(Atecc508aError);
  return e as Atecc508aError;
}

describe('ATECC508A CRC-16', () => {
  it('matches the wake token 04 11 33 43 and a Read command packet', () => {
    expect(atecc508aCrc16(Uint8Array.of(0x04, 0x11))).toBe(0x4333);
    // Read config block 0, 32 bytes: count 07, opcode 02, param1 80, param2 00 00 (regression value)
    expect(atecc508aCrc16(hex('0702800000'))).toBe(0xad09);
  });
});

describe('Atecc508a command layer against the simulated chip', () => {
  it('wakes, sends a framed Read, reads count + data + CRC, then sleeps (bytes on the wire)', async () => {
    const { chip, wire, sim } = setup();
    const block = await chip.read('config', { block: 0 }, 32);
    expect(Buffer.from(block.subarray(0, 4)).toString('hex')).toBe(VECTORS[0]!.device.device_sn.slice(0, 8));
    expect(wire[0]).toBe('W 0 00'); // wake pulse on the general-call address
    expect(wire[1]).toBe('R 60 04113343'); // wake token
    expect(wire[2]).toBe('W 60 030702800000' + '09ad'); // word address 03, count 7, Read, zone config|32 bytes, address 0, CRC LE
    expect(wire[3]).toBe('R 60 23'); // count byte: 32 + 3
    expect(wire[4]).toMatch(/^R 60 [0-9a-f]{68}$/); // 32 data bytes + CRC
    expect(wire.at(-1)).toBe('W 60 01'); // sleep
    expect(sim.state).toBe('sleep');
  });

  it('reads the 9-byte serial number, the whole config and OTP zones, and a 72-byte slot in 32+32+4+4', async () => {
    const { chip, sim } = setup();
    expect(Buffer.from(await chip.readSerialNumber()).toString('hex')).toBe(VECTORS[0]!.device.device_sn);
    expect((await chip.readConfigZone())[86]).toBe(0x00);
    const otp = await chip.readOtpZone();
    expect(otp.length).toBe(64);
    expect(Buffer.from(otp.subarray(0, 4)).toString()).toBe('Nrvs');
    sim.commands.length = 0;
    expect(Buffer.from(await chip.readSlot(10)).toString('hex')).toBe(VECTORS[0]!.device.compressed);
    // data-zone addresses: block << 8 | slot << 3 | word
    expect(sim.commands.map((c) => [c.param1, c.param2])).toEqual([
      [0x82, 0x0050],
      [0x82, 0x0150],
      [0x02, 0x0250],
      [0x02, 0x0251],
    ]);
  });

  it('computes the slot-0 public key with GenKey in public-key mode', async () => {
    const { chip, sim } = setup();
    expect(Buffer.from(await chip.computePublicKey(0)).toString('hex')).toBe(VECTORS[0]!.device.public_key);
    expect(sim.commands.at(-1)).toEqual({ opcode: 0x40, param1: 0x00, param2: 0 });
  });

  it('reading the secret slot 0 fails with the execution-error status, naming the data zone and slot 0', async () => {
    const { chip, sim } = setup();
    const e = await failure(chip.readSlot(0));
    expect(e).toMatchObject({ code: 'NH_ATECC_STATUS', step: 'read', zone: 'data', slot: 0, status: 0x0f });
    expect(e.message).toMatch(/read, data zone, slot 0: .*execution error \(0x0F\)/);
    expect(sim.state).toBe('sleep');
  });

  it('a data-zone read on an unlocked chip is an execution error; a bad address is a parse error naming the zone', async () => {
    const unlocked = setup({ locked: false });
    expect(await failure(unlocked.chip.readSlot(12))).toMatchObject({ code: 'NH_ATECC_STATUS', slot: 12, status: 0x0f });
    const { chip } = setup();
    expect(await failure(chip.read('otp', { block: 2 }, 32))).toMatchObject({ code: 'NH_ATECC_STATUS', zone: 'otp', status: 0x03 });
  });

  it('a response with a bad CRC is retried; the retry succeeds', async () => {
    const { chip, sim } = setup();
    sim.injectFault({ kind: 'corrupt-response' });
    expect(Buffer.from(await chip.readSlot(11, 32)).toString('hex')).toBe(VECTORS[0]!.signer.public_key.slice(0, 64));
    expect(sim.commands.length).toBe(2);
  });

  it('responses that keep failing their CRC end in NH_ATECC_CRC naming the zone and slot', async () => {
    const { chip, sim } = setup();
    sim.injectFault({ kind: 'corrupt-response', times: 10 });
    const e = await failure(chip.readSlot(12));
    expect(e).toMatchObject({ code: 'NH_ATECC_CRC', zone: 'data', slot: 12 });
    expect(e.message).toMatch(/response CRC mismatch on each of 3 attempts/);
    expect(sim.commands.length).toBe(3);
  });

  it('the chip reporting a garbled command (status 0xFF) is retried', async () => {
    const { chip, sim } = setup();
    sim.injectFault({ kind: 'corrupt-command', times: 2 });
    expect((await chip.readOtpZone()).length).toBe(64);
    sim.injectFault({ kind: 'corrupt-command', times: 5 });
    expect(await failure(chip.read('otp', { block: 0 }, 32))).toMatchObject({ code: 'NH_ATECC_CRC', zone: 'otp' });
  });

  it('an ECC fault on GenKey is reported with its status and slot', async () => {
    const { chip, sim } = setup();
    sim.injectFault({ kind: 'status', status: 0x05, opcode: 0x40 });
    expect(await failure(chip.computePublicKey(0))).toMatchObject({ code: 'NH_ATECC_STATUS', step: 'genkey (public key)', slot: 0, status: 0x05 });
  });

  it('polls while the chip is busy (NACKs reads), and times out naming the step when it never answers', async () => {
    const { chip, sim } = setup();
    sim.injectFault({ kind: 'busy', times: 3 });
    expect((await chip.read('config', { block: 0, word: 1 }, 4)).length).toBe(4);
    sim.injectFault({ kind: 'silent' });
    const slow = new Atecc508a({ transport: sim, timing: { ...FAST, readMaxMs: 5 } });
    expect(await failure(slow.read('config', { block: 1 }, 32))).toMatchObject({ code: 'NH_ATECC_TIMEOUT', zone: 'config' });
  });

  it('wakes again when the first pulse is missed; gives NH_ATECC_WAKE after the attempts', async () => {
    const { chip, sim } = setup();
    sim.injectFault({ kind: 'no-wake' });
    await chip.readSerialNumber();
    expect(sim.wakeCount).toBe(1);
    sim.injectFault({ kind: 'no-wake', times: 3 });
    const e = await failure(chip.readSerialNumber());
    expect(e).toMatchObject({ code: 'NH_ATECC_WAKE', step: 'wake' });
    expect(e.message).toMatch(/no wake response .* at 0x60 after 3 attempts/);
  });

  it('a chip left awake with a stale response is put to sleep and woken again', async () => {
    const { chip, sim } = setup();
    await sim.write(0, Uint8Array.of(0)).catch(() => undefined); // someone else woke it
    await sim.write(0x60, hex('030702800000' + '09ad')); // and left a response in its buffer
    expect(sim.state).toBe('awake');
    expect((await chip.readSerialNumber()).length).toBe(9);
  });

  it('no chip at the address: NH_ATECC_WAKE', async () => {
    const { sim } = setup();
    const chip = new Atecc508a({ transport: sim, address: 0x35, timing: FAST, busName: '/dev/i2c-1' });
    expect((await failure(chip.readSerialNumber())).message).toMatch(/at 0x35 on \/dev\/i2c-1/);
  });

  it('runs concurrent commands one at a time', async () => {
    const { chip } = setup();
    const [a, b, c] = await Promise.all([chip.readSlot(10), chip.readSlot(11), chip.readSlot(12)]);
    expect(Buffer.from(a).toString('hex')).toBe(VECTORS[0]!.device.compressed);
    expect(Buffer.from(b.subarray(0, 64)).toString('hex')).toBe(VECTORS[0]!.signer.public_key);
    expect(Buffer.from(c).toString('hex')).toBe(VECTORS[0]!.signer.compressed);
  });
});
