import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { NervesHubTestServer } from '../../src/testing/server/nerves-hub-test-server.js';
import { consoleInput, consoleOutput, consoleWindowSize, uploadFile, waitForConsoleOutput, waitForDeviceFile } from '../../src/testing/server/service-requests.js';
import { CONSOLE_TIMEOUT_BANNER, RemoteConsole, consoleStoppedLine } from '../../src/console/remote-console.js';
import { CONSOLE_MAX_FILE_BYTES, FileReceiver } from '../../src/console/file-receiver.js';
import { silentLogger } from '../../src/logging/logger.js';
import type { RemoteConsoleOptions } from '../../src/console/remote-console.js';
import { createPtySession } from '../../src/console/pty-session.js';
import { isNervesHubError } from '../../src/errors.js';
import { startLinkDevice, until } from './helpers.js';

let server: NervesHubTestServer;
const cleanup: Array<() => Promise<void> | void> = [];
beforeAll(async () => {
  server = await NervesHubTestServer.start();
});
afterAll(async () => server.close());
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function consoleDevice(options: RemoteConsoleOptions = {}) {
  const base = mkdtempSync(join(tmpdir(), 'nhl-console-'));
  cleanup.push(() => rmSync(base, { recursive: true, force: true }));
  const uploadDir = join(base, 'uploads');
  (await import('node:fs')).mkdirSync(uploadDir);
  const device = await startLinkDevice(server, cleanup, { extensions: false, console: { uploadDir, ...options } });
  await server.waitForFrame((f) => f.identifier === device.id && f.topic === 'console' && f.event === 'phx_join');
  await until(() => device.link.remoteConsole?.joined === true);
  return { ...device, base, uploadDir };
}

describe('remote console', () => {
  it('is off by default: no console join', async () => {
    const { id, link } = await startLinkDevice(server, cleanup, { extensions: false });
    await new Promise((r) => setTimeout(r, 100));
    expect(server.frames.some((f) => f.identifier === id && f.topic === 'console')).toBe(false);
    expect(link.remoteConsole).toBeUndefined();
    await expect(link.sendFile('/etc/hostname')).rejects.toMatchObject({ code: 'NH_CONSOLE_NOT_JOINED' });
  });

  it('joins with the versions only; the first key starts a Node REPL that evaluates over dn/up; window_size resizes', async () => {
    const { id, link } = await consoleDevice();
    const join = server.frames.find((f) => f.identifier === id && f.topic === 'console' && f.event === 'phx_join');
    expect(JSON.stringify(join?.payload)).toBe('{"console_version":"2.0.0","device_api_version":"2.3.0"}');
    expect(link.remoteConsole?.active).toBe(false);
    consoleWindowSize(server, id, { height: 40, width: 132 });
    const from = server.frames.length;
    consoleInput(server, id, '6 * 7\r');
    await waitForConsoleOutput(server, id, '42', { fromIndex: from });
    expect(link.remoteConsole?.active).toBe(true);
    consoleInput(server, id, 'process.stdout.columns ?? "n/a"\r');
    const up = server.frames.find((f) => f.identifier === id && f.event === 'up');
    expect(up?.topic).toBe('console');
    expect(Object.keys(up?.payload as object)).toEqual(['data']);
  });

  it('an idle session times out with the boxed banner; the next key starts a new session', async () => {
    const { id, link } = await consoleDevice({ timeoutSeconds: 0.3 });
    consoleInput(server, id, '1 + 1\r');
    await waitForConsoleOutput(server, id, '2');
    const banner = await server.waitForFrame((f) => f.identifier === id && f.event === 'up' && (f.payload as { data: string }).data === CONSOLE_TIMEOUT_BANNER);
    expect(JSON.stringify(banner.payload)).toBe(JSON.stringify({ data: '\r\n****************************************\r\n*   Session timeout due to inactivity  *\r\n*                                      *\r\n*   Press any key to continue...       *\r\n****************************************\r\n' }));
    expect(link.remoteConsole?.active).toBe(false);
    const from = server.frames.length;
    consoleInput(server, id, '20 + 22\r');
    await waitForConsoleOutput(server, id, '42', { fromIndex: from });
    expect(link.remoteConsole?.active).toBe(true);
  });

  it('an exited session pushes the stopped line and restarts on the next key', async () => {
    const { id, link } = await consoleDevice();
    consoleInput(server, id, '.exit\r');
    const stopped = await server.waitForFrame((f) => f.identifier === id && f.event === 'up' && String((f.payload as { data: string }).data).includes('stopped'));
    expect((stopped.payload as { data: string }).data).toBe('\r******* Remote IEx stopped: normal *******\r');
    expect(consoleStoppedLine('normal')).toBe('\r******* Remote IEx stopped: normal *******\r');
    await until(() => link.remoteConsole?.active === false);
    const from = server.frames.length;
    consoleInput(server, id, '"again".toUpperCase()\r');
    await waitForConsoleOutput(server, id, 'AGAIN', { fromIndex: from });
    expect(server.connectedDevices()).toContain(id);
  });

  it('a shell console without node-pty fails with a typed error naming it; the REPL is not started instead', async () => {
    await expect(createPtySession({ cols: 80, rows: 24 }, { command: '/bin/sh' })).rejects.toSatisfy((e: unknown) => isNervesHubError(e) && e.code === 'NH_CONSOLE_PTY_UNAVAILABLE' && e.message.includes('node-pty'));
    const { id, link } = await consoleDevice({ shell: { command: '/bin/sh' } });
    consoleInput(server, id, 'id\r');
    const out = await waitForConsoleOutput(server, id, 'stopped');
    expect(out).toBe(consoleStoppedLine('NH_CONSOLE_PTY_UNAVAILABLE'));
    expect(link.remoteConsole?.active).toBe(false);
  });
});

describe('console file transfer', () => {
  it('an upload lands in the upload directory under its base name, byte for byte', async () => {
    const { id, uploadDir } = await consoleDevice();
    const bytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 251));
    uploadFile(server, id, 'config.bin', bytes);
    await until(() => existsSync(join(uploadDir, 'config.bin')));
    expect(readFileSync(join(uploadDir, 'config.bin')).equals(bytes)).toBe(true);
    expect(readdirSync(uploadDir)).toEqual(['config.bin']);
  });

  it('path traversal and absolute names are reduced to a base name inside the directory; unusable names are refused', async () => {
    const { id, uploadDir, base } = await consoleDevice();
    uploadFile(server, id, '../../escaped.txt', Buffer.from('one'));
    uploadFile(server, id, '/etc/abs.txt', Buffer.from('two'));
    uploadFile(server, id, '..\\..\\win.txt', Buffer.from('three'));
    uploadFile(server, id, '..', Buffer.from('four'));
    uploadFile(server, id, '.hidden', Buffer.from('five'));
    await until(() => existsSync(join(uploadDir, 'hidden')));
    expect(readdirSync(uploadDir).sort()).toEqual(['abs.txt', 'escaped.txt', 'hidden', 'win.txt']);
    expect(readFileSync(join(uploadDir, 'escaped.txt'), 'utf8')).toBe('one');
    expect(existsSync(join(base, 'escaped.txt'))).toBe(false);
    expect(existsSync(join(dirname(base), 'escaped.txt'))).toBe(false);
    expect(readdirSync(base)).toEqual(['uploads']);
  });

  it('an upload over the limit is dropped and its partial file removed; the device stays connected', async () => {
    const { id, uploadDir } = await consoleDevice({ maxUploadBytes: 4096 });
    uploadFile(server, id, 'big.bin', Buffer.alloc(4097, 7));
    uploadFile(server, id, 'fits.bin', Buffer.alloc(4096, 8));
    await until(() => existsSync(join(uploadDir, 'fits.bin')));
    expect(readdirSync(uploadDir)).toEqual(['fits.bin']);
    expect(server.connectedDevices()).toContain(id);
  });

  it('the default limit is 10 MiB: exactly 10 MiB is saved, one byte more is not', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nhl-recv-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const receiver = new FileReceiver(dir, silentLogger, { maxBytes: CONSOLE_MAX_FILE_BYTES, idleMs: 60_000 });
    const send = (name: string, size: number) => {
      receiver.start({ filename: name });
      const chunk = Buffer.alloc(1024 * 1024, 1).toString('base64');
      for (let sent = 0; sent < size; sent += 1024 * 1024) receiver.data({ filename: name, data: size - sent >= 1024 * 1024 ? chunk : Buffer.alloc(size - sent).toString('base64') });
      receiver.stop({ filename: name });
    };
    send('exact.bin', CONSOLE_MAX_FILE_BYTES);
    send('over.bin', CONSOLE_MAX_FILE_BYTES + 1);
    expect(readdirSync(dir)).toEqual(['exact.bin']);
    expect(CONSOLE_MAX_FILE_BYTES).toBe(10_485_760);
    expect(() => new RemoteConsole({ maxUploadBytes: CONSOLE_MAX_FILE_BYTES + 1 })).toThrow(expect.objectContaining({ code: 'NH_INVALID_OPTIONS' }));
  });

  it('an abandoned upload leaves nothing behind (a new upload starts, or it goes idle)', async () => {
    const { id, uploadDir } = await consoleDevice({ uploadIdleMs: 200 });
    uploadFile(server, id, 'first.bin', Buffer.alloc(2048, 1), { stop: false });
    await until(() => readdirSync(uploadDir).length === 1);
    expect(readdirSync(uploadDir)[0]).toMatch(/^\.first\.bin\.[0-9a-f]{8}\.upload$/);
    uploadFile(server, id, 'second.bin', Buffer.alloc(10, 2), { stop: false });
    await new Promise((r) => setTimeout(r, 50));
    expect(readdirSync(uploadDir).every((n) => n.startsWith('.second.bin.'))).toBe(true);
    await until(() => readdirSync(uploadDir).length === 0);
  });

  it('sendFile sends 1024-byte base64 chunks between start and stop; too large and missing files are refused', async () => {
    const { id, link, base } = await consoleDevice();
    const file = join(base, 'report.log');
    const bytes = Buffer.from(Array.from({ length: 2500 }, (_, i) => (i * 7) % 256));
    writeFileSync(file, bytes);
    await link.sendFile(file);
    const got = await waitForDeviceFile(server, id, 'report.log');
    expect(got.bytes.equals(bytes)).toBe(true);
    expect(got.frames.map((f) => JSON.stringify(f.payload).replace(/"data":"[^"]*"/, '"data":_'))).toEqual([
      '{"filename":"report.log"}',
      '{"filename":"report.log","chunk":0,"data":_}',
      '{"filename":"report.log","chunk":1,"data":_}',
      '{"filename":"report.log","chunk":2,"data":_}',
      '{"filename":"report.log"}',
    ]);
    expect(got.frames.map((f) => f.event)).toEqual(['file-data/start', 'file-data', 'file-data', 'file-data', 'file-data/stop']);
    expect(Buffer.from((got.frames[1]!.payload as { data: string }).data, 'base64')).toHaveLength(1024);
    const big = join(base, 'big.bin');
    writeFileSync(big, Buffer.alloc(10 * 1024 * 1024));
    await expect(link.sendFile(big)).rejects.toMatchObject({ code: 'NH_CONSOLE_FILE_TOO_LARGE' });
    await expect(link.sendFile(join(base, 'missing'))).rejects.toMatchObject({ code: 'NH_CONSOLE_FILE_NOT_READABLE' });
    expect(consoleOutput(server, id)).toBe('');
  });
});
