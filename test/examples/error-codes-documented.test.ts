/**
 * docs/errors.md must list every stable error code the SDK raises: this scans src/ for code
 * literals ('NH_…' strings, excluding prefixes such as 'NH_FW_') and checks each has a table row.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

function codesInSources(): Set<string> {
  const codes = new Set<string>();
  for (const file of sourceFiles(join(ROOT, 'src'))) {
    for (const match of readFileSync(file, 'utf8').matchAll(/['"`](NH_[A-Z0-9_]*[A-Z0-9])['"`]/g)) codes.add(match[1] as string);
  }
  return codes;
}

describe('docs/errors.md', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');
  const documented = new Set([...doc.matchAll(/^\| `(NH_[A-Z0-9_]+)` \|/gm)].map((m) => m[1] as string));

  it('has one entry per error code used in src/', () => {
    const codes = codesInSources();
    expect(codes.size).toBeGreaterThan(40);
    const missing = [...codes].filter((code) => !documented.has(code)).sort();
    expect(missing).toEqual([]);
  });

  it('documents no code that the sources no longer use', () => {
    const codes = codesInSources();
    const stale = [...documented].filter((code) => !codes.has(code)).sort();
    expect(stale).toEqual([]);
  });

  it('has no duplicate entries', () => {
    const rows = [...doc.matchAll(/^\| `(NH_[A-Z0-9_]+)` \|/gm)].map((m) => m[1] as string);
    expect(rows.length).toBe(documented.size);
  });
});
