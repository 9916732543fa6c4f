import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { createCliLogger } from '../../src/cli/cli-logger.js';
import { Downloader } from '../../src/download/downloader.js';
import type { Logger, LogLevel } from '../../src/logging/logger.js';
import { NervesHubLink } from '../../src/link/nerves-hub-link.js';
import type { InvalidMessageInfo } from '../../src/socket/socket-events.js';
import { NervesHubTestServer } from '../../src/testing/server/nerves-hub-test-server.js';
import { FileApplier } from '../../src/update/appliers/file-applier.js';
import type { UpdateOutcome } from '../../src/update/update-manager-options.js';

const KEY = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'fwup', 'keys', 'fwup-key.pub'), 'utf8').trim();
const FAST = { heartbeatIntervalMs: 2000, reconnectBaseMs: 20, reconnectMaxMs: 80, minReconnectDelayMs: 5, rejoinAfterMs: 50, closeTimeoutMs: 200 };
const FORGED = '\n2026-01-01 [info] forged line';
const RED = '\u001b[31m';
/** Anything a terminal or a line-based log reader could act on. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
/** A line as the CLI's text logger writes it. */
const TEXT_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (ERROR|WARN |INFO |DEBUG) \S/;

interface LogRecord {
  level: LogLevel;
  message: string;
  data?: Record<string, unknown>;
}

function stringsOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([k, v]) => [k, ...stringsOf(v)]);
}

/** One logger, three sinks: the records as the SDK gives them, and the CLI's text and JSON output. */
function teeLogger(): Logger & { records: LogRecord[]; text(): string; json(): string } {
  let text = '';
  let json = '';
  const sink = (append: (s: string) => void) => new Writable({ write: (chunk, _e, done) => void (append(String(chunk)), done()) });
  const textLogger = createCliLogger({ format: 'text', level: 'info', stream: sink((s) => (text += s)) });
  const jsonLogger = createCliLogger({ format: 'json', level: 'debug', stream: sink((s) => (json += s)) });
  const records: LogRecord[] = [];
  return {
    records,
    text: () => text,
    json: () => json,
    log(level, message, data) {
      records.push({ level, message, data });
      textLogger.log(level, message, data);
      jsonLogger.log(level, message, data);
    },
  };
}

let server: NervesHubTestServer;
const cleanup: Array<() => Promise<void> | void> = [];
beforeEach(async () => {
  server = await NervesHubTestServer.start({ fwupPublicKeys: [KEY] });
  cleanup.push(() => server.close());
});
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function startDevice(beforeStart: () => void = () => {}) {
  const id = `NH-LOG-${randomUUID().slice(0, 8)}`;
  const cert = await server.issueDeviceCertificate(id);
  const dir = mkdtempSync(join(tmpdir(), 'nhl-log-'));
  const target = join(dir, 'firmware.fw');
  writeFileSync(target, 'previous');
  const logger = teeLogger();
  let identified = 0;
  let connected = 0;
  const link = new NervesHubLink({
    socket: {
      url: server.url,
      auth: { type: 'certificate', provider: { getTlsMaterial: async () => ({ certificateChain: [cert.certPem], key: cert.keyPem }) } },
      firmware: { uuid: randomUUID(), product: 'fixture', version: '0.0.1', platform: 'host', architecture: 'x86_64' },
      fwupVersion: '1.16.0',
      tls: { ca: server.serverCaPem },
      ...FAST,
    },
    client: {
      updateAvailable: () => ({ action: 'apply' }),
      identify: () => void (identified += 1),
      connected: () => void (connected += 1),
    },
    applier: new FileApplier({ path: target }),
    update: { stateDir: join(dir, 'state'), downloader: new Downloader({ ca: server.serverCaPem, retry: { timeBetweenRetriesMs: 5 } }) },
    logger,
  });
  const outcomes: UpdateOutcome[] = [];
  link.onUpdateOutcome((o) => outcomes.push(o));
  const errors: Error[] = [];
  link.socket.on('error', (e) => errors.push(e));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanup.push(() => link.stop());
  beforeStart();
  link.start();
  await server.waitForJoin(id);
  await until(() => connected === 1 && link.socket.fwupPublicKeys.length > 0);
  // a firmware URL the server answers with 404: the update fails and logs its uuid on every step
  const missingUrl = server.hostFirmware(`${id}.fw`, Buffer.from('x')).replace(`${id}.fw`, `${id}-missing.fw`);
  return { id, link, target, logger, outcomes, errors, missingUrl, identified: () => identified };
}

function expectSafe(logger: ReturnType<typeof teeLogger>): void {
  for (const r of logger.records) {
    expect(r.message, r.message.slice(0, 80)).not.toMatch(UNSAFE);
    for (const s of stringsOf(r.data)) expect(s.slice(0, 80)).not.toMatch(UNSAFE);
  }
  const text = logger.text();
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.slice(0, -1).split('\n')) {
    expect(line.slice(0, 120)).toMatch(TEXT_LINE);
    expect(line).not.toMatch(UNSAFE);
  }
  for (const line of logger.json().slice(0, -1).split('\n')) {
    expect(() => JSON.parse(line)).not.toThrow();
    expect(line).not.toMatch(UNSAFE);
  }
}

describe('server-controlled text in logs', () => {
  it('a firmware_meta.uuid/version with a newline and ANSI escapes cannot forge or colour a log line', async () => {
    const d = await startDevice();
    const uuid = `aaaaaaaa-0000-4000-8000-000000000001${FORGED}${RED}`;
    server.pushUpdate(d.id, { firmwareUrl: d.missingUrl, firmwareMeta: { uuid, product: 'p', version: `1.0${FORGED}${RED}` } });
    await until(() => d.outcomes.length === 1);
    expect(d.outcomes[0]).toMatchObject({ status: 'failed', uuid }); // the app still gets the exact value
    expectSafe(d.logger);
    // the uuid was logged (escaped), but no line starts with the forged text
    expect(d.logger.text()).toContain('aaaaaaaa-0000-4000-8000-000000000001\\\\n2026-01-01 [info] forged line\\\\x1b[31m');
    expect(d.logger.text().split('\n').some((l) => l.startsWith('2026-01-01'))).toBe(false);
    expect(d.logger.records.some((r) => r.level === 'error' && r.message === 'firmware update failed')).toBe(true);
  });

  it('a 1 MB uuid writes a few KiB of log, not megabytes', async () => {
    const d = await startDevice();
    const before = { text: d.logger.text().length, json: d.logger.json().length };
    const uuid = `${'u'.repeat(1024 * 1024)}${FORGED}`;
    server.pushUpdate(d.id, { firmwareUrl: d.missingUrl, firmwareMeta: { uuid, product: 'p', version: '1.0.0' } });
    await until(() => d.outcomes.length === 1);
    expect(d.outcomes[0]).toMatchObject({ status: 'failed' });
    const textBytes = d.logger.text().length - before.text;
    const jsonBytes = d.logger.json().length - before.json;
    expect(textBytes).toBeLessThan(20 * 1024);
    expect(jsonBytes).toBeLessThan(20 * 1024);
    expect(d.logger.text()).toContain(`…[truncated, ${uuid.length} chars]`);
    expectSafe(d.logger);
  });

  it('a storm of 1000 malformed frames and 200 hostile event names is rate-limited and the device stays joined', async () => {
    const d = await startDevice();
    const invalid: InvalidMessageInfo[] = [];
    d.link.socket.on('invalidMessage', (info) => invalid.push(info));
    const before = d.logger.text().length;
    for (let i = 0; i < 1000; i++) server.sendRaw(d.id, `not json ${i}${FORGED}${RED}`);
    for (let i = 0; i < 200; i++) server.sendRaw(d.id, JSON.stringify([null, null, 'device', `evil ${i}${FORGED}${RED}`, {}]));
    await until(() => invalid.length === 1200);
    const dropped = d.logger.records.filter((r) => r.message.startsWith('dropped an invalid message'));
    expect(dropped.length).toBeLessThanOrEqual(10);
    expect(d.logger.text().length - before).toBeLessThan(20 * 1024);
    // what listeners get is escaped too (apps log it)
    for (const info of invalid) expect(`${info.event ?? ''} ${info.reason}`).not.toMatch(UNSAFE);
    expectSafe(d.logger);
    // still joined and answering
    expect(d.link.socket.joined).toBe(true);
    expect(server.joinCount(d.id)).toBe(1);
    server.push(d.id, 'identify', {});
    await until(() => d.identified() === 1);
  });

  it('an nh-connection-error-reason with C1 controls and 8 KiB of text is escaped and bounded in the error and the log', async () => {
    // header bytes are latin1: 0x85 is NEL and 0x9b the 8-bit CSI (what the HTTP parser lets through)
    const reason = `busy\u0085forged line \u009b31m${'x'.repeat(8000)}`;
    const d = await startDevice(() => server.refuseUpgrades({ status: 503, count: 1, reason }));
    const refused = d.errors.find((e) => (e as { code?: string }).code === 'NH_SOCKET_SERVICE_UNAVAILABLE');
    expect(refused?.message).toMatch(/^NervesHub is unavailable \(503\) \(server says: busy\\x85forged line \\x9b31mx+…\[truncated, 8021 chars\]\); retrying$/);
    expect(refused!.message.length).toBeLessThan(400);
    expect(d.logger.text()).toContain('server says: busy\\x85forged line');
    expectSafe(d.logger);
  });
});
