import { existsSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { run } from '../../src/cli/commands/demo.js';
import { NervesHubTestServer } from '../../src/testing/index.js';
import { captureIo } from './cli-helpers.js';

describe('nerves-hub-link demo', () => {
  it('runs a complete update, prints every step, the wire log and a summary, and removes its temp files', async () => {
    const io = captureIo();
    const code = await run(['--fast', '--size-mib', '2'], io);
    const out = io.out();
    expect(io.err()).toBe('');
    expect(code).toBe(0);
    for (const step of ['server', 'firmware', 'connect', 'update', 'decision', 'download', 'verify', 'apply', 'completed', 'reboot']) {
      expect(out).toMatch(new RegExp(`✓ ${step}\\b`));
    }
    expect(out).toMatch(/updateAvailable\(1\.0\.1\) → apply/);
    expect(out).toMatch(/download 100%/); // plain progress lines when not a TTY
    expect(out).not.toContain('\r');
    // what the server saw, in order
    const received = out.indexOf('status_update status="received"');
    const started = out.indexOf('status_update status="started"');
    const completed = out.indexOf('status_update status="completed"');
    expect(received).toBeGreaterThan(0);
    expect(started).toBeGreaterThan(received);
    expect(completed).toBeGreaterThan(started);
    expect(out).toMatch(/Summary: update demo 1\.0\.0 → 1\.0\.1 completed, the applied file matches the firmware byte for byte/);
    const dir = /Temp files in (\S+) are removed/.exec(out)?.[1];
    expect(dir).toBeDefined();
    expect(existsSync(dir!)).toBe(false);
  });

  it('draws a redrawn progress bar on a terminal', async () => {
    const io = captureIo(true);
    expect(await run(['--fast', '--size-mib', '1'], io)).toBe(0);
    expect(io.out()).toMatch(/\r {2}download \[█+\] 100%/);
  });

  it('fails with a clear message and exit 1 when it cannot finish in time, and closes the server it was still starting', async () => {
    const io = captureIo();
    const listening = (): number => process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
    const before = listening();
    const realStart = NervesHubTestServer.start.bind(NervesHubTestServer);
    const started: NervesHubTestServer[] = [];
    const closed = vi.spyOn(NervesHubTestServer.prototype, 'close');
    // start() resolves only after the demo has given up (and a little later, time enough for the
    // old run() to finish its cleanup and return): the race that leaked the server, whose cleanup
    // was registered after start() resolved. The timeout is long enough for start() to be called
    // even on a loaded machine.
    vi.spyOn(NervesHubTestServer, 'start').mockImplementation(async (options) => {
      const server = await realStart(options);
      started.push(server);
      await vi.waitFor(() => expect(io.err()).not.toBe(''), { timeout: 30_000, interval: 10 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      return server;
    });
    try {
      const code = await run(['--fast', '--timeout-ms', '3000', '--size-mib', '1'], io);
      expect(code).toBe(1);
      expect(io.err()).toMatch(/nerves-hub-link demo failed: the demo did not finish within 3000 ms/);
      // run() returns only once what it started is closed: no sleep needed to see it
      expect(started).toHaveLength(1);
      expect(closed.mock.contexts).toContain(started[0]);
      expect(listening()).toBeLessThanOrEqual(before);
    } finally {
      vi.restoreAllMocks();
      for (const server of started) await server.close();
    }
  });

  it('rejects bad options with exit 2', async () => {
    const io = captureIo();
    expect(await run(['--size-mib', '0'], io)).toBe(2);
    // The usage text goes to the command's stderr (captured here), not to the process's.
    expect(io.err()).toMatch(/--size-mib must be a number[\s\S]*Usage: nerves-hub-link demo/);
  });
});
