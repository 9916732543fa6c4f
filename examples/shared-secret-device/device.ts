/**
 * A device that authenticates with an NH1 shared secret: a product key (`nhp_…`, any serial may
 * connect and is registered on first contact) or a device key (`nhd_…`, bound to one serial).
 *
 * Real device:  NH_URL=devices.nerves-hub.org NH_KEY=nhp_… NH_SECRET=… NH_SERIAL=… npx tsx examples/shared-secret-device/device.ts
 * Self-test:    npx tsx examples/shared-secret-device/device.ts --self-test
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileApplier, NervesHubLink, createDefaultUpdateClient, readFirmwareMetadata } from 'nerves-hub-link';
import type { WireFirmwareMeta, Logger, NervesHubSocketOptions, UpdateOutcome } from 'nerves-hub-link';
import { NervesHubTestServer, createFirmware, createFwupKeyPair } from 'nerves-hub-link/testing';
import { consoleLogger, isEntryPoint, runMain, selfTestLogger, selfTestRequested, statusesSeen, waitForStatus, withTimeout } from '../_support/self-test-kit.js';

/** Everything the device needs. */
export interface SharedSecretDeviceConfig {
  /** NervesHub device host or URL; with no path the SDK uses `/device-socket/websocket` for NH1. */
  url: string;
  /** `nhp_…` product key or `nhd_…` device key (NervesHub UI: product → settings → shared secrets). */
  key: string;
  /** Its secret. The SDK never logs it; keep it out of your own logs too. */
  secret: string;
  /** The device serial number (becomes the device identifier in NervesHub). */
  identifier: string;
  firmware: WireFirmwareMeta;
  /** Where the new firmware goes (a file in this example; `FwupApplier` on a real device). */
  targetFile: string;
  fwupPublicKeys?: string[];
  /** Server CA (test servers only; NervesHub's certificate is publicly trusted). */
  serverCa?: string;
  /** Reboot into the new firmware (default: print a line). */
  reboot?: () => void | Promise<void>;
  logger?: Logger;
}

/**
 * Wires the device. The SDK signs fresh `x-nh-*` headers (PBKDF2 + HMAC, NH1) at every connection
 * attempt, so reconnects after a long outage still present a signature younger than the server's
 * 90 s limit.
 */
export function createSharedSecretDevice(config: SharedSecretDeviceConfig): NervesHubLink {
  const socket: NervesHubSocketOptions = {
    url: config.url,
    auth: { type: 'shared-secret', key: config.key, secret: config.secret, identifier: config.identifier },
    firmware: config.firmware,
    fwupPublicKeys: config.fwupPublicKeys ?? [],
    ...(config.serverCa ? { tls: { ca: config.serverCa } } : {}),
  };
  return new NervesHubLink({
    socket,
    client: createDefaultUpdateClient({
      currentFirmwareUuid: config.firmware.uuid,
      reboot: config.reboot ?? (() => console.log('rebooting into the new firmware')),
    }),
    applier: new FileApplier({ path: config.targetFile }),
    ...(config.logger ? { logger: config.logger } : {}),
  });
}

/** What {@link selfTest} observed. */
export interface SelfTestReport {
  outcome: UpdateOutcome;
  statuses: string[];
  /** How the server says the device authenticated. */
  authMethod: string | undefined;
  targetMatches: boolean;
  /** A connection attempt with a wrong secret was refused (and the device never joined). */
  wrongSecretRefused: boolean;
}

/**
 * Against a local {@link NervesHubTestServer} with a product key: connects a new serial (the
 * server registers it), pushes a signed update, checks the written file and the statuses; then
 * shows that a wrong secret is refused with `NH_SOCKET_UNAUTHORIZED`.
 */
export async function selfTest(): Promise<SelfTestReport> {
  const dir = await mkdtemp(join(tmpdir(), 'nhl-example-nh1-'));
  const fwupKey = createFwupKeyPair();
  const server = await NervesHubTestServer.start({ fwupPublicKeys: [fwupKey.publicKey] });
  const key = `nhp_${randomBytes(8).toString('hex')}`;
  const secret = randomBytes(24).toString('base64url');
  server.addProductKey(key, secret);
  const links: NervesHubLink[] = [];
  try {
    const identifier = `serial-${randomUUID().slice(0, 8)}`;
    const targetFile = join(dir, 'firmware.fw');
    let reboots = 0;
    const base = {
      url: server.url,
      key,
      identifier,
      firmware: { uuid: randomUUID(), product: 'example', version: '1.0.0', platform: 'host', architecture: 'x86_64' },
      targetFile,
      fwupPublicKeys: [fwupKey.publicKey], // configured on the device (no need to wait for the org's keys)
      serverCa: server.serverCaPem,
      reboot: () => void (reboots += 1),
      ...selfTestLogger(),
    };
    const link = createSharedSecretDevice({ ...base, secret });
    links.push(link);
    const outcome = new Promise<UpdateOutcome>((resolve) => link.onUpdateOutcome(resolve));
    link.start();
    await server.waitForJoin(identifier);
    const authMethod = server.connections().find((c) => c.identifier === identifier)?.authMethod;

    const firmware = await createFirmware({
      resources: { 'app.img': new TextEncoder().encode('app 2.0.0') },
      meta: { product: 'example', version: '2.0.0' },
      privateKey: fwupKey.privateKey,
    });
    const { uuid } = await readFirmwareMetadata(firmware);
    server.pushUpdate(identifier, { firmwareUrl: server.hostFirmware('app-2.0.0.fw', firmware), firmwareMeta: { uuid, product: 'example', version: '2.0.0' } });
    const result = await withTimeout(outcome, 10_000, 'update outcome');
    if (result.status === 'completed') await waitForStatus(server, identifier, 'completed'); // the outcome can beat the frame to the server
    const targetMatches = Buffer.from(await readFile(targetFile)).equals(Buffer.from(firmware));

    // The same serial with a wrong secret: the upgrade is refused (401) and the socket reports it.
    const impostorId = `serial-${randomUUID().slice(0, 8)}`;
    const impostor = createSharedSecretDevice({ ...base, identifier: impostorId, secret: 'not-the-secret' });
    links.push(impostor);
    const refused = new Promise<string>((resolve) => impostor.socket.on('error', (error) => resolve(error.code)));
    impostor.start();
    const code = await withTimeout(refused, 5_000, 'the refusal of a wrong secret');
    const wrongSecretRefused = code === 'NH_SOCKET_UNAUTHORIZED' && server.joinCount(impostorId) === 0;

    const report: SelfTestReport = { outcome: result, statuses: statusesSeen(server, identifier).map((s) => s.status), authMethod, targetMatches, wrongSecretRefused };
    if (result.status !== 'completed' || reboots !== 1 || report.statuses.join() !== 'received,started,completed' || !targetMatches || authMethod !== 'shared-secret' || !wrongSecretRefused) {
      throw new Error(`self-test failed: ${JSON.stringify({ ...report, refusalCode: code })}`);
    }
    return report;
  } finally {
    for (const link of links) await link.stop();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (selfTestRequested()) {
    const report = await selfTest();
    console.log(`self-test passed: ${report.outcome.status} via ${report.authMethod}, statuses ${report.statuses.join(' → ')}`);
    return;
  }
  const env = process.env;
  const need = (name: string): string => env[name] || (() => { throw new Error(`set ${name}`); })();
  const link = createSharedSecretDevice({
    url: env.NH_URL ?? 'devices.nerves-hub.org',
    key: need('NH_KEY'),
    secret: need('NH_SECRET'),
    identifier: need('NH_SERIAL'),
    firmware: { uuid: need('NERVES_FW_UUID'), product: need('NERVES_FW_PRODUCT'), version: need('NERVES_FW_VERSION'), platform: env.NERVES_FW_PLATFORM ?? 'host', architecture: env.NERVES_FW_ARCHITECTURE ?? 'x86_64' },
    targetFile: env.NH_TARGET_FILE ?? 'firmware.fw',
    fwupPublicKeys: (env.NH_FWUP_PUBLIC_KEYS ?? '').split(',').filter(Boolean),
    logger: consoleLogger,
  });
  link.socket.on('error', (error) => console.error(`${error.code}: ${error.message}`));
  link.onUpdateOutcome((o) => console.log(`update ${o.uuid}: ${o.status}`));
  link.start();
  process.once('SIGINT', () => void link.stop());
  process.once('SIGTERM', () => void link.stop());
}

if (isEntryPoint(import.meta.url)) runMain(main);
