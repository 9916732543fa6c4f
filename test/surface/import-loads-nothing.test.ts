import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

/**
 * Importing the SDK must not load what only a connection or an update needs: `ws` (loaded on the
 * first connection attempt: importing it from ES modules costs ≈ 6 MB RSS more than requiring it)
 * and `node:repl` (the remote console's). Checked in a fresh process, where nothing else loaded
 * them (`node:child_process` cannot be checked here: tsx itself loads it).
 */
describe('importing nerves-hub-link', () => {
  it('loads neither ws nor node:repl', async () => {
    const script = `
      import { createRequire } from 'node:module';
      await import('./src/index.ts');
      await import('./src/advanced/index.ts');
      const cached = Object.keys(createRequire(import.meta.url).cache);
      console.log(JSON.stringify({
        ws: cached.filter((path) => /[\\\\/]node_modules[\\\\/](isomorphic-)?ws[\\\\/]/.test(path)).length,
        builtins: process.moduleLoadList.filter((name) => name === 'NativeModule repl'),
      }));
    `;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd(), timeout: 60_000 });
    const loaded = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { ws: number; builtins: string[] };
    expect(loaded.ws).toBe(0);
    expect(loaded.builtins).toEqual([]);
  });
});
