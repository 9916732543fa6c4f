import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { agentDownloader } from '../../src/cli/agent.js';
import { parseAgentConfig } from '../../src/cli/agent-config.js';
import { Downloader, type DownloaderOptions } from '../../src/download/downloader.js';
import { FirmwareHost, type ListeningFirmwareHost } from '../../src/testing/firmware-host.js';
import { TestCertificateAuthority } from '../../src/testing/test-ca.js';
import { FileApplier } from '../../src/update/appliers/file-applier.js';
import { UpdateManager } from '../../src/update/update-manager.js';
import type { UpdateManagerOptions } from '../../src/update/update-manager-options.js';
import { silentLogger } from '../../src/logging/logger.js';
import { collect, rejection } from '../download/helpers.js';
import { RecordingReporter, fixtureFirmware, fixtureKey, offerFor, tempDirs } from '../update/helpers/update-harness.js';

// ARCHITECTURE decision 9: https only, no redirect to http, TLS trust errors are permanent.

const SIGNED = fixtureFirmware('signed.fw');
const PREVIOUS = Buffer.from('previous firmware image\n');
/** Retries that would be visible (several connections) if a failure were treated as transient. */
const RETRY = { timeBetweenRetriesMs: 20, retryJitterRatio: 0, idleTimeoutMs: 2000, maxDisconnects: 10 };

let ca: TestCertificateAuthority;
let secure: ListeningFirmwareHost;
let insecure: ListeningFirmwareHost;
const dirs = tempDirs();
let counter = 0;

beforeAll(async () => {
  ca = await TestCertificateAuthority.create();
  const cert = await ca.issueServerCertificate();
  secure = await FirmwareHost.listen({ cert: cert.certPem, key: cert.keyPem });
  insecure = await FirmwareHost.listenInsecureHttp();
});

afterAll(async () => {
  await secure.close();
  await insecure.close();
});

afterEach(() => {
  secure.host.destroyOpenResponses();
  insecure.host.destroyOpenResponses();
  dirs.cleanup();
});

function publish(on: ListeningFirmwareHost, bytes: Uint8Array = SIGNED): { name: string; url: string } {
  const name = `fw-${++counter}.fw`;
  return { name, url: on.baseUrl + on.host.add(name, bytes) };
}

function downloader(options: DownloaderOptions = {}): Downloader {
  return new Downloader({ ca: ca.certPem, ...options, retry: { ...RETRY, ...options.retry } });
}

function requestsTo(on: ListeningFirmwareHost, name: string): number {
  return on.host.requests.filter((r) => r.path.endsWith(`/${name}`)).length;
}

/** A cached-strategy update manager writing into a FileApplier target; returns what to assert on. */
function cachedManager(overrides: Partial<UpdateManagerOptions> = {}) {
  const dir = dirs.make('nhl-downgrade-');
  const target = join(dir, 'target.img');
  writeFileSync(target, PREVIOUS);
  const cacheDir = join(dir, 'cache');
  const reporter = new RecordingReporter();
  const manager = new UpdateManager({
    client: { updateAvailable: () => ({ action: 'apply' }) },
    reporter,
    applier: new FileApplier({ path: target }),
    publicKeys: () => [fixtureKey()],
    strategy: 'cached',
    stateDir: join(dir, 'state'),
    cacheDir,
    progressIntervalMs: 0,
    ...overrides,
  });
  const cacheFiles = (): string[] => (existsSync(cacheDir) ? readdirSync(cacheDir) : []);
  return { manager, reporter, target, cacheFiles };
}

describe('no downgrade to plain http', () => {
  it('the Downloader refuses an http URL with NH_DOWNLOAD_INSECURE_URL and never connects', async () => {
    const { url } = publish(insecure);
    const before = insecure.connectionCount();
    const error = await rejection(() => collect(downloader().stream(url)));
    expect(error.code).toBe('NH_DOWNLOAD_INSECURE_URL');
    expect(error.message).toMatch(/allowInsecureHttpDownloadsForTesting/);
    expect(error.received?.length).toBe(0);
    expect(insecure.connectionCount()).toBe(before);
  });

  it('the UpdateManager refuses an http URL before anything is written (default downloader), target untouched', async () => {
    const { name, url } = publish(insecure);
    const { manager, reporter, target, cacheFiles } = cachedManager();
    const outcome = await manager.handleUpdate(offerFor(url, SIGNED));
    expect(outcome.status).toBe('failed');
    expect(outcome.reason).toMatch(/^Download failed : NH_DOWNLOAD_INSECURE_URL/);
    expect(reporter.statuses()).toEqual(['received', 'failed']);
    expect(requestsTo(insecure, name)).toBe(0);
    expect(readFileSync(target).equals(PREVIOUS)).toBe(true);
    expect(cacheFiles()).toEqual([]);
  });

  it('an https URL redirecting to http is refused; the http host is never contacted', async () => {
    const target = publish(insecure);
    const hop = secure.host.addRedirect(`hop-${counter}`, target.url);
    const before = insecure.connectionCount();
    const error = await rejection(() => collect(downloader().stream(secure.baseUrl + hop)));
    expect(error.code).toBe('NH_DOWNLOAD_INSECURE_URL');
    expect(error.message).toMatch(/redirect/);
    expect(insecure.connectionCount()).toBe(before);
    expect(secure.host.requests.filter((r) => r.path === hop)).toHaveLength(1); // no retry either
  });

  it('allowInsecureHttpDownloadsForTesting opts a lab setup in, loudly: Downloader, redirect, UpdateManager and device.json', async () => {
    const lines: string[] = [];
    const logger = { log: (level: string, message: string) => void lines.push(`${level} ${message}`) };
    const plain = publish(insecure);
    const got = await collect(downloader({ allowInsecureHttpDownloadsForTesting: true, logger }).stream(plain.url));
    expect(got.equals(SIGNED)).toBe(true);
    expect(lines.some((l) => l.startsWith('warn INSECURE'))).toBe(true);

    const hop = secure.host.addRedirect(`hop-${counter}`, plain.url);
    expect((await collect(downloader({ allowInsecureHttpDownloadsForTesting: true }).stream(secure.baseUrl + hop))).equals(SIGNED)).toBe(true);

    // Through the manager's default Downloader: the option is plumbed into it.
    const { manager, target } = cachedManager({ allowInsecureHttpDownloadsForTesting: true, logger: silentLogger });
    expect((await manager.handleUpdate(offerFor(plain.url, SIGNED))).status).toBe('completed');
    expect(readFileSync(target).equals(SIGNED)).toBe(true);

    // device.json of `run`: a boolean key, passed to the agent's Downloader.
    const config = (extra: Record<string, unknown>) =>
      parseAgentConfig(
        {
          url: 'wss://127.0.0.1:4001',
          auth: { type: 'certificate', certFile: 'cert.pem', keyFile: 'key.pem' },
          firmware: { uuid: 'u-1', product: 'p', version: '1.0.0', platform: 'rpi4', architecture: 'aarch64' },
          apply: { type: 'file', path: 'out.fw' },
          stateDir: 'state',
          ...extra,
        },
        '/tmp',
      );
    expect(() => config({ allowInsecureHttpDownloadsForTesting: 'yes' })).toThrow(/allowInsecureHttpDownloadsForTesting/);
    expect((await rejection(() => collect(agentDownloader(config({}), undefined, silentLogger).stream(plain.url)))).code).toBe('NH_DOWNLOAD_INSECURE_URL');
    const lab = config({ allowInsecureHttpDownloadsForTesting: true });
    expect(lab.allowInsecureHttpDownloadsForTesting).toBe(true);
    expect((await collect(agentDownloader(lab, undefined, silentLogger).stream(plain.url))).equals(SIGNED)).toBe(true);
  });
});

describe('TLS trust errors on a download are permanent', () => {
  /** Serves SIGNED with `cert`, downloads it with `options`, and returns the error, the attempts and the TCP connections. */
  async function failedDownload(cert: { certPem: string; keyPem: string }, options: DownloaderOptions = {}) {
    const served = await FirmwareHost.listen({ cert: cert.certPem, key: cert.keyPem });
    try {
      const { url } = publish(served);
      const attempts: number[] = [];
      const started = Date.now();
      const error = await rejection(() => collect(downloader(options).stream(url, { onRequest: ({ attempt }) => attempts.push(attempt) })));
      return { error, attempts, connections: served.connectionCount(), requests: served.host.requests.length, ms: Date.now() - started };
    } finally {
      await served.close();
    }
  }

  it('an unknown CA fails at once with NH_DOWNLOAD_TLS_UNTRUSTED (one attempt, one connection)', async () => {
    const stranger = await TestCertificateAuthority.create({ commonName: 'Unknown CA' });
    const result = await failedDownload(await stranger.issueServerCertificate());
    expect(result.error.code).toBe('NH_DOWNLOAD_TLS_UNTRUSTED');
    expect(result.error.message).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY/);
    expect(result.attempts).toEqual([1]);
    expect(result.connections).toBe(1);
    expect(result.requests).toBe(0);
  });

  it('a certificate for another host name fails at once with NH_DOWNLOAD_TLS_UNTRUSTED', async () => {
    const result = await failedDownload(await ca.issueServerCertificate({ commonName: 'firmware.example', dnsNames: ['firmware.example'], ipAddresses: [] }));
    expect(result.error.code).toBe('NH_DOWNLOAD_TLS_UNTRUSTED');
    expect(result.error.message).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);
    expect(result.attempts).toEqual([1]);
    expect(result.connections).toBe(1);
  });

  it('an expired server certificate fails at once with NH_DOWNLOAD_TLS_UNTRUSTED', async () => {
    const day = 86_400_000;
    const result = await failedDownload(await ca.issueServerCertificate({ notBefore: new Date(Date.now() - 30 * day), notAfter: new Date(Date.now() - day) }));
    expect(result.error.code).toBe('NH_DOWNLOAD_TLS_UNTRUSTED');
    expect(result.error.message).toMatch(/CERT_HAS_EXPIRED/);
    expect(result.attempts).toEqual([1]);
    expect(result.connections).toBe(1);
  });

  it('inside an update: `failed` at once with the typed code, one `started`, target untouched', async () => {
    const stranger = await TestCertificateAuthority.create({ commonName: 'Unknown CA' });
    const cert = await stranger.issueServerCertificate();
    const served = await FirmwareHost.listen({ cert: cert.certPem, key: cert.keyPem });
    try {
      const { url } = publish(served);
      const { manager, reporter, target, cacheFiles } = cachedManager({ downloader: downloader() });
      const outcome = await manager.handleUpdate(offerFor(url, SIGNED));
      expect(outcome.status).toBe('failed');
      expect(outcome.reason).toMatch(/^Download failed : NH_DOWNLOAD_TLS_UNTRUSTED/);
      expect(reporter.statuses()).toEqual(['received', 'started', 'failed']);
      expect(served.connectionCount()).toBe(1);
      expect(readFileSync(target).equals(PREVIOUS)).toBe(true);
      const cacheDir = join(target, '..', 'cache');
      for (const f of cacheFiles()) expect(statSync(join(cacheDir, f)).size).toBe(0); // at most the empty partial it opened
    } finally {
      await served.close();
    }
  });
});
