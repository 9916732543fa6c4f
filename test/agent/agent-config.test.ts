import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentConfigError, loadAgentConfig, parseAgentConfig } from '../../src/cli/agent-config.js';
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
