import { ConfFloatError, parseConfLength } from './meta-conf-float.js';
import { MetaConfSectionError, checkMetaConfSections, taskResourceReferences } from './meta-conf-sections.js';
import { readDeltaSources, type MetaConfDeltaSource } from './meta-conf-delta.js';
import { parseConf, ConfSyntaxError, type ConfStatement } from './meta-conf-syntax.js';

/** A `file-resource` declared in meta.conf. */
export interface MetaConfResource {
  name: string;
  /** `length` items: one size, or alternating data/hole runs for sparse resources. */
  lengths: number[];
  /** Bytes stored in the archive entry: the sum of the even-indexed `length` items. */
  dataLength: number;
  /** `blake2b-256` as written (compared byte for byte, like fwup). */
  blake2b256: string | undefined;
}

/** The parts of meta.conf the verifier uses; tasks and partition tables stay opaque. */
export interface MetaConf {
  /** `meta-*` strings by key (e.g. `meta-product`), last assignment wins. */
  meta: Map<string, string>;
  requireFwupVersion: string | undefined;
  /** Declared resources in declaration order. */
  resources: MetaConfResource[];
  /** Delta sources declared in tasks' `on-resource` sections, by resource name. */
  deltaSources: Map<string, MetaConfDeltaSource[]>;
}

/** Raised when meta.conf would not load in fwup ("Unexpected error parsing meta.conf"). */
export class MetaConfError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetaConfError';
  }
}

const META_STRING_KEYS = new Set([
  'meta-product',
  'meta-description',
  'meta-version',
  'meta-author',
  'meta-platform',
  'meta-architecture',
  'meta-creation-date',
  'meta-fwup-version',
  'meta-vcs-identifier',
  'meta-misc',
]);
const COMPUTED_KEYS = new Set(['meta-uuid', 'meta-nickname']);
const RESERVED_VARIABLES = new Set(['FWUP_META_UUID', 'FWUP_META_NICKNAME']);
const DEFINE_FUNCTIONS = new Set(['define', 'define!', 'define-eval', 'define-eval!']);
const RESOURCE_STRING_KEYS = new Set(['host-path', 'contents', 'blake2b-256', 'sha256']);
const RESOURCE_INT_KEYS = new Set(['assert-size-lte', 'assert-size-gte']);
const COMPUTED_CHANGE_MESSAGE =
  "meta.conf isn't allowed to change 'meta-uuid', 'meta-nickname', '$FWUP_META_UUID' or '$FWUP_META_NICKNAME'";

/** libconfuse integers: C `strtol(s, &end, 0)` that must consume the whole string. */
export function parseConfInteger(text: string): number {
  const match = /^[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(text);
  if (text === '') return 0;
  if (!match) throw new MetaConfError(`invalid integer value '${text}'`);
  const digits = match[2]!;
  let value: bigint;
  if (/^0[xX]/.test(digits)) value = BigInt(digits);
  else if (digits.length > 1 && digits.startsWith('0')) value = BigInt(`0o${digits.slice(1)}`);
  else value = BigInt(digits);
  if (match[1] === '-') value = -value;
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new MetaConfError(`integer value '${text}' out of range`);
  }
  return Number(value);
}

function parseConfBoolean(text: string): boolean {
  const lower = text.toLowerCase();
  if (lower === 'true' || lower === 'yes' || lower === 'on') return true;
  if (lower === 'false' || lower === 'no' || lower === 'off') return false;
  throw new MetaConfError(`invalid boolean value '${text}'`);
}

function singleString(statement: ConfStatement): string {
  if (statement.kind !== 'assign' || statement.list || statement.append || statement.values.length !== 1) {
    throw new MetaConfError(`'${statement.name}' is not a list and takes one value`);
  }
  return statement.values[0]!.value;
}

/** Semantic-version syntax fwup's `require-fwup-version` accepts. */
function parseSemver(text: string): [number, number, number, string] | undefined {
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(text);
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0), m[4] ?? ''];
}

/** True when version `a` ≤ `b` (pre-releases sort before their release). */
function semverLte(a: [number, number, number, string], b: [number, number, number, string]): boolean {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return (a[i] as number) < (b[i] as number);
  if (a[3] === b[3]) return true;
  if (a[3] === '') return false;
  if (b[3] === '') return true;
  return a[3] < b[3];
}

function readResource(name: string, body: ConfStatement[]): MetaConfResource {
  let lengths: number[] = [];
  let blake2b256: string | undefined;
  for (const statement of body) {
    if (statement.kind === 'call') {
      if (statement.name === 'include') throw new MetaConfError("'include' is not allowed in meta.conf");
      continue;
    }
    if (statement.name === 'length') {
      if (statement.kind !== 'assign') throw new MetaConfError("'length' must be assigned");
      // A float list on 64-bit fwup builds: strtod, then truncation (see meta-conf-float.ts).
      const items = statement.values.map((v) => {
        try {
          return parseConfLength(v.value);
        } catch (error) {
          if (error instanceof ConfFloatError) throw new MetaConfError(`${error.message} for '${name}'`);
          throw error;
        }
      });
      lengths = statement.append ? [...lengths, ...items] : items;
    } else if (RESOURCE_STRING_KEYS.has(statement.name)) {
      const value = singleString(statement);
      if (statement.name === 'blake2b-256') blake2b256 = value;
    } else if (statement.name === 'skip-holes') {
      parseConfBoolean(singleString(statement));
    } else if (RESOURCE_INT_KEYS.has(statement.name)) {
      parseConfInteger(singleString(statement));
    }
    // Anything else is unknown and ignored, as fwup does with CFGF_IGNORE_UNKNOWN.
  }
  if (lengths.length === 0) lengths = [0];
  if (lengths.some((n) => n < 0)) throw new MetaConfError(`negative length for '${name}'`);
  const dataLength = lengths.reduce((sum, n, i) => (i % 2 === 0 ? sum + n : sum), 0);
  if (!Number.isSafeInteger(dataLength)) throw new MetaConfError(`length out of range for '${name}'`);
  return { name, lengths, dataLength, blake2b256 };
}

/**
 * Parses and checks meta.conf text the way fwup 1.16 loads it (libconfuse with unknown options
 * ignored). Tasks, partition tables and U-Boot environments are only checked for syntax and
 * unique titles.
 *
 * @param text - meta.conf decoded as UTF-8
 * @param fwupVersion - the fwup version `require-fwup-version` is compared against
 * @throws MetaConfError with a fwup-style message when fwup would refuse it
 */
export function readMetaConf(text: string, fwupVersion: string): MetaConf {
  let statements: ConfStatement[];
  try {
    statements = parseConf(text);
    checkMetaConfSections(statements);
  } catch (error) {
    if (error instanceof ConfSyntaxError) throw new MetaConfError('Unexpected error parsing meta.conf');
    if (error instanceof MetaConfSectionError) {
      throw new MetaConfError(`Unexpected error parsing meta.conf: ${error.message}`);
    }
    throw error;
  }
  const meta = new Map<string, string>();
  let requireFwupVersion: string | undefined;
  const resources: MetaConfResource[] = [];
  for (const statement of statements) {
    const { name } = statement;
    if (COMPUTED_KEYS.has(name)) throw new MetaConfError(COMPUTED_CHANGE_MESSAGE);
    if (META_STRING_KEYS.has(name)) {
      meta.set(name, singleString(statement));
    } else if (name === 'require-fwup-version') {
      requireFwupVersion = singleString(statement);
    } else if (name === 'block-cache-size-mb') {
      parseConfInteger(singleString(statement));
    } else if (name === 'include') {
      throw new MetaConfError("'include' is not allowed in meta.conf");
    } else if (DEFINE_FUNCTIONS.has(name)) {
      if (statement.kind !== 'call' || statement.args.length !== 2) {
        throw new MetaConfError(`'${name}' requires 2 parameters`);
      }
      if (RESERVED_VARIABLES.has(statement.args[0]!.value)) throw new MetaConfError(COMPUTED_CHANGE_MESSAGE);
    } else if (name === 'file-resource' && statement.kind === 'section') {
      // Titles (present, unique) were checked by checkMetaConfSections.
      resources.push(readResource(statement.title!.value, statement.body));
    }
  }
  // fwup apply looks every on-resource title up among the file-resources before it reads any
  // resource; a task naming a missing one is refused. Which task will run is not known here, so
  // any such task makes the archive invalid (fwup's own create refuses to write one).
  const declared = new Set(resources.map((r) => r.name));
  for (const { resource } of taskResourceReferences(statements)) {
    if (!declared.has(resource)) {
      throw new MetaConfError(`Resource '${resource}' used, but metadata is missing. Archive is corrupt.`);
    }
  }
  if (requireFwupVersion !== undefined) {
    const wanted = parseSemver(requireFwupVersion);
    if (!wanted) throw new MetaConfError(`Invalid version '${requireFwupVersion}' passed to require-fwup-version`);
    const current = parseSemver(fwupVersion);
    if (current && !semverLte(wanted, current)) {
      throw new MetaConfError(`fwup version '${requireFwupVersion}' required. This is fwup version '${fwupVersion}'.`);
    }
  }
  return { meta, requireFwupVersion, resources, deltaSources: readDeltaSources(statements) };
}
