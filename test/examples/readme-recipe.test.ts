/**
 * The README's "Testing your own device app" recipe, run exactly as the README prints it: the
 * ```ts block is taken from README.md at test time, written to a temp file and imported.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

/** The first ```ts block after the heading `title` in `markdown`. */
export function codeBlockAfter(markdown: string, title: string): string {
  const at = markdown.indexOf(`\n${title}\n`);
  if (at === -1) throw new Error(`README has no heading "${title}"`);
  const block = /```ts\n([\s\S]*?)\n```/.exec(markdown.slice(at));
  if (!block) throw new Error(`no \`\`\`ts block after "${title}"`);
  return block[1]!;
}

describe('README testing recipe', () => {
  it('runs as written: the update completes, the target holds the firmware, the reboot hook ran', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const recipe = codeBlockAfter(readme, '## Testing your own device app');
    expect(recipe).toContain("from 'nerves-hub-link/testing'");
    const dir = await mkdtemp(join(tmpdir(), 'nhl-readme-recipe-'));
    try {
      const file = join(dir, 'recipe.ts');
      await writeFile(file, recipe);
      // Module-level awaits and asserts: importing runs it; any failed assert rejects here.
      await import(/* @vite-ignore */ pathToFileURL(file).href);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
