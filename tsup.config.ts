import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    advanced: 'src/advanced/index.ts',
    testing: 'src/testing/index.ts',
    pkcs11: 'src/pkcs11/index.ts',
    atecc508a: 'src/atecc508a/index.ts',
    provisioning: 'src/provisioning/index.ts',
    cli: 'src/cli/main.ts',
  },
  format: ['esm', 'cjs'],
  dts: { entry: { index: 'src/index.ts', advanced: 'src/advanced/index.ts', testing: 'src/testing/index.ts', pkcs11: 'src/pkcs11/index.ts', atecc508a: 'src/atecc508a/index.ts', provisioning: 'src/provisioning/index.ts' } },
  target: 'node20',
  platform: 'node',
  sourcemap: false,
  clean: true,
  splitting: true,
  treeshake: true,
  // The @noble packages are ESM-only; bundling them keeps the CJS build loadable without require(esm).
  noExternal: [/^@noble\//],
  tsconfig: 'tsconfig.build.json',
});
