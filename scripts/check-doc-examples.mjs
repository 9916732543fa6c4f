#!/usr/bin/env node
// Type-checks every ```ts example: those in TSDoc comments under src/ and those in README.md.
//
// Each example becomes one module in a temp directory, compiled against the sources (the package
// names, `nerves-hub-link` and its subpaths, map to src/ as tsconfig.json `paths` says), with
// the repository's strict compiler options. An example may use, without importing them:
//   - every name the package exports (root, then `./testing`), and every export of the file the
//     example documents (internal helpers document themselves this way);
//   - the placeholders declared in scripts/doc-example-globals.d.ts (`url`, `downloader`,
//     `server`, `rebootTheDevice()`, …): the values an example takes as given.
// An example that is partial on purpose opens its fence with "```ts skip-check" (keep them rare).
//
// Usage: node scripts/check-doc-examples.mjs [--list]   (exit 1 when an example does not compile)
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const GLOBALS = join(ROOT, 'scripts/doc-example-globals.d.ts');
const SKIP = 'skip-check';

/** @returns {string[]} every .ts file under `dir` */
function tsFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return tsFiles(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

/**
 * ```ts blocks of a text, with the 1-based line of their first code line. In TSDoc comments the
 * leading ` * ` of each line is removed.
 */
function blocks(text, inComments) {
  const lines = text.split('\n');
  const found = [];
  for (let i = 0; i < lines.length; i++) {
    const strip = (l) => (inComments ? l.replace(/^\s*\*( |$)/, '') : l);
    const open = /^```ts(?:\s+(.*))?$/.exec(strip(lines[i]).trim());
    if (!open) continue;
    if (inComments && !/^\s*\*/.test(lines[i])) continue; // ```ts in code, not in a comment
    const body = [];
    let j = i + 1;
    while (j < lines.length && strip(lines[j]).trim() !== '```') body.push(strip(lines[j++]));
    found.push({ line: i + 2, code: body.join('\n'), skip: (open[1] ?? '').split(/\s+/).includes(SKIP) });
    i = j;
  }
  return found;
}

const baseConfig = ts.readConfigFile(join(ROOT, 'tsconfig.json'), ts.sys.readFile).config;
const { options: baseOptions } = ts.parseJsonConfigFileContent(baseConfig, ts.sys, ROOT);
/** The package's entry points by import name, as tsconfig.json `paths` maps them to the sources. */
const ENTRY = Object.fromEntries(
  Object.entries(baseOptions.paths ?? {})
    .filter(([spec]) => spec === 'nerves-hub-link' || spec.startsWith('nerves-hub-link/'))
    .map(([spec, [path]]) => [spec, resolve(ROOT, path)]),
);

/** Export names of each source module, from one program over the sources. */
function exportNames(files) {
  const program = ts.createProgram(files, { ...baseOptions, noEmit: true });
  const checker = program.getTypeChecker();
  const names = new Map();
  for (const file of files) {
    const sf = program.getSourceFile(file);
    const symbol = sf && checker.getSymbolAtLocation(sf);
    names.set(file, new Set(symbol ? checker.getExportsOfModule(symbol).map((s) => s.getName()) : []));
  }
  return names;
}

const sources = tsFiles(join(ROOT, 'src'));
const examples = [];
for (const file of sources) for (const b of blocks(readFileSync(file, 'utf8'), true)) examples.push({ file, ...b });
for (const b of blocks(readFileSync(join(ROOT, 'README.md'), 'utf8'), false)) examples.push({ file: join(ROOT, 'README.md'), ...b });

const exportsOf = exportNames([...new Set([...Object.values(ENTRY), ...sources])]);
const publicNames = Object.entries(ENTRY).map(([spec, path]) => [spec, exportsOf.get(path)]);

/** Names an example declares or imports itself (they must not be imported again). */
function ownNames(code) {
  const own = new Set();
  for (const m of code.matchAll(/\b(?:const|let|var|function|class|interface|type|enum)\s+([A-Za-z_$][\w$]*)/g)) own.add(m[1]);
  for (const m of code.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}/g)) {
    for (const part of m[1].split(',')) {
      const name = part.trim().replace(/^type\s+/, '').split(/\s+as\s+/).pop()?.trim();
      if (name) own.add(name);
    }
  }
  for (const m of code.matchAll(/import\s+(?:\*\s+as\s+)?([A-Za-z_$][\w$]*)\s+from/g)) own.add(m[1]);
  for (const m of code.matchAll(/\{([^{}]*)\}\s*=/g)) for (const n of m[1].matchAll(/([A-Za-z_$][\w$]*)\s*(?:,|$|=)/g)) own.add(n[1]);
  return own;
}

/** The module text for one example: imports for the names it uses, then the example itself. */
function moduleFor(example, dir) {
  const used = new Set(example.code.replace(/\/\/.*$/gm, '').match(/[A-Za-z_$][\w$]*/g) ?? []);
  const own = ownNames(example.code);
  const taken = new Set(own);
  const imports = [];
  const take = (names, spec) => {
    const picked = [...names].filter((n) => used.has(n) && !taken.has(n));
    picked.forEach((n) => taken.add(n));
    if (picked.length) imports.push(`import { ${picked.join(', ')} } from '${spec}';`);
  };
  for (const [spec, names] of publicNames) take(names, spec);
  if (example.file.endsWith('.ts')) {
    const spec = relative(dir, example.file).replace(/\.ts$/, '.js');
    take(exportsOf.get(example.file) ?? [], spec.startsWith('.') ? spec : `./${spec}`);
  }
  const header = `${imports.join('\n')}\nexport {};\n`;
  return { text: `${header}${example.code}\n`, offset: header.split('\n').length - 1 };
}

const dir = mkdtempSync(join(tmpdir(), 'nhl-doc-examples-'));
let failed = 0;
try {
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  const checked = examples.filter((e) => !e.skip);
  const files = checked.map((example, i) => {
    const path = join(dir, `example-${String(i).padStart(3, '0')}.ts`);
    const { text, offset } = moduleFor(example, dir);
    writeFileSync(path, text);
    return { path, example, offset };
  });
  if (process.argv.includes('--list')) for (const f of files) console.log(`${relative(ROOT, f.example.file)}:${f.example.line} → ${f.path}`);
  const options = {
    ...baseOptions,
    noEmit: true,
    rootDir: undefined,
    baseUrl: undefined,
    noUnusedLocals: false,
    noUnusedParameters: false,
    typeRoots: [join(ROOT, 'node_modules/@types')],
    paths: Object.fromEntries(Object.entries(ENTRY).map(([spec, path]) => [spec, [path]])),
  };
  const program = ts.createProgram([GLOBALS, ...files.map((f) => f.path)], options);
  const byPath = new Map(files.map((f) => [f.path, f]));
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n  ');
    const f = d.file && byPath.get(resolve(d.file.fileName));
    if (!f) {
      // An error outside the examples (the sources, the globals): report it as is.
      const where = d.file ? `${relative(ROOT, d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : '(config)';
      console.error(`${where}: ${message}`);
      failed++;
      continue;
    }
    const { line, character } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
    const at = line < f.offset ? f.example.line : f.example.line + line - f.offset;
    console.error(`${relative(ROOT, f.example.file)}:${at}:${character + 1}: TS${d.code}: ${message}`);
    failed++;
  }
  const skipped = examples.length - checked.length;
  console.log(`doc examples: ${checked.length} type-checked${skipped ? `, ${skipped} marked ${SKIP}` : ''}, ${failed} error${failed === 1 ? '' : 's'}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
