import { describe, expect, it } from 'vitest';
import { createSharedSecretHeaders } from '../../src/auth/shared-secret.js';
import { FileCertificateProvider } from '../../src/auth/file-certificate-provider.js';
import { Downloader } from '../../src/download/downloader.js';
import { isNervesHubError } from '../../src/errors.js';
import { FirmwareVerifier } from '../../src/firmware/firmware-verifier.js';
import { parsePublicKey } from '../../src/firmware/public-key.js';
import { NervesHubLink } from '../../src/link/nerves-hub-link.js';
import { backoffDelayList } from '../../src/socket/backoff.js';
import { NervesHubSocket } from '../../src/socket/nerves-hub-socket.js';
import { FileApplier } from '../../src/update/appliers/file-applier.js';
import { FwupApplier } from '../../src/update/appliers/fwup-applier.js';
import { frameInput } from '../../src/update/fwup-framing.js';
import { UpdateManager } from '../../src/update/update-manager.js';
import type { UpdateManagerOptions } from '../../src/update/update-manager-options.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(isNervesHubError(error)).toBe(true);
    return (error as { code?: string }).code;
  }
  throw new Error('expected a throw');
}

const managerBase: UpdateManagerOptions = {
  client: { updateAvailable: () => ({ action: 'apply' }) },
  reporter: { sendStatus: () => {}, sendProgress: () => {} },
  applier: new FileApplier({ path: '/tmp/never-written' }),
  publicKeys: () => [],
};
const socketBase = {
  url: 'wss://127.0.0.1:1/socket',
  auth: { type: 'shared-secret' as const, key: 'nhp_k', secret: 's', identifier: 'NH-1' },
  firmware: { uuid: '00000000-0000-0000-0000-000000000000' },
};

// One kind of error for a bad option, whichever part got it (issue 9). Nothing is started:
// every case throws synchronously from a constructor or a pure function.
describe('every bad option is a NervesHubError NH_INVALID_OPTIONS', () => {
  it.each<[string, () => unknown]>([
    ['NervesHubSocket url', () => new NervesHubSocket({ ...socketBase, url: 'ftp://x' })],
    ['NervesHubSocket timeout', () => new NervesHubSocket({ ...socketBase, joinTimeoutMs: -1 })],
    ['NervesHubLink socket', () => new NervesHubLink({ socket: { ...socketBase, url: '' }, client: managerBase.client, applier: managerBase.applier })],
    ['UpdateManager timeout', () => new UpdateManager({ ...managerBase, decisionTimeoutMs: 0 })],
    ['UpdateManager strategy', () => new UpdateManager({ ...managerBase, strategy: 'nope' as never })],
    ['Downloader retry', () => new Downloader({ retry: { idleTimeoutMs: -1 } })],
    ['Downloader proxy', () => new Downloader({ proxy: 'socks5://127.0.0.1:1' })],
    ['FwupApplier devicePath', () => new FwupApplier({ devicePath: '' } as never)],
    ['FileApplier path', () => new FileApplier({ path: '' })],
    ['FirmwareVerifier keys', () => new FirmwareVerifier({ publicKeys: ['not a key'] })],
    ['parsePublicKey', () => parsePublicKey('AAAA')],
    ['FileCertificateProvider', () => new FileCertificateProvider({ certFile: '', keyFile: 'k' })],
    ['createSharedSecretHeaders', () => createSharedSecretHeaders({ key: '', secret: 's', identifier: 'i' })],
    ['frameInput', () => [...frameInput(new Uint8Array(1), 0)]],
    ['backoffDelayList', () => backoffDelayList(0, 1)],
  ])('%s', (_name, fn) => {
    expect(codeOf(fn)).toBe('NH_INVALID_OPTIONS');
  });
});
