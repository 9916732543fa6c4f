import { X509Certificate } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { rootCertificates } from 'node:tls';
import { FileCertificateProvider } from '../auth/file-certificate-provider.js';
import { Downloader } from '../download/downloader.js';
import type { Logger } from '../logging/logger.js';
import type { NervesHubLinkOptions } from '../link/nerves-hub-link.js';
import type { SocketAuth } from '../socket/options.js';
import { FIRMWARE_VERIFIER_DEFAULTS } from '../firmware/firmware-verifier.js';
import { FileApplier } from '../update/appliers/file-applier.js';
import { FwupApplier } from '../update/appliers/fwup-applier.js';
import type { FirmwareApplier } from '../update/firmware-applier.js';
import { deltaCapability, type DeltaCapability } from '../update/delta-capability.js';
import type { DeltaSource } from '../delta/delta-source.js';
import { rawDeltaSource } from '../delta/raw-delta-source.js';
import { silentLogger } from '../logging/logger.js';
import type { AgentConfig } from './agent-config.js';
import { AgentConfigError } from './agent-config.js';
import { agentOpenSslConfigFile } from './openssl-reexec.js';

/** Socket settings of {@link NervesHubLinkOptions}, as the agent builds them. */
export type AgentSocketOptions = NervesHubLinkOptions['socket'];

/** Reads `serverCaFile` (PEM), naming the key when it cannot be read. */
export async function readServerCa(config: AgentConfig): Promise<string | undefined> {
  if (config.serverCaFile === undefined) return undefined;
  try {
    const text = await readFile(config.serverCaFile, 'utf8');
    if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM certificate in it');
    return text;
  } catch (error) {
    throw new AgentConfigError('serverCaFile', `cannot use ${config.serverCaFile}: ${(error as Error).message}`);
  }
}

/**
 * The socket auth of a config. The PKCS#11 and NervesKey providers are loaded only for their `auth.type`.
 * @throws NervesHubError `NH_PKCS11_URI_INVALID` for a bad `auth.uri`
 */
export async function agentAuth(config: AgentConfig): Promise<SocketAuth> {
  const auth = config.auth;
  switch (auth.type) {
    case 'certificate':
      return {
        type: 'certificate',
        provider: new FileCertificateProvider({
          certFile: auth.certFile,
          keyFile: auth.keyFile,
          ...(auth.signerCertFile ? { signerCertFile: auth.signerCertFile } : {}),
          ...(config.serverCaFile ? { serverCaFile: config.serverCaFile } : {}),
        }),
      };
    case 'shared-secret':
      return { type: 'shared-secret', key: auth.key, secret: auth.secret, identifier: auth.identifier };
    case 'nerveskey': {
      const { NervesKeyCertificateProvider } = await import('../atecc508a/nerveskey-certificate-provider.js');
      return {
        type: 'certificate',
        provider: new NervesKeyCertificateProvider({
          i2cBus: auth.i2cBus,
          ...(auth.i2cAddress !== undefined ? { address: auth.i2cAddress } : {}),
          ...(auth.certificateSet ? { certificateSet: auth.certificateSet } : {}),
          signing: { uri: auth.uri, modulePath: auth.modulePath },
        }),
      };
    }
    case 'pkcs11': {
      const { Pkcs11CertificateProvider } = await import('../pkcs11/pkcs11-certificate-provider.js');
      return {
        type: 'certificate',
        provider: new Pkcs11CertificateProvider({
          uri: auth.uri,
          modulePath: auth.modulePath,
          certFile: auth.certFile,
          ...(auth.pinEnv ? { pinEnv: auth.pinEnv } : {}),
          ...(auth.pinFile ? { pinFile: auth.pinFile } : {}),
          ...(config.serverCaFile ? { serverCaFile: config.serverCaFile } : {}),
          openSslConfigFile: agentOpenSslConfigFile(config),
        }),
      };
    }
  }
}

/** Asks `fwup --version` once (the join param `fwup_version`); undefined when fwup cannot be run. */
function fwupVersionReader(fwupPath: string): () => Promise<string> {
  let cached: Promise<string> | undefined;
  return () =>
    (cached ??= new Promise((resolve) => {
      execFile(fwupPath, ['--version'], { timeout: 5000 }, (error, stdout) => resolve(error ? '' : String(stdout).trim()));
    }));
}

/** Checks `proxy` is an `http://` URL (the socket and the downloader tunnel with HTTP CONNECT). */
function checkProxy(proxy: string | undefined): void {
  if (proxy === undefined) return;
  let url: URL | undefined;
  try {
    url = new URL(proxy);
  } catch {
    url = undefined;
  }
  if (url?.protocol !== 'http:') throw new AgentConfigError('proxy', 'must be an http:// URL (http://[user:pass@]host:port, tunnelled with HTTP CONNECT)');
}

/** Builds the socket options the agent (and `doctor`'s join check) connect with. @throws AgentConfigError */
export async function agentSocketOptions(config: AgentConfig): Promise<AgentSocketOptions> {
  checkProxy(config.proxy);
  const serverCa = await readServerCa(config);
  // Without fwup, a delta source speaks for the fwup version whose archives the SDK reads (NervesHub needs one to send deltas).
  const fwupVersion =
    config.fwupVersion ??
    (config.apply.type === 'fwup' ? fwupVersionReader(config.apply.fwupPath ?? 'fwup') : config.deltaSource !== undefined ? FIRMWARE_VERIFIER_DEFAULTS.fwupVersion : undefined);
  return {
    url: config.url,
    auth: await agentAuth(config),
    firmware: config.firmware,
    fwupPublicKeys: config.fwupPublicKeys,
    ...(config.archivePublicKeys ? { archivePublicKeys: config.archivePublicKeys } : {}),
    ...(config.requestArchivePublicKeys ? { requestArchivePublicKeys: true } : {}),
    ...(fwupVersion !== undefined ? { fwupVersion } : {}),
    tls: { ...(serverCa ? { ca: serverCa } : {}), ...(config.serverName ? { servername: config.serverName } : {}) },
    ...(config.proxy ? { proxy: config.proxy } : {}),
    ...(config.heartbeatIntervalMs !== undefined ? { heartbeatIntervalMs: config.heartbeatIntervalMs } : {}),
  };
}

/**
 * The explicit delta source `device.json` configures (`deltaSource`), for the update manager.
 * `{ type: "file" }` is not one: it is the file applier's own (its `useAsDeltaSource`), offered
 * only while that file is a firmware archive.
 */
export function agentDeltaSource(config: AgentConfig): DeltaSource | undefined {
  const source = config.deltaSource;
  if (source?.type === 'archive') return { archivePath: source.path };
  if (source?.type === 'raw') return rawDeltaSource(source.path, source.task !== undefined ? { task: source.task } : {});
  return undefined;
}

/**
 * Whether the device this config describes can take NervesHub delta firmware, and why: the same
 * {@link deltaCapability} the running agent's update manager answers with, for the same applier
 * and delta source, so `doctor`, `run` and the library always agree.
 */
export function agentDeltaCapability(config: AgentConfig, logger: Logger = silentLogger): DeltaCapability {
  return deltaCapability(agentApplier(config, logger), { deltaSource: agentDeltaSource(config) });
}

/** The applier a config names. */
export function agentApplier(config: AgentConfig, logger: Logger): FirmwareApplier {
  const apply = config.apply;
  // Its last file is a delta source only when device.json says so: only the operator knows it is the running firmware.
  if (apply.type === 'file') return new FileApplier({ path: apply.path, useAsDeltaSource: config.deltaSource?.type === 'file' });
  return new FwupApplier({
    devicePath: apply.devicePath,
    task: apply.task,
    ...(apply.fwupPath ? { fwupPath: apply.fwupPath } : {}),
    ...(apply.extraArgs ? { extraArgs: apply.extraArgs } : {}),
    logger,
  });
}

/**
 * The firmware downloader: Node's public roots plus `serverCaFile` (a private NervesHub often
 * serves firmware from the same host; S3-style hosts need the public roots).
 */
export function agentDownloader(config: AgentConfig, serverCa: string | undefined, logger: Logger): Downloader {
  return new Downloader({
    ...(serverCa ? { ca: [...rootCertificates, serverCa] } : {}),
    ...(config.proxy ? { proxy: config.proxy } : {}),
    ...(config.allowInsecureHttpDownloadsForTesting ? { allowInsecureHttpDownloadsForTesting: true } : {}),
    logger,
  });
}

/** Who the device is, for the startup line (no secrets: never the key, secret or PIN). */
export interface DeviceIdentity {
  /** Certificate CN or shared-secret identifier. */
  identifier: string;
  auth: AgentConfig['auth']['type'];
  /** Certificate expiry (ISO), for certificate auth. */
  certificateValidTo?: string;
}

/** Reads the device identity from the config (the certificate CN for certificate auth). */
export async function deviceIdentity(config: AgentConfig): Promise<DeviceIdentity> {
  const auth = config.auth;
  if (auth.type === 'shared-secret') return { identifier: auth.identifier, auth: auth.type };
  // The chip is read at the first connection attempt, where a failure is retried, not at startup.
  if (auth.type === 'nerveskey') return { identifier: `NervesKey on /dev/i2c-${auth.i2cBus}`, auth: auth.type };
  const cert = await readDeviceCertificate(auth.certFile);
  return {
    identifier: commonName(cert) ?? '(certificate without CN)',
    auth: auth.type,
    certificateValidTo: new Date(cert.validTo).toISOString(),
  };
}

/** Reads the first certificate of a PEM/DER file. @throws AgentConfigError naming `auth.certFile` */
export async function readDeviceCertificate(file: string): Promise<X509Certificate> {
  try {
    return new X509Certificate(await readFile(file));
  } catch (error) {
    throw new AgentConfigError('auth.certFile', `cannot read a certificate from ${file}: ${(error as Error).message}`);
  }
}

/** The CN of a certificate's subject, if any. */
export function commonName(cert: X509Certificate): string | undefined {
  return /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
}
