import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Atecc508a, NervesKeyCertificateProvider, readNervesKey } from '../../src/atecc508a/index.js';
import type { I2cBusModule } from '../../src/atecc508a/index.js';
import { SimulatedAtecc508a, createNervesKeyImage, nervesKeySimulatorOptions } from '../../src/testing/index.js';
import { VECTORS, hex, vectorContents } from './vectors.js';

const FAST = { wakeDelayMs: 0, pollIntervalMs: 0 };
const SIGNING = { uri: 'pkcs11:token=1' };

async function failure(p: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(Error);
  return e as Error & Record<string, unknown>;
}

describe('readNervesKey over the simulated chip (slots recorded from the Elixir vectors)', () => {
  VECTORS.forEach((c, i) => {
    it(`case ${i}: rebuilds both certificates byte-exact from the chip and they verify against the signer`, async () => {
      const sim = new SimulatedAtecc508a(nervesKeySimulatorOptions(vectorContents(c)));
      const info = await readNervesKey(new Atecc508a({ transport: sim, timing: FAST }));
      expect(Buffer.from(info.deviceCertificate).toString('hex')).toBe(c.device.der);
      expect(Buffer.from(info.signerCertificate).toString('hex')).toBe(c.signer.der);
      expect(info.manufacturerSerialNumber).toBe(c.device.manufacturer_sn);
      expect(Buffer.from(info.serialNumber).toString('hex')).toBe(c.device.device_sn);
      const device = new X509Certificate(info.deviceCertificatePem);
      const signer = new X509Certificate(info.signerCertificatePem);
      expect(device.verify(signer.publicKey)).toBe(true);
      expect(device.checkIssued(signer)).toBe(true);
      expect(sim.state).toBe('sleep');
    });
  });

  it('reads the aux set from slots 9/14/15', async () => {
    const sim = new SimulatedAtecc508a(nervesKeySimulatorOptions({ ...vectorContents(VECTORS[1]!), certificateSet: 'aux' }));
    const info = await readNervesKey(new Atecc508a({ transport: sim, timing: FAST }), { certificateSet: 'aux' });
    expect(Buffer.from(info.deviceCertificate).toString('hex')).toBe(VECTORS[1]!.device.der);
    // the primary slots are empty on this chip: NH_ATECC_CERT naming the signer slot
    expect(await failure(readNervesKey(new Atecc508a({ transport: sim, timing: FAST })))).toMatchObject({ code: 'NH_ATECC_CERT', step: 'decompress signer certificate' });
  });

  it('an unlocked (unprovisioned) chip: NH_ATECC_NOT_NERVESKEY naming the config zone', async () => {
    const sim = new SimulatedAtecc508a({ ...nervesKeySimulatorOptions(vectorContents(VECTORS[0]!)), locked: false });
    expect(await failure(readNervesKey(new Atecc508a({ transport: sim, timing: FAST })))).toMatchObject({ code: 'NH_ATECC_NOT_NERVESKEY', zone: 'config' });
  });

  it('an OTP zone without the NervesKey header: NH_ATECC_NOT_NERVESKEY naming the OTP zone', async () => {
    const sim = new SimulatedAtecc508a({ ...nervesKeySimulatorOptions(vectorContents(VECTORS[0]!)), otp: new Uint8Array(64) });
    const e = await failure(readNervesKey(new Atecc508a({ transport: sim, timing: FAST })));
    expect(e).toMatchObject({ code: 'NH_ATECC_NOT_NERVESKEY', zone: 'otp' });
    expect(e.message).toMatch(/Nrvs/);
  });

  it('a slot-0 key that is not the certified one: NH_ATECC_CERT naming the device certificate slot', async () => {
    const other = hex(VECTORS[1]!.device.public_key);
    const sim = new SimulatedAtecc508a({ ...nervesKeySimulatorOptions(vectorContents(VECTORS[0]!)), publicKeys: { 0: other } });
    const e = await failure(readNervesKey(new Atecc508a({ transport: sim, timing: FAST })));
    expect(e).toMatchObject({ code: 'NH_ATECC_CERT', step: 'verify device certificate', slot: 10 });
  });

  it('a long (17–32 byte) manufacturer serial number, as NervesKey OTP flag 1 stores it', async () => {
    const image = createNervesKeyImage({ manufacturerSerialNumber: 'acme-gateway-2026-000000017', issuedAt: new Date(Date.UTC(2026, 0, 2, 3)) });
    const info = await readNervesKey(new Atecc508a({ transport: new SimulatedAtecc508a(image.simulatorOptions), timing: FAST }));
    expect(info.manufacturerSerialNumber).toBe('acme-gateway-2026-000000017');
    expect(info.deviceCertificatePem).toBe(image.deviceCertificatePem);
    expect(new X509Certificate(info.deviceCertificate).validFrom).toBe('Jan  2 03:00:00 2026 GMT');
  });
});

describe('NervesKeyCertificateProvider', () => {
  it('returns the rebuilt chain and the PKCS#11 key reference, never a software key; reads the chip once', async () => {
    const sim = new SimulatedAtecc508a(nervesKeySimulatorOptions(vectorContents(VECTORS[0]!)));
    const provider = new NervesKeyCertificateProvider({ transport: sim, signing: SIGNING, timing: FAST });
    const material = await provider.getTlsMaterial();
    expect(material.privateKeyEngine).toBe('pkcs11');
    expect(material.privateKeyIdentifier).toBe('pkcs11:token=1');
    expect(material.key).toBeUndefined();
    expect(material.certificateChain.map((p) => Buffer.from(new X509Certificate(p as string).raw).toString('hex'))).toEqual([VECTORS[0]!.device.der, VECTORS[0]!.signer.der]);
    const commands = sim.commands.length;
    await provider.getTlsMaterial();
    expect(sim.commands.length).toBe(commands);
  });

  it('a failed read is retried at the next attempt', async () => {
    const sim = new SimulatedAtecc508a(nervesKeySimulatorOptions(vectorContents(VECTORS[0]!)));
    const provider = new NervesKeyCertificateProvider({ transport: sim, signing: SIGNING, timing: FAST });
    sim.injectFault({ kind: 'no-wake', times: 3 });
    expect(await failure(provider.getTlsMaterial())).toMatchObject({ code: 'NH_ATECC_WAKE' });
    expect((await provider.getTlsMaterial()).certificateChain).toHaveLength(2);
  });

  it('without a transport it opens /dev/i2c-N through i2c-bus; not installed → NH_ATECC_I2C_UNAVAILABLE saying to install it', async () => {
    const provider = new NervesKeyCertificateProvider({ i2cBus: 3, signing: SIGNING });
    const e = await failure(provider.getTlsMaterial());
    expect(e).toMatchObject({ code: 'NH_ATECC_I2C_UNAVAILABLE', step: 'open /dev/i2c-3' });
    expect(e.message).toMatch(/install i2c-bus/);
  });

  it('uses an i2c-bus-compatible module on the given bus and closes the bus after reading', async () => {
    const sim = new SimulatedAtecc508a(nervesKeySimulatorOptions(vectorContents(VECTORS[0]!)));
    const opened: number[] = [];
    let closed = 0;
    const i2cBusModule: I2cBusModule = {
      openPromisified: async (bus) => {
        opened.push(bus);
        return {
          i2cWrite: async (address, length, buffer) => {
            await sim.write(address, new Uint8Array(buffer.subarray(0, length)));
            return { bytesWritten: length };
          },
          i2cRead: async (address, length, buffer) => {
            Buffer.from(await sim.read(address, length)).copy(buffer);
            return { bytesRead: length, buffer };
          },
          close: async () => void closed++,
        };
      },
    };
    const provider = new NervesKeyCertificateProvider({ i2cBus: 1, i2cBusModule, signing: SIGNING, timing: FAST });
    expect((await provider.getTlsMaterial()).certificateChain).toHaveLength(2);
    expect(opened).toEqual([1]);
    expect(closed).toBe(1);
  });

  it('checks the engine setup before touching the chip when modulePath is given', async () => {
    const sim = new SimulatedAtecc508a(nervesKeySimulatorOptions(vectorContents(VECTORS[0]!)));
    const provider = new NervesKeyCertificateProvider({ transport: sim, signing: { uri: 'pkcs11:token=1', modulePath: '/nonexistent/nerves_key_pkcs11.so' } });
    const e = await failure(provider.getTlsMaterial());
    expect(String(e.code)).toMatch(/^NH_PKCS11_(MODULE_MISSING|ENGINE_MISSING)$/);
    expect(sim.commands).toEqual([]);
  });

  it('refuses to be built without a signing key reference, or with a PIN in the URI', () => {
    expect(() => new NervesKeyCertificateProvider({} as never)).toThrow(/signing.uri is required/);
    expect(() => new NervesKeyCertificateProvider({ signing: { uri: 'pkcs11:token=1;pin-value=1234' } })).toThrow(/pin-value/);
    expect(() => new NervesKeyCertificateProvider({ signing: { uri: 'not-a-uri' } })).toThrow(expect.objectContaining({ code: 'NH_PKCS11_URI_INVALID' }));
  });
});
