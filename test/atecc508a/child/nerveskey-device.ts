/**
 * Child process of nerveskey-mtls.test.ts: a device whose certificates come from a simulated
 * NervesKey and whose key is in SoftHSM, reached through the OpenSSL pkcs11 engine (Node reads
 * the engine config only at startup, hence a child). Prints one JSON line and exits.
 */
import { NervesKeyCertificateProvider } from '../../../src/atecc508a/index.js';
import { NervesHubSocket } from '../../../src/socket/nerves-hub-socket.js';
import { SimulatedAtecc508a, nervesKeySimulatorOptions } from '../../../src/testing/index.js';
import type { NervesKeyContents } from '../../../src/testing/index.js';

interface Args {
  url: string;
  serverCaPem: string;
  uri: string;
  modulePath: string;
  contents: Record<keyof NervesKeyContents, string>;
}
const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const h = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
const contents: NervesKeyContents = {
  serialNumber: h(args.contents.serialNumber),
  manufacturerSerialNumber: args.contents.manufacturerSerialNumber,
  devicePublicKey: h(args.contents.devicePublicKey),
  deviceCompressed: h(args.contents.deviceCompressed),
  signerPublicKey: h(args.contents.signerPublicKey),
  signerCompressed: h(args.contents.signerCompressed),
};
const chip = new SimulatedAtecc508a(nervesKeySimulatorOptions(contents));
const provider = new NervesKeyCertificateProvider({ transport: chip, signing: { uri: args.uri, modulePath: args.modulePath } });
const socket = new NervesHubSocket({
  url: args.url,
  auth: { type: 'certificate', provider },
  firmware: { uuid: '6e1f9c1e-3c2a-5f3b-9d4e-1a2b3c4d5e6f', product: 'hello', version: '1.2.3', platform: 'rpi4', architecture: 'arm' },
  tls: { ca: args.serverCaPem },
  reconnectBaseMs: 20,
  reconnectMaxMs: 80,
});
const timer = setTimeout(() => finish({ ok: false, error: 'timeout' }, 1), 15_000);
function finish(result: Record<string, unknown>, code: number): void {
  clearTimeout(timer);
  process.stdout.write(JSON.stringify(result) + '\n');
  void socket.close().finally(() => process.exit(code));
}
socket.on('error', (error) => finish({ ok: false, code: (error as { code?: string }).code, error: error.message }, 1));
socket.on('connected', () => finish({ ok: true, chipCommands: chip.commands.length }, 0));
socket.connect();
