/** The NervesKey vectors produced by the Elixir library (test/fixtures/atecc508a/nerveskey-vectors.json). */
import { readFileSync } from 'node:fs';
import type { NervesKeyContents } from '../../src/testing/nerveskey-image.js';

interface RawCert {
  compressed: string;
  der: string;
  public_key: string;
  device_sn?: string;
  manufacturer_sn?: string;
}
export interface VectorCase {
  device: RawCert & { device_sn: string; manufacturer_sn: string };
  signer: RawCert;
}

export const VECTORS: VectorCase[] = (
  JSON.parse(readFileSync(new URL('../fixtures/atecc508a/nerveskey-vectors.json', import.meta.url), 'utf8')) as { cases: VectorCase[] }
).cases;

export const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));

/** The slot contents a NervesKey provisioned with this vector holds. */
export function vectorContents(c: VectorCase): NervesKeyContents {
  return {
    serialNumber: hex(c.device.device_sn),
    manufacturerSerialNumber: c.device.manufacturer_sn,
    devicePublicKey: hex(c.device.public_key),
    deviceCompressed: hex(c.device.compressed),
    signerPublicKey: hex(c.signer.public_key),
    signerCompressed: hex(c.signer.compressed),
  };
}
