/**
 * Pieces of `nerves-hub-link demo` that are not the SDK itself: a demo firmware, a download pacer
 * (so the progress is visible on loopback), a timing wrapper around the applier, and the wire log.
 */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFirmwareMetadata } from '../firmware/read-firmware-metadata.js';
import type { WireFirmwareMeta } from '../protocol/wire-firmware-meta.js';
import { redactUrl } from '../logging/redact.js';
import { createFirmware } from '../testing/create-firmware.js';
import type { DeviceFrame, ServerFrame } from '../testing/server/types.js';
import type { ApplyContext, FirmwareApplier } from '../update/firmware-applier.js';
import type { DownloadOptions } from '../download/download-options.js';
import type { FirmwareDownloadSource } from '../update/update-ports.js';

/** A signed demo firmware and the key that verifies it. */
export interface DemoFirmware {
  bytes: Uint8Array;
  meta: WireFirmwareMeta;
  /** Base64 Ed25519 public key (fwup-key.pub format) the device trusts. */
  publicKey: string;
  /** Upper-case hex SHA-256 of the file (NervesHub's `checksum`). */
  sha256: string;
  /** SHA-256 of each 1 MiB part (NervesHub's `partials_checksums`). */
  partialsSha256: string[];
}

const PART_BYTES = 1024 * 1024;

/** Builds a signed firmware with one `rootfs.img` of `sizeBytes` random bytes and a fresh key pair. */
export async function createDemoFirmware(version: string, sizeBytes: number): Promise<DemoFirmware> {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url').toString('base64');
  const seed = new Uint8Array(Buffer.from(privateKey.export({ format: 'jwk' }).d ?? '', 'base64url'));
  const meta = { product: 'demo', version, platform: 'host', architecture: process.arch, author: 'nerves-hub-link demo', description: 'demo firmware' };
  const bytes = await createFirmware({
    resources: { 'rootfs.img': new Uint8Array(randomBytes(sizeBytes)) },
    meta,
    privateKey: seed,
    compression: 0, // random bytes do not compress; stored keeps creation fast
    tasks: [{ name: 'upgrade', onResource: { 'rootfs.img': [['raw_write', 0]] } }],
  });
  const { uuid } = await readFirmwareMetadata(bytes, { publicKeys: [pub] });
  const partialsSha256: string[] = [];
  for (let at = 0; at < bytes.length; at += PART_BYTES) partialsSha256.push(createHash('sha256').update(bytes.subarray(at, at + PART_BYTES)).digest('hex'));
  return {
    bytes,
    meta: { uuid, ...meta },
    publicKey: pub,
    sha256: createHash('sha256').update(bytes).digest('hex').toUpperCase(),
    partialsSha256,
  };
}

/** When a wrapped operation started and ended (`Date.now()` ms). */
export interface Span {
  startedAt?: number;
  endedAt?: number;
  bytes?: number;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Wraps a download source: records when the download started and ended and, when
 * `bytesPerSecond` > 0, paces the bytes like a slower link (loopback would finish in a blink).
 */
export function pacedDownloads(inner: FirmwareDownloadSource, bytesPerSecond: number, span: Span): FirmwareDownloadSource {
  return {
    async *stream(url: string | URL, options: DownloadOptions = {}) {
      span.startedAt = Date.now();
      let received = 0;
      for await (const chunk of inner.stream(url, options)) {
        received += chunk.length;
        if (bytesPerSecond > 0) {
          const dueAt = span.startedAt + (received / bytesPerSecond) * 1000;
          const wait = dueAt - Date.now();
          if (wait > 1) await sleep(wait, options.signal);
        }
        yield chunk;
      }
      span.endedAt = Date.now();
      span.bytes = received;
    },
  };
}

/** Wraps an applier to record when it started and ended. */
export function timedApplier(inner: FirmwareApplier, span: Span): FirmwareApplier {
  return {
    async apply(source: AsyncIterable<Uint8Array>, context: ApplyContext) {
      span.startedAt = Date.now();
      await inner.apply(source, context);
      span.endedAt = Date.now();
    },
  };
}

function summarize(event: string, payload: unknown): string {
  const p = (typeof payload === 'object' && payload !== null ? payload : {}) as Record<string, unknown>;
  switch (event) {
    case 'phx_join': {
      const keys = ['nerves_fw_product', 'nerves_fw_version', 'nerves_fw_uuid', 'fwup_version', 'currently_downloading_uuid'];
      return keys.filter((k) => k in p).map((k) => `${k}=${JSON.stringify(p[k])}`).join(' ');
    }
    case 'phx_reply':
      return `status=${JSON.stringify(p.status)}`;
    case 'update': {
      const meta = (p.firmware_meta ?? {}) as Record<string, unknown>;
      return `version=${JSON.stringify(meta.version)} uuid=${JSON.stringify(meta.uuid)} size=${String(p.size)} firmware_url=${redactUrl(String(p.firmware_url))}`;
    }
    case 'status_update':
      return Object.entries(p)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(' ');
    default:
      return JSON.stringify(payload).slice(0, 120);
  }
}

/**
 * The `device` topic frames of one device in both directions, oldest first, heartbeats left out
 * and runs of `fwup_progress` of one stage folded into one line.
 */
export function wireLog(identifier: string, received: readonly DeviceFrame[], sent: readonly ServerFrame[]): string[] {
  const frames = [
    ...received.filter((f) => f.identifier === identifier && f.topic === 'device').map((f) => ({ ...f, dir: 'device → server' })),
    ...sent.filter((f) => f.identifier === identifier && f.topic === 'device').map((f) => ({ ...f, dir: 'server → device' })),
  ].sort((a, b) => a.at - b.at);
  const t0 = frames[0]?.at ?? 0;
  const lines: string[] = [];
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i]!;
    const at = `+${String(f.at - t0).padStart(5)} ms`;
    if (f.event === 'fwup_progress') {
      const stage = (f.payload as { stage?: string }).stage;
      let j = i;
      while (frames[j + 1]?.event === 'fwup_progress' && (frames[j + 1]?.payload as { stage?: string }).stage === stage) j++;
      const values = frames.slice(i, j + 1).map((x) => (x.payload as { value?: number }).value);
      const span = j > i ? `, over ${frames[j]!.at - f.at} ms` : '';
      lines.push(`  ${at}  ${f.dir}  fwup_progress stage=${JSON.stringify(stage)} value=${values.join(' ')}  (${values.length} message${values.length === 1 ? '' : 's'}${span})`);
      i = j;
      continue;
    }
    lines.push(`  ${at}  ${f.dir}  ${f.event} ${summarize(f.event, f.payload)}`);
  }
  return lines;
}
