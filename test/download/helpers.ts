import { randomBytes } from 'node:crypto';
import { TestCertificateAuthority } from '../../src/testing/test-ca.js';
import { FirmwareHost } from '../../src/testing/firmware-host.js';

export interface HostFixture {
  host: FirmwareHost;
  baseUrl: string;
  caPem: string;
  close(): Promise<void>;
}

/** A real HTTPS firmware host on 127.0.0.1 with a certificate from a fresh test CA. */
export async function startHost(): Promise<HostFixture> {
  const ca = await TestCertificateAuthority.create();
  const server = await ca.issueServerCertificate();
  const { host, baseUrl, close } = await FirmwareHost.listen({ cert: server.certPem, key: server.keyPem });
  return { host, baseUrl, caPem: ca.certPem, close };
}

/** Incompressible test firmware of `size` bytes. */
export function randomFirmware(size: number): Buffer {
  return randomBytes(size);
}

/** Reads a whole async iterable; on failure rethrows with the bytes received so far attached. */
export async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  try {
    for await (const chunk of stream) chunks.push(chunk);
  } catch (error) {
    (error as { received?: Buffer }).received = Buffer.concat(chunks);
    throw error;
  }
  return Buffer.concat(chunks);
}

/** Runs `fn` and returns what it threw (fails the test if it did not throw). */
export async function rejection(fn: () => Promise<unknown>): Promise<Error & { code?: string; status?: number; received?: Buffer }> {
  try {
    await fn();
  } catch (error) {
    return error as Error & { code?: string; status?: number; received?: Buffer };
  }
  throw new Error('expected a rejection');
}

/** Sockets and timers alive in this process (a leaked download would leave some behind). */
export function liveHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'TCPSocketWrap').length;
}

/** Waits (up to `ms`) until {@link liveHandles} is back to `baseline`; returns the last count. */
export async function settleHandles(baseline: number, ms = 2000): Promise<number> {
  const until = Date.now() + ms;
  let count = liveHandles();
  while (count > baseline && Date.now() < until) {
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 20));
    count = liveHandles();
  }
  return count;
}

/** {@link liveHandles} once the previous test's sockets and timers had time to go away. */
export async function quietBaseline(): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 150));
  return liveHandles();
}
