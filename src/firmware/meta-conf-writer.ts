import { fwupQuote } from './fwup-quote.js';

/** One fwup function call in a task, e.g. `['raw_write', 0]`. */
export type FwupCall = readonly [name: string, ...args: Array<string | number>];

/**
 * A task section of meta.conf (kept opaque by the verifier; written for fwup to apply).
 *
 * @example
 * ```ts
 * const task: FirmwareTask = { name: 'complete', onResource: { 'rootfs.img': [['raw_write', 0]] } };
 * ```
 */
export interface FirmwareTask {
  /** Task name, e.g. `complete` or `upgrade.a`. */
  name: string;
  /** `require-*` calls, e.g. `['require-partition-offset', 1, 1024]`. */
  requirements?: readonly FwupCall[];
  /** `on-init` calls, run before the resources. */
  onInit?: readonly FwupCall[];
  /** `on-finish` calls, run after the resources. */
  onFinish?: readonly FwupCall[];
  /** `on-error` calls, run when the task fails. */
  onError?: readonly FwupCall[];
  /** Per-resource calls, in order, e.g. `{ 'rootfs.img': [['raw_write', 0]] }`. */
  onResource?: Readonly<Record<string, readonly FwupCall[]>>;
  /**
   * Delta sources per resource (written into its `on-resource` before the calls, like fwup):
   * `{ rawOffset, rawCount }` → `delta-source-raw-offset`/`-count`, `{ fatOffset, fatPath }` →
   * `delta-source-fat-offset`/`-path`. Only firmware that declares them can be updated by a delta.
   */
  deltaSources?: Readonly<Record<string, FirmwareTaskDeltaSource>>;
}

/**
 * A delta source of one `on-resource` (block offsets and counts in 512-byte blocks, as in fwup.conf).
 *
 * @example
 * ```ts
 * const rootfs: FirmwareTaskDeltaSource = { rawOffset: 2048, rawCount: 4096 };
 * ```
 */
export type FirmwareTaskDeltaSource =
  | {
      /** `delta-source-raw-offset`: first block of the old copy. */
      rawOffset: number;
      /** `delta-source-raw-count`: its number of blocks. */
      rawCount: number;
    }
  | {
      /** `delta-source-fat-offset`: block offset of the FAT file system holding the old copy. */
      fatOffset: number;
      /** `delta-source-fat-path`: the old copy's path in it. */
      fatPath: string;
    };

/**
 * The `meta-*` and top-level options fwup writes to meta.conf.
 *
 * @example
 * ```ts
 * const meta: FirmwareMetaOptions = { product: 'demo', version: '1.0.1', platform: 'rpi4', architecture: 'arm' };
 * ```
 */
export interface FirmwareMetaOptions {
  /** `meta-product`. */
  product?: string;
  /** `meta-description`. */
  description?: string;
  /** `meta-version`. */
  version?: string;
  /** `meta-author`. */
  author?: string;
  /** `meta-platform`. */
  platform?: string;
  /** `meta-architecture`. */
  architecture?: string;
  /** `meta-fwup-version` (default: the fwup version this package mimics). */
  fwupVersion?: string;
  /** `meta-vcs-identifier`. */
  vcsIdentifier?: string;
  /** `meta-misc`. */
  misc?: string;
  /** `require-fwup-version`: the oldest fwup allowed to apply the archive. */
  requireFwupVersion?: string;
  /** `block-cache-size-mb` hint for fwup. */
  blockCacheSizeMb?: number;
}

/** A resource as declared in meta.conf. */
export interface MetaConfResourceLine {
  name: string;
  /** One size, or alternating data/hole run lengths (sparse). */
  lengths: readonly number[];
  blake2b256: string;
}

const META_ORDER: ReadonlyArray<readonly [keyof FirmwareMetaOptions, string]> = [
  ['product', 'meta-product'],
  ['description', 'meta-description'],
  ['version', 'meta-version'],
  ['author', 'meta-author'],
  ['platform', 'meta-platform'],
  ['architecture', 'meta-architecture'],
  ['fwupVersion', 'meta-fwup-version'],
  ['vcsIdentifier', 'meta-vcs-identifier'],
  ['misc', 'meta-misc'],
];

function funlist(key: string, calls: readonly FwupCall[]): string {
  const items: string[] = [];
  for (const [name, ...args] of calls) items.push(String(args.length + 1), name, ...args.map(String));
  if (items.length === 0) return '';
  const values = items.map(fwupQuote);
  return values.length > 1 ? `${key}={${values.join(',')}}\n` : `${key}=${values[0]}\n`;
}

function section(header: string, body: string, keepEmpty = false): string {
  return body === '' && !keepEmpty ? '' : `${header} {\n${body}}\n`;
}

/**
 * Writes meta.conf text in fwup's printer format: option-table order, bare or quoted strings,
 * defaults and empty values left out, `file-resource` blocks with `length` and `blake2b-256`, task
 * sections with flattened `funlist`s. Returns `# Empty file\n` when nothing is set, like fwup.
 */
export function formatMetaConf(
  meta: FirmwareMetaOptions,
  resources: readonly MetaConfResourceLine[],
  tasks: readonly FirmwareTask[] = [],
): string {
  let out = '';
  for (const [field, key] of META_ORDER) {
    const value = meta[field];
    if (typeof value === 'string' && value !== '') out += `${key}=${fwupQuote(value)}\n`;
  }
  if (meta.requireFwupVersion !== undefined && meta.requireFwupVersion !== '' && meta.requireFwupVersion !== '0') {
    out += `require-fwup-version=${fwupQuote(meta.requireFwupVersion)}\n`;
  }
  if (meta.blockCacheSizeMb !== undefined && meta.blockCacheSizeMb !== 8) {
    out += `block-cache-size-mb=${meta.blockCacheSizeMb}\n`;
  }
  for (const resource of resources) {
    let body = '';
    const { lengths } = resource;
    if (lengths.length > 1) body += `length={${lengths.join(',')}}\n`;
    else if ((lengths[0] ?? 0) !== 0) body += `length=${lengths[0]}\n`;
    body += `blake2b-256=${fwupQuote(resource.blake2b256)}\n`;
    out += section(`file-resource "${resource.name}"`, body);
  }
  for (const task of tasks) {
    let body = funlist('reqlist', task.requirements ?? []);
    body += section('on-init', funlist('funlist', task.onInit ?? []));
    body += section('on-finish', funlist('funlist', task.onFinish ?? []));
    body += section('on-error', funlist('funlist', task.onError ?? []));
    for (const [resource, calls] of Object.entries(task.onResource ?? {})) {
      const delta = task.deltaSources?.[resource];
      let options = '';
      if (delta !== undefined && 'rawOffset' in delta) options = `delta-source-raw-offset=${delta.rawOffset}\ndelta-source-raw-count=${delta.rawCount}\n`;
      else if (delta !== undefined) options = `delta-source-fat-offset=${delta.fatOffset}\ndelta-source-fat-path=${fwupQuote(delta.fatPath)}\n`;
      body += section(`on-resource "${resource}"`, options + funlist('funlist', calls));
    }
    out += section(`task "${task.name}"`, body, true);
  }
  return out === '' ? '# Empty file\n' : out;
}
