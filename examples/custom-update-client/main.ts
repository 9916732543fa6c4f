/**
 * Wires the maintenance-window / consent client of client.ts to a certificate device.
 *
 * Real device:  NH_CERT_FILE=… NH_KEY_FILE=… NERVES_FW_UUID=… npx tsx examples/custom-update-client/main.ts
 *               (answers the consent prompt on the terminal)
 * Self-test:    npx tsx examples/custom-update-client/main.ts --self-test
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { FileApplier, FileCertificateProvider, NervesHubLink, readFirmwareMetadata } from 'nerves-hub-link';
import type { UpdateInfo, UpdateOutcome } from 'nerves-hub-link';
import { NervesHubTestServer, createFirmware, createFwupKeyPair } from 'nerves-hub-link/testing';
import { consoleLogger, isEntryPoint, runMain, selfTestLogger, selfTestRequested, waitForStatus, withTimeout } from '../_support/self-test-kit.js';
import { createMaintenanceWindowClient } from './client.js';

/** What {@link selfTest} observed, one entry per offer. */
export interface SelfTestReport {
  /** Offer 1, at 13:00 (outside 02:00–04:00): rescheduled for 13 h. */
  outsideWindow: { outcome: UpdateOutcome; delayFor: number | undefined };
  /** Offer 2, at 02:30, the user says no: ignored with the reason. */
  declined: { outcome: UpdateOutcome; reason: string | undefined };
  /** Offer 3, at 02:30, the user says yes: applied. */
  accepted: { outcome: UpdateOutcome; targetMatches: boolean; progress: Array<[string, number]> };
  consentQuestions: number;
}

/**
 * Against a local {@link NervesHubTestServer}: the same firmware is offered three times, with the
 * clock and the user's answer set by the test, and the statuses the server received are checked.
 */
export async function selfTest(): Promise<SelfTestReport> {
  const dir = await mkdtemp(join(tmpdir(), 'nhl-example-client-'));
  const fwupKey = createFwupKeyPair();
  const server = await NervesHubTestServer.start({ fwupPublicKeys: [fwupKey.publicKey] });
  let link: NervesHubLink | undefined;
  try {
    const identifier = `kiosk-${randomUUID().slice(0, 8)}`;
    const cert = await server.issueDeviceCertificate(identifier);
    const target = join(dir, 'firmware.fw');
    let clock = new Date(2026, 0, 15, 13, 0);
    let userSays = false;
    let consentQuestions = 0;
    const progress: Array<[string, number]> = [];
    const client = createMaintenanceWindowClient({
      currentFirmwareUuid: randomUUID(),
      window: { startHour: 2, endHour: 4 },
      askUser: async () => {
        consentQuestions += 1;
        return userSays;
      },
      onProgress: (stage, percent) => progress.push([stage, percent]),
      reboot: () => {},
      now: () => clock,
    });
    const device = new NervesHubLink({
      socket: {
        url: server.url,
        auth: { type: 'certificate', provider: { getTlsMaterial: async () => ({ certificateChain: [cert.certPem], key: cert.keyPem }) } },
        firmware: { uuid: randomUUID(), product: 'kiosk', version: '1.0.0', platform: 'host', architecture: 'x86_64' },
        tls: { ca: server.serverCaPem },
      },
      client,
      applier: new FileApplier({ path: target }),
      update: { progressIntervalMs: 0 },
      ...selfTestLogger(),
    });
    const outcomes: UpdateOutcome[] = [];
    const waiters: Array<() => void> = [];
    link = device;
    device.onUpdateOutcome((o) => {
      outcomes.push(o);
      waiters.shift()?.();
    });
    const nextOutcome = async (): Promise<UpdateOutcome> => {
      const index = outcomes.length;
      await withTimeout(new Promise<void>((resolve) => waiters.push(resolve)), 10_000, 'update outcome');
      return outcomes[index] as UpdateOutcome;
    };
    // The org's fwup keys follow the join; an offer that arrives before them is refused.
    const keysArrived = new Promise((resolve) => device.socket.once('fwupPublicKeys', resolve));
    device.start();
    await server.waitForJoin(identifier);
    await keysArrived;

    const firmware = await createFirmware({
      resources: { 'kiosk.img': new Uint8Array(256 * 1024).fill(7) },
      meta: { product: 'kiosk', version: '1.1.0' },
      privateKey: fwupKey.privateKey,
    });
    const { uuid } = await readFirmwareMetadata(firmware);
    const offer = { firmwareUrl: server.hostFirmware('kiosk-1.1.0.fw', firmware), firmwareMeta: { uuid, product: 'kiosk', version: '1.1.0' } };
    // Pushes the offer; resolves with the outcome and the final status the server received.
    const offerOnce = async (finalStatus: string) => {
      const fromIndex = server.frames.length;
      const pending = nextOutcome();
      server.pushUpdate(identifier, offer);
      return { outcome: await pending, status: await waitForStatus(server, identifier, finalStatus, fromIndex) };
    };

    const first = await offerOnce('rescheduled');
    const outsideWindow = { outcome: first.outcome, delayFor: first.status.delay_for };

    clock = new Date(2026, 0, 16, 2, 30);
    userSays = false;
    const second = await offerOnce('ignored');
    const declined = { outcome: second.outcome, reason: second.status.reason };

    userSays = true;
    const acceptedOutcome = (await offerOnce('completed')).outcome;
    const accepted = { outcome: acceptedOutcome, targetMatches: Buffer.from(await readFile(target)).equals(Buffer.from(firmware)), progress };

    const report: SelfTestReport = { outsideWindow, declined, accepted, consentQuestions };
    const ok =
      outsideWindow.outcome.status === 'rescheduled' &&
      outsideWindow.delayFor === 13 * 60 &&
      declined.outcome.status === 'ignored' &&
      declined.reason === 'declined by the user' &&
      accepted.outcome.status === 'completed' &&
      accepted.targetMatches &&
      progress.some(([stage, percent]) => stage === 'updating' && percent === 100) &&
      consentQuestions === 2;
    if (!ok) throw new Error(`self-test failed: ${JSON.stringify(report)}`);
    return report;
  } finally {
    await link?.stop();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (selfTestRequested()) {
    const r = await selfTest();
    console.log(`self-test passed: ${r.outsideWindow.outcome.status} (${r.outsideWindow.delayFor} min), ${r.declined.outcome.status} (${r.declined.reason}), ${r.accepted.outcome.status}`);
    return;
  }
  const env = process.env;
  const need = (name: string): string => env[name] || (() => { throw new Error(`set ${name}`); })();
  const terminal = createInterface({ input: process.stdin, output: process.stdout });
  const client = createMaintenanceWindowClient({
    currentFirmwareUuid: need('NERVES_FW_UUID'),
    window: { startHour: Number(env.NH_WINDOW_START ?? 2), endHour: Number(env.NH_WINDOW_END ?? 4) },
    askUser: async (info: UpdateInfo) => /^y/i.test(await terminal.question(`Install ${info.firmwareMeta.version ?? info.firmwareMeta.uuid}? [y/N] `)),
    onProgress: (stage, percent) => console.log(`${stage} ${percent}%`),
    reboot: () => console.log('rebooting (a real device would run `reboot`)'),
  });
  const link = new NervesHubLink({
    socket: {
      url: env.NH_URL ?? 'devices.nerves-hub.org',
      auth: { type: 'certificate', provider: new FileCertificateProvider({ certFile: need('NH_CERT_FILE'), keyFile: need('NH_KEY_FILE') }) },
      firmware: { uuid: need('NERVES_FW_UUID'), product: env.NERVES_FW_PRODUCT ?? 'kiosk', version: env.NERVES_FW_VERSION ?? '0.0.0', platform: 'host', architecture: 'x86_64' },
    },
    client,
    applier: new FileApplier({ path: env.NH_TARGET_FILE ?? 'firmware.fw' }),
    logger: consoleLogger,
  });
  link.start();
  process.once('SIGINT', () => void link.stop().then(() => terminal.close()));
}

if (isEntryPoint(import.meta.url)) runMain(main);
