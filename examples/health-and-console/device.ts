/**
 * A device that reports its health (with an app metric and an app check) and offers NervesHub's
 * web console a Node REPL, plus file uploads into one directory.
 *
 * Real device:  NH_URL=devices.nerves-hub.org NH_CERT_FILE=… NH_KEY_FILE=… NERVES_FW_UUID=… npx tsx examples/health-and-console/device.ts
 * Self-test:    npx tsx examples/health-and-console/device.ts --self-test
 *
 * SECURITY: with the console on, anyone with console rights on your NervesHub organisation can
 * run code in this process with its rights. Turn it on only where that is intended.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileApplier, FileCertificateProvider, NervesHubLink } from 'nerves-hub-link';
import type { WireFirmwareMeta, HealthCheckResult, Logger } from 'nerves-hub-link';
import { NervesHubTestServer, consoleInput, requestHealthCheck, uploadFile, waitForConsoleOutput } from 'nerves-hub-link/testing';
import { consoleLogger, isEntryPoint, runMain, selfTestLogger, selfTestRequested, withTimeout } from '../_support/self-test-kit.js';

/** The app's own state the health report and the console expose. */
export class SensorApp {
  readings = 0;
  lastReadingAt = Date.now();
  /** Pretend to read a sensor. */
  read(): number {
    this.readings += 1;
    this.lastReadingAt = Date.now();
    return 21.5;
  }
  /** A health check: the sensor answered within the last minute. */
  check(): HealthCheckResult {
    const age = Date.now() - this.lastReadingAt;
    return { pass: age < 60_000, note: `last reading ${Math.round(age / 1000)} s ago` };
  }
}

/** What the device needs. */
export interface DeviceConfig {
  url: string;
  certFile: string;
  keyFile: string;
  serverCaFile?: string;
  firmware: WireFirmwareMeta;
  stateDir: string;
  /** Where console uploads land. */
  uploadDir: string;
  app: SensorApp;
  logger?: Logger;
}

/** Wires the device: health with the app's metric and check, geo off, the console on with uploads. */
export function createDevice(config: DeviceConfig): NervesHubLink {
  const provider = new FileCertificateProvider({ certFile: config.certFile, keyFile: config.keyFile, ...(config.serverCaFile ? { serverCaFile: config.serverCaFile } : {}) });
  return new NervesHubLink({
    socket: { url: config.url, auth: { type: 'certificate', provider }, firmware: config.firmware },
    client: { updateAvailable: () => ({ action: 'ignore', reason: 'this example does not update' }) },
    applier: new FileApplier({ path: join(config.stateDir, 'firmware.fw') }),
    update: { stateDir: config.stateDir },
    extensions: {
      health: {
        diskMount: '/',
        metrics: { sensor_readings_total: () => config.app.readings },
        checks: { sensor: () => config.app.check() },
        metadata: { app: 'sensor-app' },
      },
      geo: false,
    },
    console: { uploadDir: config.uploadDir, timeoutSeconds: 600 },
    ...(config.logger ? { logger: config.logger } : {}),
  });
}

/** What {@link selfTest} observed. */
export interface SelfTestReport {
  /** The health report's app metric and check. */
  readings: number;
  sensorCheck: HealthCheckResult;
  /** Metric names in the report. */
  metrics: string[];
  /** What the REPL printed for the expression typed into the console. */
  replAnswer: boolean;
  /** The uploaded file arrived intact. */
  uploadMatches: boolean;
}

/** Runs the example against a local NervesHubTestServer: health check, a REPL line, an upload. */
export async function selfTest(): Promise<SelfTestReport> {
  const dir = await mkdtemp(join(tmpdir(), 'nhl-example-health-'));
  const server = await NervesHubTestServer.start({ extensions: ['health'] });
  let link: NervesHubLink | undefined;
  try {
    const identifier = `example-${randomUUID().slice(0, 8)}`;
    const cert = await server.issueDeviceCertificate(identifier);
    await writeFile(join(dir, 'cert.pem'), cert.certPem);
    await writeFile(join(dir, 'key.pem'), cert.keyPem, { mode: 0o600 });
    await writeFile(join(dir, 'server-ca.pem'), server.serverCaPem);
    const uploadDir = join(dir, 'uploads');
    await mkdir(uploadDir);
    const app = new SensorApp();
    app.read();
    app.read();
    link = createDevice({
      url: server.url,
      certFile: join(dir, 'cert.pem'),
      keyFile: join(dir, 'key.pem'),
      serverCaFile: join(dir, 'server-ca.pem'),
      firmware: { uuid: randomUUID(), product: 'example', version: '1.0.0', platform: 'host', architecture: 'x86_64' },
      stateDir: join(dir, 'state'),
      uploadDir,
      app,
      ...selfTestLogger(),
    });
    link.start();
    await server.waitForJoin(identifier);
    await server.waitForFrame((f) => f.identifier === identifier && f.event === 'health:attached', { timeoutMs: 10_000 });
    const report = await withTimeout(requestHealthCheck(server, identifier), 10_000, 'health report');
    const metrics = report.metrics as Record<string, number>;
    const checks = report.checks as Record<string, HealthCheckResult>;

    await server.waitForFrame((f) => f.identifier === identifier && f.topic === 'console' && f.event === 'phx_join');
    await new Promise((r) => setTimeout(r, 50)); // the join reply is on its way back
    consoleInput(server, identifier, '"the answer is " + (6 * 7)\r');
    const output = await withTimeout(waitForConsoleOutput(server, identifier, 'the answer is 42'), 10_000, 'REPL output');

    const upload = Buffer.from('threshold=30\n');
    uploadFile(server, identifier, 'settings.conf', upload);
    const deadline = Date.now() + 5000;
    let uploaded: Buffer | undefined;
    while (!uploaded && Date.now() < deadline) {
      uploaded = await readFile(join(uploadDir, 'settings.conf')).catch(() => undefined);
      if (!uploaded) await new Promise((r) => setTimeout(r, 20));
    }
    const result: SelfTestReport = {
      readings: metrics.sensor_readings_total ?? -1,
      sensorCheck: checks.sensor ?? { pass: false, note: 'missing' },
      metrics: Object.keys(metrics),
      replAnswer: output.includes('the answer is 42'),
      uploadMatches: uploaded?.equals(upload) === true,
    };
    if (result.readings !== 2 || !result.sensorCheck.pass || !result.replAnswer || !result.uploadMatches) throw new Error(`self-test failed: ${JSON.stringify(result)}`);
    return result;
  } finally {
    await link?.stop();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (selfTestRequested()) {
    const report = await selfTest();
    console.log(`self-test passed: ${report.metrics.length} metrics, sensor check ${report.sensorCheck.note}, REPL and upload ok`);
    return;
  }
  const need = (name: string): string => {
    const value = process.env[name];
    if (!value) throw new Error(`set ${name}`);
    return value;
  };
  const app = new SensorApp();
  setInterval(() => app.read(), 10_000).unref();
  const link = createDevice({
    url: process.env.NH_URL ?? 'devices.nerves-hub.org',
    certFile: need('NH_CERT_FILE'),
    keyFile: need('NH_KEY_FILE'),
    ...(process.env.NH_SERVER_CA_FILE ? { serverCaFile: process.env.NH_SERVER_CA_FILE } : {}),
    firmware: { uuid: need('NERVES_FW_UUID'), product: process.env.NERVES_FW_PRODUCT ?? 'sensor-app', version: process.env.NERVES_FW_VERSION ?? '1.0.0', platform: 'rpi4', architecture: 'arm' },
    stateDir: process.env.NH_STATE_DIR ?? '/data/nerves-hub-link',
    uploadDir: process.env.NH_UPLOAD_DIR ?? '/data/uploads',
    app,
    logger: consoleLogger,
  });
  link.start();
  const stop = (): void => void link.stop().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (isEntryPoint(import.meta.url)) runMain(main);
