/**
 * Composing the parts yourself: a hand-wired NervesHubSocket + UpdateManager + applier
 * (device-stack.ts) under the app's own supervisor (supervisor.ts).
 *
 * Real device:  NH_CERT_FILE=… NH_KEY_FILE=… NERVES_FW_UUID=… npx tsx examples/compose-yourself/main.ts
 * Self-test:    npx tsx examples/compose-yourself/main.ts --self-test
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileApplier, FileCertificateProvider, FwupApplier, readFirmwareMetadata } from 'nerves-hub-link';
import type { UpdateOutcome } from 'nerves-hub-link';
import { NervesHubTestServer, createFirmware, createFwupKeyPair } from 'nerves-hub-link/testing';
import { consoleLogger, isEntryPoint, runMain, selfTestLogger, selfTestRequested, statusesSeen, waitForStatus, withTimeout } from '../_support/self-test-kit.js';
import { createDeviceStack } from './device-stack.js';
import { Supervisor } from './supervisor.js';

/** What {@link selfTest} observed. */
export interface SelfTestReport {
  outcome: UpdateOutcome;
  /** Stacks started: 2 = the supervisor replaced the wedged one once. */
  incarnations: number;
  restartReasons: string[];
  /** The second download asked for the rest of the file only (`Range: bytes=N-`). */
  resumedWithRange: string | undefined;
  targetMatches: boolean;
  statuses: string[];
}

/**
 * Against a local {@link NervesHubTestServer}: the firmware host stalls the first download after
 * 128 KiB; the supervisor's watchdog sees no progress, replaces the stack, and the new stack
 * resumes the download from the journal with a Range request and completes the update.
 */
export async function selfTest(): Promise<SelfTestReport> {
  const dir = await mkdtemp(join(tmpdir(), 'nhl-example-compose-'));
  const fwupKey = createFwupKeyPair();
  const server = await NervesHubTestServer.start();
  let supervisor: Supervisor | undefined;
  try {
    const identifier = `gateway-${randomUUID().slice(0, 8)}`;
    const cert = await server.issueDeviceCertificate(identifier);
    const target = join(dir, 'firmware.fw');
    const outcomes: UpdateOutcome[] = [];
    const restartReasons: string[] = [];
    let notify: ((o: UpdateOutcome) => void) | undefined;
    const outcome = new Promise<UpdateOutcome>((resolve) => (notify = resolve));
    supervisor = new Supervisor({
      createStack: () =>
        createDeviceStack({
          socket: {
            url: server.url,
            auth: { type: 'certificate', provider: { getTlsMaterial: async () => ({ certificateChain: [cert.certPem], key: cert.keyPem }) } },
            firmware: { uuid: randomUUID(), product: 'gateway', version: '1.0.0', platform: 'host', architecture: 'x86_64' },
            fwupPublicKeys: [fwupKey.publicKey],
            tls: { ca: server.serverCaPem },
            closeTimeoutMs: 200,
          },
          applier: new FileApplier({ path: target }),
          stateDir: join(dir, 'state'),
          downloadCa: server.serverCaPem,
          onOutcome: (o) => {
            outcomes.push(o);
            if (o.status === 'completed' || o.status === 'failed') notify?.(o);
          },
          ...selfTestLogger(),
        }),
      stallTimeoutMs: 1_000,
      checkIntervalMs: 100,
      onRestart: (reason) => restartReasons.push(reason),
    });
    supervisor.start();
    await server.waitForJoin(identifier);

    const firmware = await createFirmware({
      resources: { 'rootfs.img': new Uint8Array(512 * 1024).map((_, i) => i % 251) },
      meta: { product: 'gateway', version: '1.1.0' },
      privateKey: fwupKey.privateKey,
      compression: 0,
    });
    const { uuid } = await readFirmwareMetadata(firmware);
    const url = server.hostFirmware('gateway-1.1.0.fw', firmware);
    server.firmware.setFaults('gateway-1.1.0.fw', { stallAfterBytes: 128 * 1024, times: 1 });
    server.pushUpdate(identifier, { firmwareUrl: url, firmwareMeta: { uuid, product: 'gateway', version: '1.1.0' }, size: firmware.length });

    const result = await withTimeout(outcome, 15_000, 'the update to complete');
    if (result.status === 'completed') await waitForStatus(server, identifier, 'completed'); // the outcome can beat the frame to the server
    const requests = server.firmware.requests.filter((r) => r.path.endsWith('gateway-1.1.0.fw'));
    const range = requests[1]?.headers.range;
    const report: SelfTestReport = {
      outcome: result,
      incarnations: supervisor.incarnation,
      restartReasons,
      resumedWithRange: typeof range === 'string' ? range : undefined,
      targetMatches: Buffer.from(await readFile(target)).equals(Buffer.from(firmware)),
      statuses: statusesSeen(server, identifier).map((s) => s.status),
    };
    const ok =
      result.status === 'completed' &&
      report.incarnations === 2 &&
      report.targetMatches &&
      report.resumedWithRange !== undefined &&
      report.resumedWithRange !== 'bytes=0-' &&
      report.statuses.at(-1) === 'completed';
    if (!ok) throw new Error(`self-test failed: ${JSON.stringify(report)}`);
    return report;
  } finally {
    await supervisor?.stop();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (selfTestRequested()) {
    const r = await selfTest();
    console.log(`self-test passed: ${r.outcome.status} after ${r.incarnations - 1} restart(s), resumed with ${r.resumedWithRange}; statuses ${r.statuses.join(' → ')}`);
    return;
  }
  const env = process.env;
  const need = (name: string): string => env[name] || (() => { throw new Error(`set ${name}`); })();
  const supervisor = new Supervisor({
    createStack: () =>
      createDeviceStack({
        socket: {
          url: env.NH_URL ?? 'devices.nerves-hub.org',
          auth: { type: 'certificate', provider: new FileCertificateProvider({ certFile: need('NH_CERT_FILE'), keyFile: need('NH_KEY_FILE') }) },
          firmware: { uuid: need('NERVES_FW_UUID'), product: need('NERVES_FW_PRODUCT'), version: need('NERVES_FW_VERSION'), platform: env.NERVES_FW_PLATFORM ?? 'rpi4', architecture: env.NERVES_FW_ARCHITECTURE ?? 'arm' },
        },
        applier: new FwupApplier({ devicePath: env.NH_FWUP_DEVICE ?? '/dev/mmcblk0', task: 'upgrade' }),
        stateDir: env.NH_STATE_DIR ?? '/data/nerves-hub-link',
        onOutcome: (o) => console.log(`update ${o.uuid}: ${o.status}`),
        reboot: () => console.log('rebooting (a real device would run `reboot`)'),
        logger: consoleLogger,
      }),
    onRestart: (reason, incarnation) => console.warn(`restarting the device stack (#${incarnation}): ${reason}`),
  });
  supervisor.start();
  process.once('SIGTERM', () => void supervisor.stop());
  process.once('SIGINT', () => void supervisor.stop());
  if ((await supervisor.done) === 'gave up') process.exit(1); // let systemd/runit restart the process
}

if (isEntryPoint(import.meta.url)) runMain(main);
