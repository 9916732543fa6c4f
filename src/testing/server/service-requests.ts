/**
 * The server side of the device services (reference §4.3, §4.4): what nerves_hub_web (and the
 * browser behind it) sends to the `extensions` and `console` topics, and readers for what the
 * device sends back. Each takes the {@link NervesHubTestServer} and a device identifier.
 */
import type { NervesHubTestServer } from './nerves-hub-test-server.js';
import type { DeviceFrame, WaitOptions } from './types.js';

/** Largest chunk of a console file transfer (bytes before base64). */
export const CONSOLE_FILE_CHUNK_BYTES = 1024;

/** Pushes `extensions` `attach {extensions}` (a name, a list or `"all"`). */
export function attachExtensions(server: NervesHubTestServer, identifier: string, extensions: string | readonly string[]): void {
  server.pushTopic(identifier, 'extensions', 'attach', { extensions: typeof extensions === 'string' ? extensions : [...extensions] });
}

/** Pushes `extensions` `detach {extensions}` (a name, a list or `"all"`). */
export function detachExtensions(server: NervesHubTestServer, identifier: string, extensions: string | readonly string[]): void {
  server.pushTopic(identifier, 'extensions', 'detach', { extensions: typeof extensions === 'string' ? extensions : [...extensions] });
}

/** Pushes `health:check {}` and resolves with the next `health:report` value. */
export async function requestHealthCheck(server: NervesHubTestServer, identifier: string, options: WaitOptions = {}): Promise<Record<string, unknown>> {
  const from = server.frames.length;
  server.pushTopic(identifier, 'extensions', 'health:check', {});
  const frame = await server.waitForFrame((f) => f.identifier === identifier && f.topic === 'extensions' && f.event === 'health:report', { ...options, fromIndex: from });
  return ((frame.payload as { value?: unknown }).value ?? {}) as Record<string, unknown>;
}

/** Pushes `geo:location:request {}` and resolves with the next `geo:location:update` payload. */
export async function requestLocation(server: NervesHubTestServer, identifier: string, options: WaitOptions = {}): Promise<Record<string, unknown>> {
  const from = server.frames.length;
  server.pushTopic(identifier, 'extensions', 'geo:location:request', {});
  const frame = await server.waitForFrame((f) => f.identifier === identifier && f.topic === 'extensions' && f.event === 'geo:location:update', { ...options, fromIndex: from });
  return frame.payload as Record<string, unknown>;
}

/** Types `data` into the device console (`dn {data}`), as the web console does. */
export function consoleInput(server: NervesHubTestServer, identifier: string, data: string): void {
  server.pushTopic(identifier, 'console', 'dn', { data });
}

/** Sends the terminal size (`window_size {height, width}`). */
export function consoleWindowSize(server: NervesHubTestServer, identifier: string, size: { height: number; width: number }): void {
  server.pushTopic(identifier, 'console', 'window_size', { height: size.height, width: size.width });
}

/** Everything the device console printed (`up` data, in order), from frame index `fromIndex`. */
export function consoleOutput(server: NervesHubTestServer, identifier: string, fromIndex = 0): string {
  return server.frames
    .slice(fromIndex)
    .filter((f) => f.identifier === identifier && f.topic === 'console' && f.event === 'up')
    .map((f) => String((f.payload as { data?: unknown }).data ?? ''))
    .join('');
}

/** Resolves once the console output since `fromIndex` contains `text`. */
export async function waitForConsoleOutput(server: NervesHubTestServer, identifier: string, text: string, options: WaitOptions & { fromIndex?: number } = {}): Promise<string> {
  const from = options.fromIndex ?? 0;
  await server.waitForFrame((f) => f.identifier === identifier && f.event === 'up' && consoleOutput(server, identifier, from).includes(text), options);
  return consoleOutput(server, identifier, from);
}

/**
 * Uploads a file to the device console like the web UI's drag-and-drop: `file-data/start
 * {filename, uploaded_by}`, `file-data {filename, chunk, data}` per 1024 bytes (base64), and
 * `file-data/stop {filename, uploaded_by}` unless `stop: false` (an abandoned upload).
 */
export function uploadFile(server: NervesHubTestServer, identifier: string, filename: string, bytes: Uint8Array, options: { uploadedBy?: string; stop?: boolean } = {}): void {
  const uploadedBy = options.uploadedBy ?? 'test@example.com';
  server.pushTopic(identifier, 'console', 'file-data/start', { filename, uploaded_by: uploadedBy });
  for (let i = 0, chunk = 0; i < bytes.length; i += CONSOLE_FILE_CHUNK_BYTES, chunk++) {
    const data = Buffer.from(bytes.subarray(i, i + CONSOLE_FILE_CHUNK_BYTES)).toString('base64');
    server.pushTopic(identifier, 'console', 'file-data', { filename, chunk, data });
  }
  if (options.stop !== false) server.pushTopic(identifier, 'console', 'file-data/stop', { filename, uploaded_by: uploadedBy });
}

/** A file the device sent with `sendFile()`, as the server received it. */
export interface UploadedDeviceFile {
  /** The file's bytes, reassembled from the chunks. */
  bytes: Buffer;
  /** The frames that carried it. */
  frames: DeviceFrame[];
}

/** Reassembles the file the device sent with `file-data/start` … `file-data/stop`, once the stop arrived. */
export async function waitForDeviceFile(server: NervesHubTestServer, identifier: string, filename: string, options: WaitOptions = {}): Promise<UploadedDeviceFile> {
  const isFile = (f: DeviceFrame): boolean => f.identifier === identifier && f.topic === 'console' && (f.payload as { filename?: unknown }).filename === filename;
  const stop = await server.waitForFrame((f) => isFile(f) && f.event === 'file-data/stop', options);
  const start = server.frames.findLastIndex((f) => isFile(f) && f.event === 'file-data/start' && f.at <= stop.at);
  const frames = server.frames.slice(start, server.frames.indexOf(stop) + 1).filter(isFile);
  const bytes = Buffer.concat(frames.filter((f) => f.event === 'file-data').map((f) => Buffer.from(String((f.payload as { data?: unknown }).data), 'base64')));
  return { bytes, frames };
}

/** Pushes an `archive` offer on the device topic (`{size, uuid, version, description, platform, architecture, uploaded_at, url}`). */
export function pushArchive(server: NervesHubTestServer, identifier: string, archive: { uuid: string; url: string; size?: number; version?: string; description?: string; platform?: string; architecture?: string; uploadedAt?: string }): Record<string, unknown> {
  const payload = {
    size: archive.size ?? null,
    uuid: archive.uuid,
    version: archive.version ?? '1.0.0',
    description: archive.description ?? '',
    platform: archive.platform ?? 'host',
    architecture: archive.architecture ?? 'x86_64',
    uploaded_at: archive.uploadedAt ?? '2026-01-01T00:00:00',
    url: archive.url,
  };
  server.push(identifier, 'archive', payload);
  return payload;
}
