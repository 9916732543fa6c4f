import type { ConfStatement } from './meta-conf-syntax.js';

/**
 * Which sections fwup 1.16 declares where (src/cfgfile.c option tables), and whether each takes a
 * title. Every titled section there is also CFGF_NO_TITLE_DUPES.
 *
 * libconfuse's CFGF_IGNORE_UNKNOWN only tolerates unknown *options* (`x = 1`, `x = {…}`, `x(…)`):
 * its skipper for an unknown section (`frob "x" { a=1 }`) ends in a parse error, so fwup refuses the
 * archive. A known section used as an option, or an option name used as a section, is a parse error
 * too.
 */
const SECTIONS: Readonly<Record<string, Readonly<Record<string, boolean>>>> = {
  '': { 'file-resource': true, mbr: true, gpt: true, task: true, 'uboot-environment': true },
  mbr: { partition: true, osii: true },
  gpt: { partition: true },
  task: { 'on-init': false, 'on-finish': false, 'on-error': false, 'on-resource': true },
};

/**
 * The list options that may be appended to (`+=`), by section. `+=` on any other option is refused:
 * on a known scalar libconfuse fails ("attempt to append to non-list option"), and on an unknown
 * option its skipper swallows every token up to the next '=', statements and braces included, so
 * fwup would see a different structure than a tree reader does.
 */
const APPENDABLE: Readonly<Record<string, readonly string[]>> = {
  'file-resource': ['length'],
  task: ['reqlist'],
  'on-init': ['funlist'],
  'on-finish': ['funlist'],
  'on-error': ['funlist'],
  'on-resource': ['funlist'],
};

/** A section fwup would not load, with a fwup-style reason. */
export class MetaConfSectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetaConfSectionError';
  }
}

/**
 * Checks the section structure of parsed meta.conf against fwup's option tables: no unknown
 * sections at any depth, titles present exactly where fwup wants one, no duplicate titles, `+=`
 * only on list options.
 *
 * @param statements - the parsed statements of one level
 * @param context - the enclosing section's name (`''` at the top)
 * @throws MetaConfSectionError for the first violation
 */
export function checkMetaConfSections(statements: readonly ConfStatement[], context = ''): void {
  const known = SECTIONS[context] ?? {};
  const titles = new Map<string, Set<string>>();
  for (const statement of statements) {
    const { name } = statement;
    if (statement.kind === 'assign' && statement.append && !(APPENDABLE[context] ?? []).includes(name)) {
      throw new MetaConfSectionError(`'+=' on '${name}', which is not a list option here (line ${statement.line})`);
    }
    const titled = Object.hasOwn(known, name) ? known[name] : undefined;
    if (titled === undefined) {
      if (statement.kind === 'section') {
        const where = context === '' ? '' : ` inside '${context}'`;
        throw new MetaConfSectionError(`unknown section '${name}'${where} (line ${statement.line})`);
      }
      continue;
    }
    if (statement.kind !== 'section') throw new MetaConfSectionError(`'${name}' must be a section`);
    if (titled) {
      if (!statement.title) throw new MetaConfSectionError(`missing title for section '${name}'`);
      let seen = titles.get(name);
      if (!seen) titles.set(name, (seen = new Set()));
      if (seen.has(statement.title.value)) {
        throw new MetaConfSectionError(`found duplicate title '${statement.title.value}' for section '${name}'`);
      }
      seen.add(statement.title.value);
    } else if (statement.title) {
      throw new MetaConfSectionError(`missing opening brace for section '${name}'`);
    }
    checkMetaConfSections(statement.body, name);
  }
}

/** Titles of the `on-resource` sections of every task, in text order, with their task. */
export function taskResourceReferences(statements: readonly ConfStatement[]): Array<{ task: string; resource: string }> {
  const references: Array<{ task: string; resource: string }> = [];
  for (const task of statements) {
    if (task.kind !== 'section' || task.name !== 'task') continue;
    for (const event of task.body) {
      if (event.kind === 'section' && event.name === 'on-resource' && event.title) {
        references.push({ task: task.title?.value ?? '', resource: event.title.value });
      }
    }
  }
  return references;
}
