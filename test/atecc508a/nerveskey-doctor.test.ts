import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { I2cBusModule } from '../../src/atecc508a/index.js';
import { run } from '../../src/cli/commands/doctor.js';
import type { DoctorStepResult } from '../../src/cli/doctor-checks.js';
import { runDoctorChecks } from '../../src/cli/doctor-checks.js';
import { SimulatedAtecc508a, nervesKeySimulatorOptions } from '../../src/testing/index.js';
import type { NervesKeyContents } from '../../src/testing/index.js';
import { captureIo } from '../cli/cli-helpers.js';
import { VECTORS, vectorContents } from './vectors.js';

const MODULE = '/nonexistent/nerves_key_pkcs11.so';
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function writeConfig(auth: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'nhl-nk-doctor-'));
  dirs.push(dir);
  const path = join(dir, 'device.json');
  writeFileSync(
    path,
    JSON.stringify({
      url: 'wss://127.0.0.1:9',
      auth: { type: 'nerveskey', modulePath: MODULE, ...auth },
      firmware: { uuid: 'u-1', product: 'p', version: '1.0.0', platform: 'rpi4', architecture: 'aarch64' },
      fwupPublicKeys: [Buffer.alloc(32, 7).toString('base64')],
      apply: { type: 'file', path: 'target.fw' },
      stateDir: 'state',
    }),
  );
  return path;
}

/** An i2c-bus-compatible module whose bus `bus` holds `chip` (what `i2c-bus` gives on a device). */
function fakeI2cBus(chip: SimulatedAtecc508a, bus = 1): I2cBusModule & { closed: number } {
  const mod = {
    closed: 0,
    openPromisified: async (n: number) => {
      if (n !== bus) throw Object.assign(new Error(`ENOENT: /dev/i2c-${n}`), { code: 'ENOENT' });
      return {
        i2cWrite: async (address: number, length: number, buffer: Buffer) => {
          await chip.write(address, new Uint8Array(buffer.subarray(0, length)));
          return { bytesWritten: length };
        },
        i2cRead: async (address: number, length: number, buffer: Buffer) => {
          Buffer.from(await chip.read(address, length)).copy(buffer);
          return { bytesRead: length, buffer };
        },
        close: async () => void mod.closed++,
      };
    },
  };
  return mod;
}

async function doctor(chip: SimulatedAtecc508a, auth: Record<string, unknown> = {}) {
  const i2cBusModule = fakeI2cBus(chip);
  const steps = await runDoctorChecks(writeConfig(auth), { i2cBusModule, stepTimeoutMs: 2000 });
  const by = Object.fromEntries(steps.map((s) => [s.name, s])) as Record<string, DoctorStepResult>;
  return { steps, by, i2cBusModule };
}

const contents = (): NervesKeyContents => vectorContents(VECTORS[0]!);

describe('doctor with auth.type "nerveskey"', () => {
  it('checks bus, wake, NervesKey identity and the rebuilt certificates as separate steps, then the engine', async () => {
    const chip = new SimulatedAtecc508a(nervesKeySimulatorOptions(contents()));
    const { steps, by, i2cBusModule } = await doctor(chip);
    expect(steps.slice(0, 6).map((s) => s.name)).toEqual(['config', 'i2c', 'chip', 'nerveskey', 'certs', 'engine']);
    expect(steps.slice(0, 5).map((s) => s.status)).toEqual(['pass', 'pass', 'pass', 'pass', 'pass']);
    expect(by.i2c!.detail).toBe('/dev/i2c-1 opened');
    expect(by.chip!.detail).toMatch(/0x60 on \/dev\/i2c-1 answered the wake sequence/);
    expect(by.nerveskey!.detail).toContain(`serial number ${VECTORS[0]!.device.manufacturer_sn}`);
    expect(by.certs!.detail).toMatch(new RegExp(`device certificate CN=${VECTORS[0]!.device.manufacturer_sn} .*slot 10.*slot 12.*verified against the signer key in slot 11 \\(primary set\\)`));
    expect(i2cBusModule.closed).toBe(1);
    // no chip module on this machine: the engine step names it, and nothing connects
    expect(by.engine).toMatchObject({ status: 'fail', code: expect.stringMatching(/^NH_PKCS11_(MODULE|ENGINE)_MISSING$/) });
    expect(by.tls!.status).toBe('skip');
    expect(by.keys).toMatchObject({ status: 'pass', detail: expect.stringMatching(/^1 fwup public key configured/) });
  });

  it('a chip that does not wake fails the chip step with a fix naming bus and address; the later chip steps are skipped', async () => {
    const chip = new SimulatedAtecc508a(nervesKeySimulatorOptions(contents()));
    chip.injectFault({ kind: 'no-wake', times: 100 });
    const { by } = await doctor(chip);
    expect(by.i2c!.status).toBe('pass');
    expect(by.chip).toMatchObject({ status: 'fail', code: 'NH_ATECC_WAKE' });
    expect(by.chip!.fix).toMatch(/auth\.i2cBus \(1\) and auth\.i2cAddress \(0x60\): "i2cdetect -y 1" should list 60/);
    expect([by.nerveskey!.status, by.certs!.status, by.engine!.status]).toEqual(['skip', 'skip', 'skip']);
  });

  it('a chip fault while reading a zone fails the nerveskey step naming the zone', async () => {
    const chip = new SimulatedAtecc508a(nervesKeySimulatorOptions(contents()));
    const { by: ok } = await doctor(chip);
    expect(ok.nerveskey!.status).toBe('pass');
    const faulty = new SimulatedAtecc508a(nervesKeySimulatorOptions(contents()));
    faulty.injectFault({ kind: 'status', status: 0x0f, opcode: 0x02, times: 100 });
    const { by } = await doctor(faulty);
    expect(by.chip!.status).toBe('pass');
    expect(by.nerveskey).toMatchObject({ status: 'fail', code: 'NH_ATECC_STATUS' });
    expect(by.nerveskey!.detail).toMatch(/config zone/);
    expect(by.nerveskey!.fix).toMatch(/failed \(config zone\)/);
    expect(by.certs!.status).toBe('skip');
  });

  it('an unprovisioned chip is not a NervesKey; a certificate set that does not chain fails certs naming the slot', async () => {
    const blank = new SimulatedAtecc508a({ ...nervesKeySimulatorOptions(contents()), locked: false });
    const { by: b } = await doctor(blank);
    expect(b.nerveskey).toMatchObject({ status: 'fail', code: 'NH_ATECC_NOT_NERVESKEY' });
    expect(b.nerveskey!.fix).toMatch(/not a provisioned NervesKey \(config zone\): provision it/);

    // the signer key of another NervesKey in slot 11: the signer certificate in slot 12 does not verify
    const mixed = new SimulatedAtecc508a(nervesKeySimulatorOptions({ ...contents(), signerPublicKey: vectorContents(VECTORS[1]!).signerPublicKey }));
    const { by } = await doctor(mixed);
    expect(by.nerveskey!.status).toBe('pass');
    expect(by.certs).toMatchObject({ status: 'fail', code: 'NH_ATECC_CERT' });
    expect(by.certs!.detail).toMatch(/slot 12/);
    expect(by.certs!.fix).toMatch(/primary certificate set \(slots 10\/11\/12\) does not make a valid chain \(slot 12\): check auth\.certificateSet/);
    expect(by.engine!.status).toBe('skip');
  });

  it('through the CLI without the optional i2c-bus package: the i2c step says to install it', async () => {
    const io = captureIo();
    const code = await run(['--config', writeConfig({ i2cBus: 3 }), '--json'], io);
    const report = JSON.parse(io.out()) as { ok: boolean; steps: DoctorStepResult[] };
    const by = Object.fromEntries(report.steps.map((s) => [s.name, s]));
    expect(code).toBe(1);
    expect(by.config!.status).toBe('pass');
    expect(by.i2c).toMatchObject({ status: 'fail', code: 'NH_ATECC_I2C_UNAVAILABLE' });
    expect(by.i2c!.detail).toMatch(/open \/dev\/i2c-3/);
    expect(by.i2c!.fix).toMatch(/npm install i2c-bus/);
    expect([by.chip!.status, by.nerveskey!.status, by.certs!.status, by.engine!.status, by.tls!.status]).toEqual(['skip', 'skip', 'skip', 'skip', 'skip']);
  });
});
