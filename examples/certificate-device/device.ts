/**
 * A device that authenticates with its X.509 certificate and applies updates with fwup.
 *
 * Real device:  NH_URL=devices.nerves-hub.org NH_CERT_FILE=… NH_KEY_FILE=… npx tsx examples/certificate-device/device.ts
 * Self-test:    npx tsx examples/certificate-device/device.ts --self-test
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FileApplier,
  FileCertificateProvider,
  FwupApplier,
  NervesHubLink,
  createDefaultUpdateClient,
  readFirmwareMetadata,
} from 'nerves-hub-link';
import type { FirmwareApplier, WireFirmwareMeta, Logger, UpdateOutcome } from 'nerves-hub-link';
import { NervesHubTestServer, createFirmware, createFwupKeyPair } from 'nerves-hub-link/testing';
import { consoleLogger, isEntryPoint, runMain, selfTestLogger, selfTestRequested, statusesSeen, waitForStatus, withTimeout } from '../_support/self-test-kit.js';

/** Everything the device needs; on a real device it comes from the environment (see {@link configFromEnv}). */
export interface DeviceConfig {
  /** NervesHub device host or URL, e.g. `devices.nerves-hub.org` (the socket path is added). */
  url: string;
  certFile: string;
  keyFile: string;
  /** CA bundle of the server; omit for a server with a publicly trusted certificate. */
  serverCaFile?: string;
  /** fwup public keys (base64). Empty: ask the server for the org's keys at join. */
  fwupPublicKeys: string[];
  /** The running firmware, as NervesHub knows it. */
  firmware: WireFirmwareMeta;
  /** Where verified firmware goes. */
  applier: FirmwareApplier;
  /** Journal and download cache (survives reboots). */
  stateDir: string;
  reboot: () => void | Promise<void>;
  logger?: Logger;
}

/** Wires the device: certificate auth, default update client (apply anything not already running), cached strategy. */
export function createDevice(config: DeviceConfig): NervesHubLink {
  const provider = new FileCertificateProvider({
    certFile: config.certFile,
    keyFile: config.keyFile,
    ...(config.serverCaFile ? { serverCaFile: config.serverCaFile } : {}),
  });
  return new NervesHubLink({
    socket: {
      url: config.url,
      auth: { type: 'certificate', provider },
      firmware: config.firmware,
      fwupPublicKeys: config.fwupPublicKeys,
    },
    client: createDefaultUpdateClient({ currentFirmwareUuid: config.firmware.uuid, reboot: config.reboot }),
    applier: config.applier,
    update: {
      strategy: 'cached',
      stateDir: config.stateDir,
    },
    ...(config.logger ? { logger: config.logger } : {}),
  });
}

/** Reads the configuration of a real Nerves-style device from environment variables. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): DeviceConfig {
  const need = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`set ${name}`);
    return value;
  };
  return {
    url: env.NH_URL ?? 'devices.nerves-hub.org',
    certFile: need('NH_CERT_FILE'),
    keyFile: need('NH_KEY_FILE'),
    ...(env.NH_SERVER_CA_FILE ? { serverCaFile: env.NH_SERVER_CA_FILE } : {}),
    fwupPublicKeys: (env.NH_FWUP_PUBLIC_KEYS ?? '').split(',').filter(Boolean),
    // On Nerves these are the `nerves_fw_*` U-Boot variables (`fw_printenv`).
    firmware: {
      uuid: need('NERVES_FW_UUID'),
      product: need('NERVES_FW_PRODUCT'),
      version: need('NERVES_FW_VERSION'),
      platform: env.NERVES_FW_PLATFORM ?? 'rpi4',
      architecture: env.NERVES_FW_ARCHITECTURE ?? 'arm',
    },
    applier: new FwupApplier({ devicePath: env.NH_FWUP_DEVICE ?? '/dev/mmcblk0', task: env.NH_FWUP_TASK ?? 'upgrade' }),
    stateDir: env.NH_STATE_DIR ?? '/data/nerves-hub-link',
    reboot: () => {
      console.log('update applied: rebooting');
      // A real device would run `reboot` here (e.g. execFileSync('reboot')).
    },
    logger: consoleLogger,
  };
}

/** What {@link selfTest} observed. */
export interface SelfTestReport {
  outcome: UpdateOutcome;
  /** `status_update` statuses the server received, in order. */
  statuses: string[];
  /** The target file holds exactly the pushed archive. */
  targetMatches: boolean;
  rebooted: boolean;
}

/**
 * Runs the example against a local {@link NervesHubTestServer}: issues a device certificate, writes
 * it to files, connects, pushes a signed firmware and waits for the update to complete. The
 * applier is a `FileApplier` (no fwup or block device needed). Throws if anything is off.
 */
export async function selfTest(): Promise<SelfTestReport> {
  const dir = await mkdtemp(join(tmpdir(), 'nhl-example-cert-'));
  const fwupKey = createFwupKeyPair();
  const server = await NervesHubTestServer.start({ fwupPublicKeys: [fwupKey.publicKey] });
  let link: NervesHubLink | undefined;
  try {
    const identifier = `example-${randomUUID().slice(0, 8)}`;
    const cert = await server.issueDeviceCertificate(identifier);
    await writeFile(join(dir, 'cert.pem'), cert.certPem);
    await writeFile(join(dir, 'key.pem'), cert.keyPem, { mode: 0o600 });
    await writeFile(join(dir, 'server-ca.pem'), server.serverCaPem);
    const target = join(dir, 'firmware.fw');
    let rebooted = false;
    const device = createDevice({
      url: server.url,
      certFile: join(dir, 'cert.pem'),
      keyFile: join(dir, 'key.pem'),
      serverCaFile: join(dir, 'server-ca.pem'),
      fwupPublicKeys: [], // take the org's keys from the server at join, like a fresh device
      firmware: { uuid: randomUUID(), product: 'example', version: '1.0.0', platform: 'host', architecture: 'x86_64' },
      applier: new FileApplier({ path: target }),
      stateDir: join(dir, 'state'),
      reboot: () => void (rebooted = true),
      ...selfTestLogger(),
    });
    link = device;
    const outcome = new Promise<UpdateOutcome>((resolve) => device.onUpdateOutcome(resolve));
    // The org's fwup keys follow the join; an offer that arrives before them is refused.
    const keysArrived = new Promise((resolve) => device.socket.once('fwupPublicKeys', resolve));
    device.start();
    await server.waitForJoin(identifier);
    await keysArrived;

    const firmware = await createFirmware({
      resources: { 'rootfs.img': new TextEncoder().encode('version 1.1.0 root filesystem') },
      meta: { product: 'example', version: '1.1.0', platform: 'host', architecture: 'x86_64' },
      privateKey: fwupKey.privateKey,
    });
    const meta = await readFirmwareMetadata(firmware);
    server.pushUpdate(identifier, {
      firmwareUrl: server.hostFirmware('example-1.1.0.fw', firmware),
      firmwareMeta: { uuid: meta.uuid, product: 'example', version: '1.1.0' },
      size: firmware.length,
    });
    const result = await withTimeout(outcome, 10_000, 'update outcome');
    if (result.status === 'completed') await waitForStatus(server, identifier, 'completed'); // the outcome can beat the frame to the server
    const statuses = statusesSeen(server, identifier).map((s) => s.status);
    const report: SelfTestReport = {
      outcome: result,
      statuses,
      targetMatches: Buffer.from(await readFile(target)).equals(Buffer.from(firmware)),
      rebooted,
    };
    if (result.status !== 'completed' || !report.targetMatches || !rebooted || statuses.join() !== 'received,started,completed') {
      throw new Error(`self-test failed: ${JSON.stringify(report)}`);
    }
    return report;
  } finally {
    await link?.stop();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (selfTestRequested()) {
    const report = await selfTest();
    console.log(`self-test passed: ${report.outcome.status}, statuses ${report.statuses.join(' → ')}`);
    return;
  }
  const link = createDevice(configFromEnv());
  link.socket.on('connected', () => console.log('connected to NervesHub'));
  link.socket.on('disconnected', (info) => console.log(`disconnected: ${info.reason}`));
  link.onUpdateOutcome((o) => console.log(`update ${o.uuid}: ${o.status}${o.reason ? ` (${o.reason})` : ''}`));
  link.start();
  const stop = (): void => void link.stop().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (isEntryPoint(import.meta.url)) runMain(main);
