import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { NervesHubLink } from '../../src/link/nerves-hub-link.js';
import type { NervesHubLinkOptions } from '../../src/link/nerves-hub-link.js';
import type { NervesHubTestServer } from '../../src/testing/server/nerves-hub-test-server.js';
import { FileApplier } from '../../src/update/appliers/file-applier.js';
import { Downloader } from '../../src/download/downloader.js';

export const FAST = { heartbeatIntervalMs: 2000, reconnectBaseMs: 20, reconnectMaxMs: 80, minReconnectDelayMs: 5, rejoinAfterMs: 50, closeTimeoutMs: 200 };

/** A NervesHubLink device over real mTLS to `server`, with its own temp dir; `cleanup` stops it. */
export async function startLinkDevice(
  server: NervesHubTestServer,
  cleanup: Array<() => Promise<void> | void>,
  extra: Partial<Omit<NervesHubLinkOptions, 'socket'>> & { socket?: Partial<NervesHubLinkOptions['socket']> } = {},
) {
  const id = `NH-SVC-${randomUUID().slice(0, 8)}`;
  const cert = await server.issueDeviceCertificate(id);
  const dir = mkdtempSync(join(tmpdir(), 'nhl-svc-'));
  const target = join(dir, 'firmware.fw');
  writeFileSync(target, 'previous');
  const { socket, ...rest } = extra;
  const link = new NervesHubLink({
    client: { updateAvailable: () => ({ action: 'ignore' }) },
    applier: new FileApplier({ path: target }),
    update: { stateDir: join(dir, 'state'), downloader: new Downloader({ ca: server.serverCaPem, retry: { timeBetweenRetriesMs: 5 } }) },
    ...rest,
    socket: {
      url: server.url,
      auth: { type: 'certificate', provider: { getTlsMaterial: async () => ({ certificateChain: [cert.certPem], key: cert.keyPem }) } },
      firmware: { uuid: randomUUID(), product: 'fixture', version: '0.0.1', platform: 'host', architecture: 'x86_64' },
      fwupVersion: '1.16.0',
      tls: { ca: server.serverCaPem },
      ...FAST,
      ...socket,
    },
  });
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanup.push(() => link.stop());
  link.start();
  await server.waitForJoin(id);
  return { id, link, dir };
}

/** Polls `check` every 10 ms. */
export async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The events `id` pushed on `topic`, in order. */
export function deviceEvents(server: NervesHubTestServer, id: string, topic: string): string[] {
  return server.frames.filter((f) => f.identifier === id && f.topic === topic).map((f) => f.event);
}
