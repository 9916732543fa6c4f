import type { ParseResult } from './parse-result.js';
import { isRecord, optionalString } from './parse-result.js';

/**
 * An archive (a signed file bundle, not firmware) offered by NervesHub with the `archive` event,
 * validated.
 *
 * @example
 * ```ts
 * socket.on('archive', (info: ArchiveInfo) => console.log(info.uuid, info.version));
 * ```
 */
export interface ArchiveInfo {
  /** Archive UUID. */
  uuid: string;
  /** Where to download it (presigned, valid ~1 h; never log its query). */
  url: URL;
  /** Size in bytes, when sent. */
  size?: number;
  /** Archive version, when sent. */
  version?: string;
  /** Description, when sent. */
  description?: string;
  /** Target platform, when sent. */
  platform?: string;
  /** Target architecture, when sent. */
  architecture?: string;
  /** Upload time as the server wrote it (ISO-8601 without zone). */
  uploadedAt?: string;
  /** The raw payload, as received. */
  raw: Record<string, unknown>;
}

/**
 * Validates an `archive` payload: needs `uuid` and an http(s) `url`.
 *
 * @example
 * ```ts
 * const parsed = parseArchiveInfo(payload);
 * if (parsed.ok) console.log(parsed.value.uuid, parsed.value.size);
 * ```
 */
export function parseArchiveInfo(payload: unknown): ParseResult<ArchiveInfo> {
  if (!isRecord(payload)) return { ok: false, error: 'archive payload is not an object' };
  if (typeof payload.uuid !== 'string' || payload.uuid.length === 0) return { ok: false, error: 'uuid missing' };
  if (typeof payload.url !== 'string' || payload.url.length === 0) return { ok: false, error: 'url missing' };
  let url: URL;
  try {
    url = new URL(payload.url);
  } catch {
    return { ok: false, error: 'url is not a URL' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { ok: false, error: `url scheme ${url.protocol} is not http(s)` };
  const info: ArchiveInfo = { uuid: payload.uuid, url, raw: payload };
  if (payload.size !== undefined && payload.size !== null) {
    if (typeof payload.size !== 'number' || !Number.isSafeInteger(payload.size) || payload.size < 0) {
      return { ok: false, error: 'size must be a non-negative integer' };
    }
    info.size = payload.size;
  }
  const fields = [
    ['version', 'version'],
    ['description', 'description'],
    ['platform', 'platform'],
    ['architecture', 'architecture'],
    ['uploaded_at', 'uploadedAt'],
  ] as const;
  for (const [wire, name] of fields) {
    const v = optionalString(payload, wire);
    if (v instanceof Error) return { ok: false, error: v.message };
    if (v !== undefined) info[name] = v;
  }
  return { ok: true, value: info };
}
