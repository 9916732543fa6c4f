import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as advanced from '../../src/advanced/index.js';
import * as root from '../../src/index.js';

// The root entry is what a device app uses. Adding a value export here is an API decision: update
// this list on purpose (and the docs), never to make a test pass.
const ROOT_VALUES = [
  'ApplyErrorCodes',
  'DownloadError',
  'DownloadErrorCodes',
  'FileApplier',
  'FileCertificateProvider',
  'FirmwareVerificationError',
  'FirmwareVerifier',
  'FwupApplier',
  'MIN_RESCHEDULE_MINUTES',
  'NervesHubError',
  'NervesHubLink',
  'NervesHubSocket',
  'SocketErrorCodes',
  'createDefaultUpdateClient',
  'createSharedSecretHeaders',
  'isNervesHubError',
  'readFirmwareMetadata',
  'rawRangeSource',
  'DeltaError',
  'redactUrl',
  'sanitizeForLog',
  'silentLogger',
];

describe('public surface', () => {
  it('the root entry exports exactly the device-app values', () => {
    expect(Object.keys(root).sort()).toEqual([...ROOT_VALUES].sort());
  });

  it('internal helpers are exported from no entry', () => {
    const internal = ['guardedCall', 'guardUpdateClient', 'normalizeUpdateDecision', 'classifyUpdateFailure', 'ProgressThrottle', 'Sha256Parts', 'jitterDelays', 'parseRetryAfterMs', 'NO_KEYS_MESSAGE', 'GUARDED_CLIENT_DEFAULTS'];
    for (const name of internal) {
      expect(Object.keys(root)).not.toContain(name);
      expect(Object.keys(advanced)).not.toContain(name);
    }
  });

  it('advanced holds the composition parts and shares nothing with the root', () => {
    for (const name of ['UpdateManager', 'Downloader', 'UpdateJournal', 'FwupFramingDecoder', 'backoffDelayList', 'parseUpdateInfo']) {
      expect(Object.keys(advanced)).toContain(name);
    }
    expect(Object.keys(advanced).filter((name) => name in root)).toEqual([]);
  });

  it('every entry is in package.json exports, the build and the API docs', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { exports: Record<string, unknown> };
    expect(Object.keys(pkg.exports).sort()).toEqual(['.', './advanced', './atecc508a', './package.json', './pkcs11', './provisioning', './testing']);
    const tsup = readFileSync(new URL('../../tsup.config.ts', import.meta.url), 'utf8');
    const typedoc = JSON.parse(readFileSync(new URL('../../typedoc.json', import.meta.url), 'utf8')) as { entryPoints: string[] };
    for (const src of ['src/index.ts', 'src/advanced/index.ts', 'src/testing/index.ts', 'src/pkcs11/index.ts', 'src/atecc508a/index.ts', 'src/provisioning/index.ts']) {
      expect(tsup).toContain(`'${src}'`);
      expect(typedoc.entryPoints).toContain(src);
    }
  });

  it('nothing public lives under src/internal', () => {
    const sources = [readFileSync(new URL('../../src/index.ts', import.meta.url), 'utf8'), readFileSync(new URL('../../src/advanced/index.ts', import.meta.url), 'utf8')];
    for (const text of sources) expect(text).not.toMatch(/\/internal\//);
  });
});
