/**
 * Child process of the PKCS#11 tests: Node's TLS uses the engine only when the process was started
 * with the OpenSSL config, so the device side runs here. argv[2] is a JSON job:
 * - `{ mode: 'check', provider }`: runs provider.check(), prints `{ ok, result }` or `{ ok: false, code, message }`.
 * - `{ mode: 'update', provider, url, ca, target, stateDir, keys }`: runs NervesHubLink until one update outcome.
 */
import { randomUUID } from 'node:crypto';
import { Downloader } from '../../../src/download/downloader.js';
import { isNervesHubError } from '../../../src/errors.js';
import { NervesHubLink } from '../../../src/link/nerves-hub-link.js';
import { Pkcs11CertificateProvider } from '../../../src/pkcs11/pkcs11-certificate-provider.js';
import type { Pkcs11CertificateProviderOptions } from '../../../src/pkcs11/pkcs11-certificate-provider.js';
import { FileApplier } from '../../../src/update/appliers/file-applier.js';

interface Job {
  mode: 'check' | 'update';
  provider: Pkcs11CertificateProviderOptions & { pinCallbackValue?: string };
  url?: string;
  ca?: string;
  target?: string;
  stateDir?: string;
  keys?: string[];
}

const job = JSON.parse(process.argv[2]!) as Job;
const { pinCallbackValue, ...providerOptions } = job.provider;
const provider = new Pkcs11CertificateProvider({ ...providerOptions, ...(pinCallbackValue !== undefined ? { pin: () => pinCallbackValue } : {}) });
const print = (value: unknown): void => void process.stdout.write(`${JSON.stringify(value)}\n`);

async function main(): Promise<void> {
  if (job.mode === 'check') {
    for (let i = 0; i < 2; i++) {
      // twice: the second call must give the same answer (and not retry a refused PIN on the token)
      try {
        print({ ok: true, result: await provider.check() });
      } catch (error) {
        print({ ok: false, code: isNervesHubError(error) ? error.code : 'UNTYPED', message: (error as Error).message, cause: String((error as Error).cause ?? '') });
      }
    }
    return;
  }
  await provider.check();
  const link = new NervesHubLink({
    socket: {
      url: job.url!,
      auth: { type: 'certificate', provider },
      firmware: { uuid: randomUUID(), product: 'fixture', version: '0.0.1', platform: 'host', architecture: 'x86_64' },
      fwupVersion: '1.16.0',
      fwupPublicKeys: job.keys!,
      tls: { ca: job.ca! },
      heartbeatIntervalMs: 2000,
    },
    client: { updateAvailable: () => ({ action: 'apply' }) },
    applier: new FileApplier({ path: job.target! }),
    update: { stateDir: job.stateDir!, downloader: new Downloader({ ca: job.ca! }) },
  });
  link.socket.on('connected', () => print({ event: 'connected' }));
  link.onUpdateOutcome((o) => {
    print({ event: 'outcome', status: o.status });
    void link.stop().then(() => process.exit(0));
  });
  link.start();
}

main().catch((error: unknown) => {
  print({ ok: false, code: isNervesHubError(error) ? error.code : 'UNTYPED', message: (error as Error).message });
  process.exit(1);
});
