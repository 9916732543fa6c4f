import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // The examples import the package by name, as users do; in tests that name means the sources
    // (no build needed). tsconfig.json `paths` does the same for tsc and tsx.
    alias: [
      { find: /^nerves-hub-link\/testing$/, replacement: fileURLToPath(new URL('./src/testing/index.ts', import.meta.url)) },
      { find: /^nerves-hub-link\/(pkcs11|atecc508a|provisioning)$/, replacement: fileURLToPath(new URL('./src/$1/index.ts', import.meta.url)) },
      { find: /^nerves-hub-link\/advanced$/, replacement: fileURLToPath(new URL('./src/advanced/index.ts', import.meta.url)) },
      { find: /^nerves-hub-link$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Files and tests run in a random order, so a test that leans on another's server, device or
    // state fails in CI. Vitest prints the seed ("Running tests with seed …"); reproduce an order
    // with `npm test -- --sequence.seed=N` or `VITEST_SEED=N npm test`.
    sequence: { shuffle: true, ...(process.env.VITEST_SEED ? { seed: Number(process.env.VITEST_SEED) } : {}) },
  },
});
