import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FileCertificateProvider } from '../../auth/file-certificate-provider.js';
import { Downloader } from '../../download/downloader.js';
import { NervesHubLink } from '../../link/nerves-hub-link.js';
import type { UpdateInfo } from '../../protocol/update-info.js';
import { NervesHubTestServer } from '../../testing/server/nerves-hub-test-server.js';
import { FileApplier } from '../../update/appliers/file-applier.js';
import { createDefaultUpdateClient } from '../../update/default-update-client.js';
import type { UpdateDecision } from '../../update/update-client.js';
import type { UpdateOutcome } from '../../update/update-manager-options.js';
import type { CliIo } from '../cli-io.js';
import { formatDuration, formatMiB, processIo } from '../cli-io.js';
import type { DemoFirmware, Span } from '../demo-parts.js';
import { createDemoFirmware, pacedDownloads, timedApplier, wireLog } from '../demo-parts.js';
import { createProgressBar } from '../progress-bar.js';
import { usageFailure } from './keys-option.js';

const USAGE = `Usage: nerves-hub-link demo [--fast] [--size-mib N] [--timeout-ms MS]

Runs a complete firmware update on this machine, in seconds: a NervesHub test server on
127.0.0.1, a signed firmware 1.0.1, and a simulated device on 1.0.0 (NervesHubLink with a device
certificate) that receives the update, decides, downloads, verifies, applies it into a file,
reports completed and calls its reboot hook. Nothing leaves the machine; temp files are removed.

Options:
  --fast            do not pace the download (by default it is paced to 6 MiB/s so the progress shows)
  --size-mib N      firmware size in MiB (default 8, at most 256)
  --timeout-ms MS   give up after this long (default 60000)
  -h, --help        show this help
`;

/** Defaults of the demo. */
export const DEMO_DEFAULTS = Object.freeze({
  sizeMiB: 8,
  maxSizeMiB: 256,
  paceBytesPerSecond: 6 * 1024 * 1024,
  timeoutMs: 60_000,
  deviceId: 'nerves-hub-link-demo-0001',
  runningVersion: '1.0.0',
  targetVersion: '1.0.1',
});

interface DemoSettings {
  paceBytesPerSecond: number;
  sizeBytes: number;
  timeoutMs: number;
}

/** Writes the demo's lines; each step line shows how long the step took. */
class Reporter {
  readonly durations: Array<[string, number]> = [];
  constructor(private readonly io: CliIo) {}
  line(text = ''): void {
    this.io.stdout.write(`${text}\n`);
  }
  step(name: string, detail: string, ms?: number): void {
    if (ms !== undefined) this.durations.push([name, ms]);
    this.line(`  ✓ ${name.padEnd(12)} ${detail}${ms === undefined ? '' : `  (${formatDuration(ms)})`}`);
  }
}

/** `nerves-hub-link demo`. */
export async function run(argv: string[], io: CliIo = processIo()): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { fast: { type: 'boolean' }, 'size-mib': { type: 'string' }, 'timeout-ms': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (error) {
    return usageFailure('demo', (error as Error).message, USAGE, io.stderr);
  }
  const { values } = parsed;
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  const sizeMiB = Number(values['size-mib'] ?? DEMO_DEFAULTS.sizeMiB);
  const timeoutMs = Number(values['timeout-ms'] ?? DEMO_DEFAULTS.timeoutMs);
  if (!(sizeMiB > 0 && sizeMiB <= DEMO_DEFAULTS.maxSizeMiB)) return usageFailure('demo', `--size-mib must be a number in (0, ${DEMO_DEFAULTS.maxSizeMiB}]`, USAGE, io.stderr);
  if (!(Number.isInteger(timeoutMs) && timeoutMs > 0)) return usageFailure('demo', '--timeout-ms must be a positive integer', USAGE, io.stderr);
  const settings: DemoSettings = {
    paceBytesPerSecond: values.fast ? 0 : DEMO_DEFAULTS.paceBytesPerSecond,
    sizeBytes: Math.round(sizeMiB * 1024 * 1024),
    timeoutMs,
  };

  const out = new Reporter(io);
  const cleanups: Array<() => Promise<unknown>> = [];
  const ended = new AbortController();
  const startedAt = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the demo did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  let running: Promise<string> | undefined;
  try {
    out.line('nerves-hub-link demo: a complete firmware update on this machine (nothing leaves it)');
    out.line();
    running = scenario(io, out, settings, cleanups, ended.signal);
    const summary = await Promise.race([running, timeout]);
    out.line();
    out.line(`Summary: ${summary} (${formatDuration(Date.now() - startedAt)} in all).`);
    out.line(`  ${out.durations.map(([name, ms]) => `${name} ${formatDuration(ms)}`).join(' · ')}`);
    return 0;
  } catch (error) {
    io.stdout.write('\n');
    io.stderr.write(`nerves-hub-link demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    clearTimeout(timer);
    ended.abort();
    // On a timeout the scenario may still be starting something (the server, the link): wait for
    // it to reach its next checkpoint, where it registers that for cleanup, so nothing outlives run().
    await running?.catch(() => undefined);
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }
}

/**
 * Waits for `check` to return a value, polling every 5 ms; rejects when the link reported a
 * failure or `signal` fired (the demo ended), so no poll outlives the demo.
 */
function until<T>(check: () => T | undefined, failed: () => string | undefined, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      if (signal.aborted) return reject(new Error('the demo ended'));
      const problem = failed();
      if (problem !== undefined) return reject(new Error(problem));
      const value = check();
      if (value !== undefined) return resolve(value);
      setTimeout(poll, 5);
    };
    poll();
  });
}

/** Throws once the demo has ended (timed out), so the scenario stops at its next step. */
function checkpoint(signal: AbortSignal): void {
  if (signal.aborted) throw new Error('the demo ended');
}

async function scenario(io: CliIo, out: Reporter, settings: DemoSettings, cleanups: Array<() => Promise<unknown>>, signal: AbortSignal): Promise<string> {
  // Registers the cleanup first, then stops if the demo already ended: a resource that finished
  // starting after the timeout is still closed by run().
  const own = (cleanup: () => Promise<unknown>): void => {
    cleanups.push(cleanup);
    checkpoint(signal);
  };
  const dir = await mkdtemp(join(tmpdir(), 'nerves-hub-link-demo-'));
  own(() => rm(dir, { recursive: true, force: true }));

  let t = Date.now();
  const server = await NervesHubTestServer.start();
  own(() => server.close());
  out.step('server', `NervesHub test server on ${server.url} (mutual TLS, its own test CA)`, Date.now() - t);

  t = Date.now();
  const firmware: DemoFirmware = await createDemoFirmware(DEMO_DEFAULTS.targetVersion, settings.sizeBytes);
  checkpoint(signal);
  out.step('firmware', `${firmware.meta.product} ${firmware.meta.version}, ${formatMiB(firmware.bytes.length)}, signed with a fresh Ed25519 key the device trusts`, Date.now() - t);

  // The device: certificate files, as on a real device, and the NervesHubLink composition.
  const id = DEMO_DEFAULTS.deviceId;
  const issued = await server.issueDeviceCertificate(id);
  await writeFile(join(dir, 'device-cert.pem'), issued.certPem);
  await writeFile(join(dir, 'device-key.pem'), issued.keyPem, { mode: 0o600 });
  await writeFile(join(dir, 'server-ca.pem'), server.serverCaPem);
  checkpoint(signal);
  const target = join(dir, 'firmware.img');
  const runningFirmware = { uuid: randomUUID(), product: 'demo', version: DEMO_DEFAULTS.runningVersion, platform: 'host', architecture: process.arch };

  const marks: { decidedAt?: number; decision?: UpdateDecision; rebootAt?: number; pushedAt?: number } = {};
  const download: Span = {};
  const apply: Span = {};
  const bar = createProgressBar({ stream: io.stdout, isTTY: io.isTTY, label: 'download' });
  const outcomes: UpdateOutcome[] = [];

  const defaults = createDefaultUpdateClient({ currentFirmwareUuid: runningFirmware.uuid, reboot: () => void (marks.rebootAt = Date.now()) });
  const link = new NervesHubLink({
    socket: {
      url: server.url,
      auth: {
        type: 'certificate',
        provider: new FileCertificateProvider({ certFile: join(dir, 'device-cert.pem'), keyFile: join(dir, 'device-key.pem'), serverCaFile: join(dir, 'server-ca.pem') }),
      },
      firmware: runningFirmware,
      fwupPublicKeys: [firmware.publicKey],
    },
    client: {
      ...defaults,
      updateAvailable(info: UpdateInfo) {
        const decision = defaults.updateAvailable(info) as UpdateDecision;
        marks.decidedAt = Date.now();
        marks.decision = decision;
        return decision;
      },
      onProgress(stage, percent) {
        if (stage === 'downloading') bar.update(percent, `${formatMiB((percent / 100) * firmware.bytes.length)} / ${formatMiB(firmware.bytes.length)}`);
      },
    },
    applier: timedApplier(new FileApplier({ path: target }), apply),
    update: {
      strategy: 'cached', // download, then verify, then apply: three visible steps
      stateDir: join(dir, 'state'),
      progressIntervalMs: 50,
      downloader: pacedDownloads(new Downloader({ ca: server.serverCaPem }), settings.paceBytesPerSecond, download),
    },
  });
  link.onUpdateOutcome((o) => outcomes.push(o));
  own(() => link.stop());
  const failed = (): string | undefined => {
    const bad = outcomes.find((o) => o.status !== 'completed');
    if (bad) return `the update ended ${bad.status}${bad.reason ? `: ${bad.reason}` : ''}`;
    return undefined;
  };

  t = Date.now();
  const joined = new Promise<void>((resolve, reject) => {
    const onError = (error: { code: string; message: string }): void => reject(new Error(`cannot connect: ${error.code}: ${error.message}`));
    const onEnded = (): void => reject(new Error('the demo ended'));
    link.socket.once('error', onError);
    signal.addEventListener('abort', onEnded, { once: true });
    link.socket.once('connected', () => {
      link.socket.off('error', onError);
      signal.removeEventListener('abort', onEnded);
      resolve();
    });
  });
  link.start();
  await joined;
  out.step('connect', `device ${id} (demo ${DEMO_DEFAULTS.runningVersion}) joined "device" with its certificate`, Date.now() - t);

  const url = server.hostFirmware(`demo-${firmware.meta.version}.fw`, firmware.bytes);
  marks.pushedAt = Date.now();
  server.pushUpdate(id, {
    firmwareUrl: url,
    firmwareMeta: firmware.meta,
    size: firmware.bytes.length,
    checksum: firmware.sha256,
    partialsChecksums: firmware.partialsSha256,
  });
  out.step('update', `server pushed "update" ${firmware.meta.version} (${formatMiB(firmware.bytes.length)}, SHA-256 ${firmware.sha256.slice(0, 12)}…)`);

  const decision = await until(() => marks.decision, failed, signal);
  out.step('decision', `updateAvailable(${firmware.meta.version}) → ${decision.action} (running ${DEMO_DEFAULTS.runningVersion})`, (marks.decidedAt ?? 0) - marks.pushedAt);

  await until(() => download.endedAt, failed, signal);
  // progress is throttled (and held back per 1 MiB part until its SHA-256 is proven): show the end
  bar.update(100, `${formatMiB(firmware.bytes.length)} / ${formatMiB(firmware.bytes.length)}`);
  bar.done();
  const downloadMs = download.endedAt! - download.startedAt!;
  const rate = `${formatMiB(((download.bytes ?? 0) / Math.max(1, downloadMs)) * 1000)}/s${settings.paceBytesPerSecond > 0 ? ', paced; --fast for full speed' : ''}`;
  out.step('download', `${formatMiB(download.bytes ?? 0)} over HTTPS, SHA-256 checked per 1 MiB part (${rate})`, downloadMs);

  await until(() => apply.startedAt, failed, signal);
  out.step('verify', 'Ed25519 signature of meta.conf and BLAKE2b-256 of every resource: valid', apply.startedAt! - download.endedAt!);
  await until(() => apply.endedAt, failed, signal);
  out.step('apply', `written to ${target}`, apply.endedAt! - apply.startedAt!);

  const completedFrame = await until(
    () => server.frames.find((f) => f.identifier === id && f.event === 'status_update' && (f.payload as { status?: string }).status === 'completed'),
    failed,
    signal,
  );
  out.step('completed', '"status_update completed" reached the server', Math.max(0, completedFrame.at - apply.endedAt!));
  const outcome = await until(() => outcomes[0], failed, signal);
  if (marks.rebootAt === undefined) throw new Error('the update completed but the reboot hook was not called');
  out.step('reboot', `client.reboot() called: a real device restarts into ${firmware.meta.version} now`, Math.max(0, marks.rebootAt - apply.endedAt!));
  await link.stop();

  const applied = await readFile(target);
  if (!applied.equals(firmware.bytes)) throw new Error(`${target} does not hold the firmware that was pushed`);

  out.line();
  out.line('What went over the wire (the "device" topic, as the test server recorded it; heartbeats left out):');
  for (const line of wireLog(id, server.frames, server.sentFrames)) out.line(line);
  out.line();
  out.line(`Temp files in ${dir} are removed now.`);
  return `update demo ${DEMO_DEFAULTS.runningVersion} → ${firmware.meta.version} ${outcome.status}, the applied file matches the firmware byte for byte`;
}
