import { X509Certificate, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Atecc508aError, decompressCertificate } from '../../src/atecc508a/index.js';
import type { DecompressCertificateOptions } from '../../src/atecc508a/index.js';
import { VECTORS, hex } from './vectors.js';

const spki = (raw: string) => createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: Buffer.from(raw.slice(0, 64), 'hex').toString('base64url'), y: Buffer.from(raw.slice(64), 'hex').toString('base64url') }, format: 'jwk' });

function deviceOptions(c: (typeof VECTORS)[number]): DecompressCertificateOptions {
  return {
    template: 'nerveskey-device',
    deviceSerialNumber: hex(c.device.device_sn),
    publicKey: hex(c.device.public_key),
    manufacturerSerialNumber: c.device.manufacturer_sn,
    signerPublicKey: hex(c.signer.public_key),
  };
}

describe('decompressCertificate (NervesKey templates, vectors from the Elixir library)', () => {
  it('has vectors to check', () => expect(VECTORS.length).toBeGreaterThanOrEqual(2));

  VECTORS.forEach((c, i) => {
    it(`case ${i}: the signer certificate comes out byte-exact and is self-signed`, () => {
      const der = decompressCertificate(hex(c.signer.compressed), { template: 'nerveskey-signer', publicKey: hex(c.signer.public_key) });
      expect(Buffer.from(der).toString('hex')).toBe(c.signer.der);
      const cert = new X509Certificate(der);
      expect(cert.subject).toBe('CN=Signer');
      expect(cert.verify(spki(c.signer.public_key))).toBe(true);
    });

    it(`case ${i}: the device certificate (${c.device.manufacturer_sn}) comes out byte-exact and verifies against the signer`, () => {
      const der = decompressCertificate(hex(c.device.compressed), deviceOptions(c));
      expect(Buffer.from(der).toString('hex')).toBe(c.device.der);
      const cert = new X509Certificate(der);
      expect(cert.subject).toBe(`CN=${c.device.manufacturer_sn}`);
      expect(cert.verify(spki(c.signer.public_key))).toBe(true);
      const signer = new X509Certificate(hex(c.signer.der));
      expect(cert.checkIssued(signer)).toBe(true);
    });
  });

  it('a device slot read as a signer (wrong template) is refused with NH_ATECC_CERT naming the step', () => {
    const c = VECTORS[0]!;
    const error = (() => {
      try {
        decompressCertificate(hex(c.device.compressed), { template: 'nerveskey-signer', publicKey: hex(c.signer.public_key) });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(Atecc508aError);
    expect(error).toMatchObject({ code: 'NH_ATECC_CERT', step: 'decompress signer certificate' });
    expect((error as Error).message).toMatch(/template id 0 .* wrong slot/);
  });

  it('an empty slot (all zeros, all 0xFF) and a short blob are refused with NH_ATECC_CERT', () => {
    const c = VECTORS[0]!;
    for (const blob of [new Uint8Array(72), new Uint8Array(72).fill(0xff), hex(c.device.compressed).subarray(0, 64)]) {
      expect(() => decompressCertificate(blob, deviceOptions(c))).toThrow(expect.objectContaining({ code: 'NH_ATECC_CERT' }));
    }
  });

  it('a wrong manufacturer serial number yields a certificate that no longer verifies (the CN is signed)', () => {
    const c = VECTORS[0]!;
    const der = decompressCertificate(hex(c.device.compressed), { ...deviceOptions(c), manufacturerSerialNumber: 'NK-9999' } as DecompressCertificateOptions);
    expect(new X509Certificate(der).verify(spki(c.signer.public_key))).toBe(false);
  });

  it('option sizes are checked (TypeError)', () => {
    const c = VECTORS[0]!;
    expect(() => decompressCertificate(hex(c.device.compressed), { ...deviceOptions(c), publicKey: new Uint8Array(65) } as DecompressCertificateOptions)).toThrow(TypeError);
    expect(() => decompressCertificate(hex(c.device.compressed), { template: 'x509' } as unknown as DecompressCertificateOptions)).toThrow(/unknown template/);
  });
});
