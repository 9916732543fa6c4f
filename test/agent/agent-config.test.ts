import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { AgentConfigError, loadAgentConfig, parseAgentConfig } from '../../src/cli/agent-config.js';
import { TestCertificateAuthority } from '../../src/testing/test-ca.js';
import { createCliLogger } from '../../src/cli/cli-logger.js';

const KEY = Buffer.alloc(32, 7).toString('base64');

function valid(): Record<string, unknown> {
  return {
    url: 'wss://127.0.0.1:4001',
    auth: { type: 'certificate', certFile: 'cert.pem', keyFile: 'key.pem' },
    serverCaFile: 'ca.pem',
    firmware: { uuid: 'u-1', product: 'p', version: '1.0.0', platform: 'rpi4', architecture: 'aarch64' },
    fwupPublicKeys: [KEY],
    apply: { type: 'file', path: 'out/firmware.fw' },
    stateDir: 'state',
    reboot: { type: 'exit', code: 0 },
  };
}

function keyOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AgentConfigError);
    expect((err as AgentConfigError).code).toBe('NH_CONFIG_INVALID');
    return (err as AgentConfigError).key;
  }
  throw new Error('expected an AgentConfigError');
}

describe('agent config', () => {
  it('accepts a complete config and resolves paths against the config directory', () => {
    const cfg = parseAgentConfig(valid(), '/etc/nhl');
    expect(cfg.auth).toEqual({ type: 'certificate', certFile: '/etc/nhl/cert.pem', keyFile: '/etc/nhl/key.pem' });
    expect(cfg.serverCaFile).toBe('/etc/nhl/ca.pem');
    expect(cfg.apply).toEqual({ type: 'file', path: '/etc/nhl/out/firmware.fw' });
    expect(cfg.stateDir).toBe('/etc/nhl/state');
    expect(cfg.strategy).toBe('streaming');
    expect(cfg.firmware.platform).toBe('rpi4');
  });

  it('accepts the empty metadata strings of a real device and keeps them as given', () => {
    const firmware = { uuid: 'u-1', product: 'p', version: '1.0.0', platform: 'rpi4', architecture: 'aarch64', author: '', description: '', vcs_identifier: '', misc: '' };
    const cfg = parseAgentConfig({ ...valid(), firmware }, '/etc/nhl');
    expect(cfg.firmware).toEqual(firmware);
    // required ones stay required and non-empty; the optional ones must still be strings
    expect(keyOf(() => parseAgentConfig({ ...valid(), firmware: { ...firmware, product: '' } }, '/'))).toBe('firmware.product');
    expect(keyOf(() => parseAgentConfig({ ...valid(), firmware: { ...firmware, misc: 42 } }, '/'))).toBe('firmware.misc');
  });

  it('names the key at fault', () => {
    const c1 = valid();
    delete (c1.auth as Record<string, unknown>).keyFile;
    expect(keyOf(() => parseAgentConfig(c1, '/'))).toBe('auth.keyFile');
    expect(keyOf(() => parseAgentConfig({ ...valid(), url: 'https://x' }, '/'))).toBe('url');
    expect(keyOf(() => parseAgentConfig({ ...valid(), fwupPublicKeys: ['nope'] }, '/'))).toBe('fwupPublicKeys[0]');
    expect(keyOf(() => parseAgentConfig({ ...valid(), apply: { type: 'tape' } }, '/'))).toBe('apply.type');
    expect(keyOf(() => parseAgentConfig({ ...valid(), surprise: 1 }, '/'))).toBe('surprise');
    expect(keyOf(() => parseAgentConfig({ ...valid(), auth: { type: 'shared-secret', key: 'bad', secret: 's', identifier: 'i' } }, '/'))).toBe('auth.key');
    expect(keyOf(() => parseAgentConfig({ ...valid(), reboot: { type: 'command', argv: [] } }, '/'))).toBe('reboot.argv');
    expect(
      keyOf(() => parseAgentConfig({ ...valid(), auth: { type: 'pkcs11', uri: 'pkcs11:token=a;pin-value=1234', certFile: 'c', modulePath: '/m.so' } }, '/')),
    ).toBe('auth.uri');
  });

  it('accepts shared-secret and fwup forms', () => {
    const cfg = parseAgentConfig(
      { ...valid(), auth: { type: 'shared-secret', key: 'nhp_abc', secret: 's3', identifier: 'dev-1' }, apply: { type: 'fwup', devicePath: '/dev/mmcblk0' } },
      '/',
    );
    expect(cfg.auth).toEqual({ type: 'shared-secret', key: 'nhp_abc', secret: 's3', identifier: 'dev-1' });
    expect(cfg.apply).toEqual({ type: 'fwup', devicePath: '/dev/mmcblk0', task: 'upgrade' });
  });

  it('reports every problem at once, each naming its key, in the order of the file', () => {
    let error: AgentConfigError | undefined;
    try {
      parseAgentConfig({ ...valid(), url: 'https://x', strategy: 'sometimes', fwupPublicKeys: ['nope', KEY, 'bad'], surprise: 1, reboot: { type: 'exit', code: 300 } }, '/');
    } catch (err) {
      error = err as AgentConfigError;
    }
    expect(error).toBeInstanceOf(AgentConfigError);
    expect(error!.problems.map((p) => p.key)).toEqual(['url', 'fwupPublicKeys[0]', 'fwupPublicKeys[2]', 'reboot.code', 'strategy', 'surprise']);
    expect(error!.key).toBe('url');
    expect(error!.message).toMatch(/^6 problems in the config: config key "url": must start with wss:\/\/.*; config key "fwupPublicKeys\[0\]"/);
    // problems inside one section are all found too
    const auth = { type: 'certificate', certfile: 'c.pem' };
    const firmware = { uuid: 'u', product: '', version: '1', platform: 'p' };
    const many = (() => {
      try {
        parseAgentConfig({ ...valid(), auth, firmware }, '/');
      } catch (err) {
        return (err as AgentConfigError).problems.map((p) => p.key);
      }
      return [];
    })();
    expect(many).toEqual(['auth.certfile', 'auth.certFile', 'auth.keyFile', 'firmware.product', 'firmware.architecture']);
  });

  it('suggests the known key or value a misspelt one was meant to be', () => {
    const problems = (raw: Record<string, unknown>) => {
      try {
        parseAgentConfig(raw, '/');
      } catch (err) {
        return (err as AgentConfigError).problems;
      }
      return [];
    };
    expect(problems({ ...valid(), serverCAFile: 'ca.pem' })).toEqual([{ key: 'serverCAFile', message: 'is not a known key (did you mean "serverCaFile"?)' }]);
    expect(problems({ ...valid(), fwupPublicKey: [KEY] })[0]!.message).toContain('did you mean "fwupPublicKeys"?');
    expect(problems({ ...valid(), auth: { type: 'certificate', certFile: 'c', keyfile: 'k', keyFile: 'k' } })[0]).toEqual({ key: 'auth.keyfile', message: 'is not a known key (did you mean "keyFile"?)' });
    expect(problems({ ...valid(), strategy: 'cache' })[0]!.message).toBe('must be one of "streaming", "cached" (did you mean "cached"?)');
    // nothing close: the known keys are listed instead
    expect(problems({ ...valid(), zzzzzzzz: 1 })[0]!.message).toMatch(/is not a known key \(known: url, auth, /);
  });

  it('refuses a URL with a path other than the socket paths, and one with credentials', () => {
    expect(keyOf(() => parseAgentConfig({ ...valid(), url: 'wss://hub.example.com/devices' }, '/'))).toBe('url');
    try {
      parseAgentConfig({ ...valid(), url: 'wss://hub.example.com/api/v1/socket' }, '/');
    } catch (err) {
      expect((err as Error).message).toContain('has the path "/api/v1/socket": give only the server (e.g. wss://hub.example.com)');
    }
    expect(keyOf(() => parseAgentConfig({ ...valid(), url: 'wss://u:p@hub.example.com' }, '/'))).toBe('url');
    for (const url of ['wss://hub.example.com', 'wss://hub.example.com/', 'wss://hub.example.com/socket/websocket', 'wss://hub.example.com/device-socket', 'wss://hub.example.com:4001/socket/']) {
      expect(parseAgentConfig({ ...valid(), url }, '/').url).toBe(url);
    }
  });

  it('gives line and column of a JSON syntax error and never quotes the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nhl-cfg-'));
    const cases: Array<[string, RegExp]> = [
      ['{\n  "url": "wss://x",\n  "auth": { "secret": "s3cr3t-value" }\n  "stateDir": "s"\n}', /line 4, column 3: expected ',' or '}' after the property value/],
      ['{\n  "url": "wss://x",\n}', /line 3, column 1: expected another property \(no comma before }\)/],
      ['{ "secret": "s3cr3t-value", "a": tru }', /line 1, column 34: expected "true"/],
      ['{ "a": "x', /line 1, column 10: expected a closing " for this string/],
      ['', /line 1, column 1: expected a value/],
    ];
    for (const [text, expected] of cases) {
      const file = join(dir, 'device.json');
      writeFileSync(file, text);
      const error = await loadAgentConfig(file).then(
        () => undefined,
        (err: unknown) => err as AgentConfigError,
      );
      expect(error, text).toBeInstanceOf(AgentConfigError);
      expect(error!.message, text).toMatch(expected);
      expect(error!.message).not.toContain('s3cr3t');
    }
    // a byte order mark is not an error
    writeFileSync(join(dir, 'bom.json'), `\ufeff${JSON.stringify(valid())}`);
    expect((await loadAgentConfig(join(dir, 'bom.json'))).url).toBe('wss://127.0.0.1:4001');
  });

  it('names a key file that holds a certificate, and a certificate file that holds a key', async () => {
    const ca = await TestCertificateAuthority.create({ commonName: 'Config Test CA' });
    const cert = await ca.issueDeviceCertificate({ commonName: 'NH-CFG-1' });
    const dir = mkdtempSync(join(tmpdir(), 'nhl-cfg-'));
    writeFileSync(join(dir, 'cert.pem'), cert.certPem);
    writeFileSync(join(dir, 'key.pem'), cert.keyPem);
    writeFileSync(join(dir, 'ca.pem'), ca.certPem);
    const write = (auth: Record<string, unknown>, extra: Record<string, unknown> = {}): string => {
      const file = join(dir, 'device.json');
      writeFileSync(file, JSON.stringify({ ...valid(), auth: { type: 'certificate', ...auth }, ...extra }));
      return file;
    };
    expect((await loadAgentConfig(write({ certFile: 'cert.pem', keyFile: 'key.pem' }))).auth).toMatchObject({ certFile: join(dir, 'cert.pem') });
    const swapped = await loadAgentConfig(write({ certFile: 'key.pem', keyFile: 'cert.pem' })).then(() => expect.fail('expected an AgentConfigError'), (err: unknown) => err as AgentConfigError);
    expect(swapped.problems).toEqual([
      { key: 'auth.certFile', message: `${join(dir, 'key.pem')} holds a private key, not a certificate (are certFile and keyFile swapped?)` },
      { key: 'auth.keyFile', message: `${join(dir, 'cert.pem')} holds a certificate, not a private key (are certFile and keyFile swapped?)` },
    ]);
    expect(swapped.message).not.toContain('PRIVATE KEY');
    const caIsKey = await loadAgentConfig(write({ certFile: 'cert.pem', keyFile: 'key.pem' }, { serverCaFile: 'key.pem' })).then(() => expect.fail('expected an AgentConfigError'), (err: unknown) => err as AgentConfigError);
    expect(caIsKey.problems).toEqual([{ key: 'serverCaFile', message: `${join(dir, 'key.pem')} holds a private key, not a certificate` }]);
    // DER works the same way
    writeFileSync(join(dir, 'cert.der'), new X509Certificate(cert.certPem).raw);
    const der = await loadAgentConfig(write({ certFile: 'key.pem', keyFile: 'cert.der' })).then(() => expect.fail('expected an AgentConfigError'), (err: unknown) => err as AgentConfigError);
    expect(der.problems.map((p) => p.key)).toEqual(['auth.certFile', 'auth.keyFile']);
  });

  it('reports unreadable and non-JSON files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nhl-cfg-'));
    await expect(loadAgentConfig(join(dir, 'missing.json'))).rejects.toMatchObject({ code: 'NH_CONFIG_INVALID', key: '(file)' });
    writeFileSync(join(dir, 'bad.json'), '{nope');
    await expect(loadAgentConfig(join(dir, 'bad.json'))).rejects.toThrow(/not valid JSON/);
    writeFileSync(join(dir, 'ok.json'), JSON.stringify(valid()));
    expect((await loadAgentConfig(join(dir, 'ok.json'))).stateDir).toBe(join(dir, 'state'));
  });
});

describe('cli logger', () => {
  it('filters by level and writes JSON lines', () => {
    const lines: string[] = [];
    const stream = { write: (s: string) => lines.push(s) } as unknown as NodeJS.WritableStream;
    const log = createCliLogger({ format: 'json', level: 'info', stream, now: () => new Date(0) });
    log.log('debug', 'hidden');
    log.log('warn', 'shown', { code: 'X' });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({ time: '1970-01-01T00:00:00.000Z', level: 'warn', message: 'shown', code: 'X' });
  });
});

describe('device.json deltaSource', () => {
  function problemsOf(raw: Record<string, unknown>): string[] {
    try {
      parseAgentConfig(raw, '/etc/nhl');
    } catch (err) {
      return (err as AgentConfigError).problems.map((p) => `${p.key}: ${p.message}`);
    }
    return [];
  }

  it('absent: none; "file", "archive" (path resolved) and "raw" (task defaults to apply.task) are read', () => {
    expect(parseAgentConfig(valid(), '/etc/nhl')).not.toHaveProperty('deltaSource');
    expect(parseAgentConfig({ ...valid(), deltaSource: { type: 'file' } }, '/etc/nhl').deltaSource).toEqual({ type: 'file' });
    expect(parseAgentConfig({ ...valid(), deltaSource: { type: 'archive', path: 'fw/current.fw' } }, '/etc/nhl').deltaSource).toEqual({ type: 'archive', path: '/etc/nhl/fw/current.fw' });
    const fwup = { ...valid(), apply: { type: 'fwup', devicePath: '/dev/mmcblk0', task: 'upgrade.a' } };
    expect(parseAgentConfig({ ...fwup, deltaSource: { type: 'raw', path: '/dev/mmcblk0' } }, '/etc/nhl').deltaSource).toEqual({ type: 'raw', path: '/dev/mmcblk0', task: 'upgrade.a' });
    expect(parseAgentConfig({ ...fwup, deltaSource: { type: 'raw', path: '/dev/mmcblk0', task: 'upgrade.b' } }, '/etc/nhl').deltaSource).toMatchObject({ task: 'upgrade.b' });
  });

  it('its problems are reported with all the others at once', () => {
    expect(problemsOf({ ...valid(), deltaSource: { type: 'Raw', path: '/dev/sda' }, strategy: 'x' })).toEqual([
      'deltaSource.type: must be one of "file", "archive", "raw" (did you mean "raw"?)',
      'strategy: must be one of "streaming", "cached"',
    ]);
    expect(problemsOf({ ...valid(), deltaSource: { type: 'raw', device: '/dev/sda', task: 7 } }).map((p) => p.split(':')[0])).toEqual(['deltaSource.device', 'deltaSource.task', 'deltaSource.path']);
    expect(problemsOf({ ...valid(), apply: { type: 'fwup', devicePath: '/dev/mmcblk0' }, deltaSource: { type: 'file' } })[0]).toMatch(/^deltaSource.type: "file" is the archive apply.type "file" wrote last/);
    expect(problemsOf({ ...valid(), deltaSource: 'file' })).toEqual(['deltaSource: must be an object']);
  });
});
