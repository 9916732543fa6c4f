import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { CertificateProvider } from '../../src/auth/certificate-provider.js';
import type { LogLevel } from '../../src/logging/logger.js';
import { NervesHubLink } from '../../src/link/nerves-hub-link.js';
import type { NervesHubLinkOptions } from '../../src/link/nerves-hub-link.js';
import { FirmwareHost } from '../../src/testing/firmware-host.js';
import { NervesHubTestServer } from '../../src/testing/server/nerves-hub-test-server.js';
import { TestCertificateAuthority } from '../../src/testing/test-ca.js';
import { FileApplier } from '../../src/update/appliers/file-applier.js';
import type { UpdateOutcome } from '../../src/update/update-manager-options.js';

// The README's testing recipe: a private CA, given to the socket only. The link's default
// downloader must trust it too (the CLI's does), or the update dies on "self-signed certificate".
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'fwup');
const KEY = readFileSync(join(FIXTURES, 'keys', 'fwup-key.pub'), 'utf8').trim();
const SIGNED = readFileSync(join(FIXTURES, 'fw', 'signed.fw'));
const SIGNED_META = { uuid: '1004c0a7-a4e7-5094-9409-8ce6ffaa3993', product: 'fwup fixture', version: '0.1.0' };
const FAST = { heartbeatIntervalMs: 2000, reconnectBaseMs: 20, reconnectMaxMs: 80, minReconnectDelayMs: 5, rejoinAfterMs: 50, closeTimeoutMs: 200 };

let server: NervesHubTestServer;
const cleanup: Array<() => Promise<void> | void> = [];
beforeEach(async () => {
  server = await NervesHubTestServer.start({ fwupPublicKeys: [KEY] });
  cleanup.push(() => server.close());
});
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A FirmwareHost on 127.0.0.1 with a certificate issued by `ca`. */
async function firmwareHost(ca: TestCertificateAuthority): Promise<{ host: FirmwareHost; baseUrl: string }> {
  const cert = await ca.issueServerCertificate();
  const { host, baseUrl, close } = await FirmwareHost.listen({ cert: cert.certPem, key: cert.keyPem });
  cleanup.push(() => {
    host.destroyOpenResponses();
    return close();
  });
  return { host, baseUrl };
}

/** A link with NO explicit downloader; `trust` says how the socket learns the server CA. */
async function startLink(trust: 'tls.ca' | 'provider') {
  const id = `NH-TRUST-${randomUUID().slice(0, 8)}`;
  const cert = await server.issueDeviceCertificate(id);
  const dir = mkdtempSync(join(tmpdir(), 'nhl-trust-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const target = join(dir, 'firmware.fw');
  writeFileSync(target, 'previous');
  const provider: CertificateProvider = {
    getTlsMaterial: async () => ({ certificateChain: [cert.certPem], key: cert.keyPem, ...(trust === 'provider' ? { serverCaCertificates: [server.serverCaPem] } : {}) }),
  };
  const socket: NervesHubLinkOptions['socket'] = {
    url: server.url,
    auth: { type: 'certificate', provider },
    firmware: { uuid: randomUUID(), product: 'fixture', version: '0.0.1', platform: 'host', architecture: 'x86_64' },
    fwupPublicKeys: [KEY],
    ...(trust === 'tls.ca' ? { tls: { ca: server.serverCaPem } } : {}),
    ...FAST,
  };
  const logs: Array<{ level: LogLevel; message: string; data?: Record<string, unknown> }> = [];
  const link = new NervesHubLink({
    socket,
    client: { updateAvailable: () => ({ action: 'apply' }) },
    applier: new FileApplier({ path: target }),
    update: { stateDir: join(dir, 'state') },
    logger: { log: (level, message, data) => void logs.push({ level, message, ...(data ? { data } : {}) }) },
  });
  const outcomes: UpdateOutcome[] = [];
  link.onUpdateOutcome((o) => outcomes.push(o));
  cleanup.push(() => link.stop());
  link.start();
  await server.waitForJoin(id);
  await until(() => link.socket.joined);
  return { id, link, target, outcomes, logs };
}

describe('NervesHubLink: the default downloader trusts what the socket trusts', () => {
  it('downloads from NervesHub itself with the CA given as socket tls.ca', async () => {
    const d = await startLink('tls.ca');
    server.pushUpdate(d.id, { firmwareUrl: server.hostFirmware(`${d.id}.fw`, SIGNED), firmwareMeta: SIGNED_META, size: SIGNED.length });
    await until(() => d.outcomes.length === 1);
    expect(d.outcomes[0]).toMatchObject({ status: 'completed' });
    expect(readFileSync(d.target).equals(SIGNED)).toBe(true);
  });

  it("downloads from a separate firmware host signed by the CA from the provider's serverCaCertificates", async () => {
    const { host, baseUrl } = await firmwareHost(server.ca);
    const d = await startLink('provider');
    expect(d.link.socket.serverCaCertificates).toEqual([server.serverCaPem]);
    server.pushUpdate(d.id, { firmwareUrl: baseUrl + host.add(`${d.id}.fw`, SIGNED), firmwareMeta: SIGNED_META, size: SIGNED.length });
    await until(() => d.outcomes.length === 1);
    expect(d.outcomes[0]).toMatchObject({ status: 'completed' });
    expect(readFileSync(d.target).equals(SIGNED)).toBe(true);
  });

  it('still trusts public roots plus the server CA only: a host from an unknown CA fails, loudly, and nothing is written', async () => {
    const { host, baseUrl } = await firmwareHost(await TestCertificateAuthority.create());
    const d = await startLink('tls.ca');
    server.pushUpdate(d.id, { firmwareUrl: baseUrl + host.add(`${d.id}.fw`, SIGNED), firmwareMeta: SIGNED_META, size: SIGNED.length });
    // not silent: the TLS failure reaches the app's logger at once, with its reason
    await until(() => d.logs.some((l) => l.level !== 'debug' && l.level !== 'info' && /certificate/i.test(`${l.message} ${JSON.stringify(l.data ?? {})}`)));
    expect(host.requests).toEqual([]); // the TLS handshake failed: no request was ever served
    expect(readFileSync(d.target, 'utf8')).toBe('previous');
  });
});
