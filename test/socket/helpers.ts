import type { CertificateProvider, TlsClientMaterial } from '../../src/auth/certificate-provider.js';
import type { NervesHubError } from '../../src/errors.js';
import type { WireFirmwareMeta } from '../../src/protocol/wire-firmware-meta.js';
import { NervesHubSocket } from '../../src/socket/nerves-hub-socket.js';
import type { NervesHubSocketOptions } from '../../src/socket/options.js';
import type { NervesHubSocketEvents } from '../../src/socket/socket-events.js';
import type { NervesHubTestServer } from '../../src/testing/index.js';

export const FIRMWARE: WireFirmwareMeta = {
  uuid: '6e1f9c1e-3c2a-5f3b-9d4e-1a2b3c4d5e6f',
  product: 'hello',
  version: '1.2.3',
  platform: 'rpi4',
  architecture: 'arm',
  author: 'Test Author',
  description: 'test firmware',
  vcs_identifier: 'abc123',
  misc: 'misc',
};

/** Fast timings for tests. */
export const FAST = {
  heartbeatIntervalMs: 2000,
  reconnectBaseMs: 20,
  reconnectMaxMs: 80,
  minReconnectDelayMs: 5,
  rejoinAfterMs: 50,
  closeTimeoutMs: 200,
  connectTimeoutMs: 3000,
} satisfies Partial<NervesHubSocketOptions>;

export function staticProvider(material: TlsClientMaterial): CertificateProvider {
  return { getTlsMaterial: async () => material };
}

/** A certificate-auth socket for a freshly issued, registered device certificate. */
export async function certificateSocket(
  server: NervesHubTestServer,
  identifier: string,
  overrides: Partial<NervesHubSocketOptions> = {},
): Promise<NervesHubSocket> {
  const cert = await server.issueDeviceCertificate(identifier);
  return new NervesHubSocket({
    url: server.url,
    auth: { type: 'certificate', provider: staticProvider({ certificateChain: [cert.certPem], key: cert.keyPem }) },
    firmware: FIRMWARE,
    fwupVersion: '1.16.0',
    tls: { ca: server.serverCaPem },
    ...FAST,
    ...overrides,
  });
}

/** Resolves with the args of the next `event`, rejects after `timeoutMs`. */
export function nextEvent<E extends keyof NervesHubSocketEvents>(
  socket: NervesHubSocket,
  event: E,
  timeoutMs = 5000,
  predicate: (...args: NervesHubSocketEvents[E]) => boolean = () => true,
): Promise<NervesHubSocketEvents[E]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, listener);
      reject(new Error(`timed out waiting for ${String(event)}`));
    }, timeoutMs);
    const listener = (...args: NervesHubSocketEvents[E]): void => {
      if (!predicate(...args)) return;
      clearTimeout(timer);
      socket.off(event, listener);
      resolve(args);
    };
    socket.on(event, listener);
  });
}

/** Waits for the first `error` event with `code`. */
export async function nextError(socket: NervesHubSocket, code: string, timeoutMs = 5000): Promise<NervesHubError> {
  const [err] = await nextEvent(socket, 'error', timeoutMs, (e) => e.code === code);
  return err;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resources that are not part of an idle Node process (sockets, timers…) */
export function openHandles(): string[] {
  return process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'PipeWrap' && r !== 'FSReqCallback');
}

/**
 * Records timers created from now on (sockets: see openHandles); `alive()` lists those not yet destroyed.
 * Independent of whatever the test runner itself keeps open.
 */
export async function trackResources(): Promise<{ alive(): string[]; stop(): void }> {
  const { createHook } = await import('node:async_hooks');
  const live = new Map<number, string>();
  const watched = new Set(['Timeout']);
  const hook = createHook({
    init(asyncId, type) {
      if (watched.has(type)) live.set(asyncId, type);
    },
    destroy(asyncId) {
      live.delete(asyncId);
    },
  }).enable();
  return {
    alive: () => [...live.values()].sort(),
    stop: () => hook.disable(),
  };
}
