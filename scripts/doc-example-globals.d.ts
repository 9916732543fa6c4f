// Placeholders the TSDoc and README examples take as given (see scripts/check-doc-examples.mjs):
// the values an example starts from, and a few Node functions examples use without importing.
// Each example is its own module, so an example that declares one of these names shadows it.
import type { ChildProcess, execFileSync as nodeExecFileSync } from 'node:child_process';
import type { createReadStream as nodeCreateReadStream, readFileSync as nodeReadFileSync, writeFileSync as nodeWriteFileSync } from 'node:fs';
import type { FileHandle, readFile as nodeReadFile, rm as nodeRm, unlink as nodeUnlink } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type { expect as vitestExpect } from 'vitest';
import type { ArchiveClient, ArchiveManager } from '../src/archives/archive-manager.js';
import type { Atecc508a } from '../src/atecc508a/atecc508a.js';
import type { I2cTransport } from '../src/atecc508a/i2c-transport.js';
import type { I2cBusHandle, I2cBusModule } from '../src/atecc508a/linux-i2c.js';
import type { CertificateProvider } from '../src/auth/certificate-provider.js';
import type { DeltaSourceFile } from '../src/delta/delta-source.js';
import type { Downloader } from '../src/download/downloader.js';
import type { CertificateWithKey } from '../src/provisioning/certificates.js';
import type { UpdateManagerOptions } from '../src/update/update-manager-options.js';
import type { FirmwareVerifier } from '../src/firmware/firmware-verifier.js';
import type { VerificationResult } from '../src/firmware/firmware-metadata.js';
import type { NervesHubLink } from '../src/link/nerves-hub-link.js';
import type { Logger } from '../src/logging/logger.js';
import type { WireFirmwareMeta } from '../src/protocol/wire-firmware-meta.js';
import type { UpdateInfo } from '../src/protocol/update-info.js';
import type { NervesHubSocket } from '../src/socket/nerves-hub-socket.js';
import type { TopicChannel } from '../src/socket/topic-channel.js';
import type { NervesKeyContents } from '../src/testing/nerveskey-image.js';
import type { NervesHubTestServer } from '../src/testing/server/nerves-hub-test-server.js';
import type { UpdateOffer } from '../src/testing/server/types.js';
import type { TestCertificateAuthority } from '../src/testing/test-ca.js';
import type { FirmwareApplier, ApplyContext } from '../src/update/firmware-applier.js';
import type { FwupFramingDecoder } from '../src/update/fwup-framing.js';
import type { UpdateClient } from '../src/update/update-client.js';
import type { UpdateJournal } from '../src/update/update-journal.js';
import type { UpdateManager } from '../src/update/update-manager.js';
import type { UpdateReporter } from '../src/update/update-ports.js';

declare global {
  // --- Node functions some examples call without importing them ---
  const readFileSync: typeof nodeReadFileSync;
  const writeFileSync: typeof nodeWriteFileSync;
  const createReadStream: typeof nodeCreateReadStream;
  const readFile: typeof nodeReadFile;
  const unlink: typeof nodeUnlink;
  const rm: typeof nodeRm;
  const execFileSync: typeof nodeExecFileSync;
  /** vitest's `expect`, in the testing examples. */
  const expect: typeof vitestExpect;

  // --- connections and parts an example works with ---
  const url: string;
  // --- delta updates and provisioning ---
  /** The installed firmware, as a delta source. */
  const previous: DeltaSourceFile;
  /** A VCDIFF patch as it arrives. */
  const patch: AsyncIterable<Uint8Array>;
  /** A delta firmware archive as it downloads. */
  const download: AsyncIterable<Uint8Array>;
  /** The signed length of a resource. */
  const outputBytes: number;
  const declaredLength: number;
  /** The bytes of the installed firmware. */
  const old: Uint8Array;
  const updateOptions: UpdateManagerOptions;
  const publicKeys: readonly string[];
  /** A signer CA made by `createSignerCa`. */
  const signer: CertificateWithKey;
  function askForFullFirmware(): void;
  /** A started link. */
  const link: NervesHubLink;
  const socket: NervesHubSocket;
  const server: NervesHubTestServer;
  const ca: TestCertificateAuthority;
  const channel: TopicChannel;
  const downloader: Downloader;
  const verifier: FirmwareVerifier;
  const manager: UpdateManager;
  const updateManager: UpdateManager;
  const journal: UpdateJournal;
  const client: UpdateClient;
  const applier: FirmwareApplier;
  /** The applier to use from the next update on. */
  const nextApplier: FirmwareApplier;
  const archives: ArchiveManager;
  /** The app's side of archives (`client` is the app's `UpdateClient`). */
  const archiveClient: ArchiveClient;
  /** The directory an example writes to. */
  const dir: string;
  const provider: CertificateProvider;
  const reporter: UpdateReporter;
  const decoder: FwupFramingDecoder;
  const logger: Logger;
  const child: ChildProcess;
  const stdin: Writable;
  const sink: Writable;
  /** An open file to write to. */
  const out: FileHandle;
  const signal: AbortSignal;
  const ctx: ApplyContext;

  // --- data an example starts from ---
  const info: UpdateInfo;
  const offer: UpdateOffer;
  const firmware: WireFirmwareMeta;
  const payload: unknown;
  const chunk: Uint8Array;
  const bytes: Uint8Array;
  const metaConfBytes: Uint8Array;
  const source: AsyncIterable<Uint8Array>;
  const result: VerificationResult;
  const error: unknown;
  const err: unknown;
  const headers: Record<string, string>;
  const id: string;
  const uuid: string;
  const runningUuid: string;
  const pub: string;
  const publicKey: string;
  const fwupPublicKeys: string[];
  const privateKey: string;
  const keys: string[];
  const seed: Uint8Array;
  const serial: string;
  const key: string;
  const secret: string;
  const identifier: string;
  const certFile: string;
  const keyFile: string;
  const keyPem: string;
  /** A server certificate and its key (PEM). */
  const cert: string;
  const deviceCertPem: string;
  const signerCertPem: string;
  const total: number;
  const contentLength: number;
  const position: number;
  /** The archive version the app wants. */
  const wantedVersion: string;

  // --- things the app does, named by what they do ---
  function rebootTheDevice(): void;
  function retryLater(): void;
  function alertOperator(message: string): void;
  function showOfflineIcon(): void;
  function inMaintenanceWindow(): boolean;
  function readRunningUuid(): string;
  function waitForNewOffer(): Promise<void>;
  function log(...values: unknown[]): void;
  /** Installs a verified archive (the app's own code). */
  function installBundle(path: string): Promise<void>;
  /** A status LED. */
  const led: { set(state: 'on' | 'off' | 'blink'): void };
  /** An I²C sensor the app checks. */
  const sensor: { ok(): Promise<boolean> };
  /** A GPS receiver. */
  const gps: { fix(): Promise<{ latitude: number; longitude: number; accuracy?: number }> };
  /** The app's database. */
  const db: { readonly ok: boolean };
  /** The app's job queue. */
  const queue: { readonly length: number };

  // --- hardware: an I²C bus, a NervesKey's slots and what is read from them ---
  const transport: I2cTransport;
  const chip: Atecc508a;
  const i2cBus: I2cBusModule;
  const bus: I2cBusHandle;
  const handle: I2cBusHandle;
  const slot10: Uint8Array;
  const slot11: Uint8Array;
  const slot12: Uint8Array;
  const serialNumber: Uint8Array;
  const deviceSerialNumber: Uint8Array;
  const manufacturerSerialNumber: string;
  const devicePublicKey: Uint8Array;
  const signerPublicKey: Uint8Array;
  const deviceCompressed: Uint8Array;
  const signerCompressed: Uint8Array;
  const contents: NervesKeyContents;
  const devicePublicKeyPem: string;
  const hsmPublicKeyPem: string;
}
