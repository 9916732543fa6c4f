import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/commands/demo.js';
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

  it('fails with a clear message and exit 1 when it cannot finish in time, leaving nothing behind', async () => {
    const io = captureIo();
    const before = process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
    const code = await run(['--fast', '--timeout-ms', '50', '--size-mib', '1'], io);
    expect(code).toBe(1);
    expect(io.err()).toMatch(/nerves-hub-link demo failed: the demo did not finish within 50 ms/);
    await new Promise((r) => setTimeout(r, 50));
    expect(process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length).toBeLessThanOrEqual(before);
  });

  it('rejects bad options with exit 2', async () => {
    const io = captureIo();
    expect(await run(['--size-mib', '0'], io)).toBe(2);
    // The usage text goes to the command's stderr (captured here), not to the process's.
    expect(io.err()).toMatch(/--size-mib must be a number[\s\S]*Usage: nerves-hub-link demo/);
  });
});
