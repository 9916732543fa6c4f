import { afterAll, afterEach, beforeAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { TestCertificateAuthority } from '../../../src/testing/test-ca.js';
import { FirmwareHost } from '../../../src/testing/firmware-host.js';
import type { ProgressStage, UpdateReporter, UpdateStatus } from '../../../src/protocol/status.js';
import { statusUpdatePayload } from '../../../src/protocol/status.js';
import type { UpdateInfo } from '../../../src/protocol/update-info.js';
import type { FirmwareApplier } from '../../../src/update/firmware-applier.js';
import type { Logger, LogLevel } from '../../../src/logging/logger.js';

/** Directory of the fwup fixtures. */
export const FWUP_FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'fwup');

/** Bytes of `test/fixtures/fwup/fw/<name>`. */
export function fixtureFirmware(name: string): Buffer {
  return readFileSync(join(FWUP_FIXTURES, 'fw', name));
}

/** Base64 public key `test/fixtures/fwup/keys/<name>.pub` (key A is `fwup-key`). */
export function fixtureKey(name: 'fwup-key' | 'other-key' = 'fwup-key'): string {
  return readFileSync(join(FWUP_FIXTURES, 'keys', `${name}.pub`), 'utf8').trim();
}

/** A temp directory removed by `cleanup()`. */
export function tempDirs(): { make(prefix?: string): string; cleanup(): void } {
  const dirs: string[] = [];
  return {
    make(prefix = 'nhl-update-') {
      const d = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(d);
      return d;
    },
    cleanup() {
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    },
  };
}

/** A standalone HTTPS firmware host with its own test CA. */
export interface HostFixture {
  host: FirmwareHost;
  baseUrl: string;
  caPem: string;
  close(): Promise<void>;
}

/**
 * Registers the usual lifecycle for a test file: one FirmwareHost for the file, fresh temp dirs
 * per test, and no response left open between tests.
 */
export function useFirmwareHost(): { readonly fx: HostFixture; readonly dirs: ReturnType<typeof tempDirs> } {
  const dirs = tempDirs();
  let fx: HostFixture | undefined;
  beforeAll(async () => {
    fx = await startFirmwareHost();
  });
  afterAll(async () => {
    await fx?.close();
  });
  afterEach(() => {
    fx?.host.destroyOpenResponses();
    dirs.cleanup();
  });
  return {
    get fx(): HostFixture {
      if (fx === undefined) throw new Error('useFirmwareHost(): the host starts in beforeAll');
      return fx;
    },
    dirs,
  };
}

/** Starts a FirmwareHost on 127.0.0.1 with a certificate from a fresh test CA. */
export async function startFirmwareHost(): Promise<HostFixture> {
  const ca = await TestCertificateAuthority.create();
  const server = await ca.issueServerCertificate();
  const { host, baseUrl, close } = await FirmwareHost.listen({ cert: server.certPem, key: server.keyPem });
  return { host, baseUrl, caPem: ca.certPem, close };
}

/** Builds the `UpdateInfo` the socket would hand over for a firmware published on `baseUrl`. */
export function offerFor(url: string, bytes: Uint8Array, extra: Partial<UpdateInfo> = {}): UpdateInfo {
  return {
    firmwareUrl: new URL(url),
    firmwareMeta: { uuid: randomUUID(), product: 'fixture', version: '0.1.0' },
    size: bytes.length,
    raw: {},
    ...extra,
  };
}

/** One thing the manager reported. */
export type ReportedEvent =
  | { kind: 'status'; status: UpdateStatus; wire: Record<string, unknown>; at: number }
  | { kind: 'progress'; stage: ProgressStage; value: number; at: number };

/** An UpdateReporter that records what it is asked to send (with wire payloads). */
export class RecordingReporter implements UpdateReporter {
  readonly events: ReportedEvent[] = [];

  sendStatus(status: UpdateStatus): void {
    this.events.push({ kind: 'status', status, wire: statusUpdatePayload(status), at: performance.now() });
  }

  sendProgress(stage: ProgressStage, value: number): void {
    this.events.push({ kind: 'progress', stage, value, at: performance.now() });
  }

  /** The `status` field of every status_update, in order. */
  statuses(): string[] {
    return this.events.flatMap((e) => (e.kind === 'status' ? [e.status.status] : []));
  }

  /** Wire payloads of every status_update, in order. */
  wire(): Record<string, unknown>[] {
    return this.events.flatMap((e) => (e.kind === 'status' ? [e.wire] : []));
  }

  progress(): { stage: ProgressStage; value: number; at: number }[] {
    return this.events.flatMap((e) => (e.kind === 'progress' ? [{ stage: e.stage, value: e.value, at: e.at }] : []));
  }

  /** A compact trace such as `received, started, progress:updating:100, completed`. */
  trace(): string[] {
    return this.events.map((e) => (e.kind === 'status' ? e.status.status : `progress:${e.stage}:${e.value}`));
  }
}

/** A logger that records everything (to assert errors are logged and secrets are not). */
export function recordingLogger(): Logger & { records: { level: LogLevel; message: string; data?: Record<string, unknown> }[]; text(): string } {
  const records: { level: LogLevel; message: string; data?: Record<string, unknown> }[] = [];
  return {
    records,
    log: (level, message, data) => void records.push({ level, message, data }),
    text: () => records.map((r) => `${r.level} ${r.message} ${JSON.stringify(r.data ?? {})}`).join('\n'),
  };
}

/**
 * A FirmwareApplier that collects what it is given into memory and reports progress by bytes
 * (used where the test is about the manager's reporting, not about writing firmware).
 */
export class CollectingApplier implements FirmwareApplier {
  received = Buffer.alloc(0);
  completed = false;
  calls = 0;

  constructor(private readonly expectedSize?: number) {}

  async apply(source: AsyncIterable<Uint8Array>, ctx: Parameters<FirmwareApplier['apply']>[1]): Promise<void> {
    this.calls += 1;
    this.received = Buffer.alloc(0);
    this.completed = false;
    const parts: Buffer[] = [];
    let n = 0;
    for await (const chunk of source) {
      ctx.signal.throwIfAborted();
      parts.push(Buffer.from(chunk));
      n += chunk.length;
      if (this.expectedSize) ctx.onProgress((n / this.expectedSize) * 100);
    }
    this.received = Buffer.concat(parts);
    this.completed = true;
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns true (or throws after `timeoutMs`). */
export async function waitUntil(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
