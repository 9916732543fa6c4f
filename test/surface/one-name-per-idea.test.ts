import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as advanced from '../../src/advanced/index.js';
import { FirmwareVerifier } from '../../src/firmware/firmware-verifier.js';
import { FailureReasons } from '../../src/protocol/status.js';

const SRC = join(import.meta.dirname, '..', '..', 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

describe('one name per idea', () => {
  it('defaults are named X_DEFAULTS', () => {
    const names = Object.keys(advanced).filter((n) => /DEFAULT/.test(n));
    expect(names.length).toBeGreaterThan(5);
    for (const name of names) expect(name).toMatch(/^[A-Z_]+_DEFAULTS$/);
  });

  it('the verifier and the update report one no-keys message, in nerves_hub_link words', async () => {
    const result = await new FirmwareVerifier({ publicKeys: [] }).verify(new Uint8Array(0));
    expect(result).toMatchObject({ valid: false, code: 'NH_FW_NO_KEYS', message: FailureReasons.noKeys });
    expect(FailureReasons.noKeys).toBe('Refusing unverified firmware : no public keys available');
  });

  it('classes use #private members, never the TypeScript `private` keyword', () => {
    const offenders = sources(SRC).filter((file) => /^\s*(readonly\s+)?private\s+(?!constructor)/m.test(readFileSync(file, 'utf8')));
    expect(offenders).toEqual([]);
  });
});
