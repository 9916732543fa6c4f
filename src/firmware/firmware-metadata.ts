import { fwupQuote } from './fwup-quote.js';

/**
 * Metadata of a verified firmware archive, as `fwup -m` reports it. `uuid` is computed from the
 * meta.conf bytes like fwup's `meta-uuid`. fwup's `meta-nickname` is not provided: it comes from
 * a word table in fwup that this package does not copy.
 *
 * @example
 * ```ts
 * const meta: FirmwareMetadata = await readFirmwareMetadata('firmware.fw');
 * console.log(meta.uuid, meta.product, meta.version);
 * ```
 * @category Verification
 */
export interface FirmwareMetadata {
  /** Firmware UUID (`meta-uuid`), computed from the meta.conf bytes. */
  uuid: string;
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
  /** `YYYY-MM-DDTHH:MM:SSZ`, from the meta.conf zip mtime (or a `meta-creation-date` in old archives). */
  creationDate?: string;
  /** `meta-fwup-version`: the fwup that created the archive. */
  fwupVersion?: string;
  /** `meta-misc`. */
  misc?: string;
  /** `meta-vcs-identifier`. */
  vcsIdentifier?: string;
}

/** fwup's `-m` keys in fwup's print order, with the matching {@link FirmwareMetadata} field. */
export const FWUP_METADATA_FIELDS = Object.freeze([
  ['meta-product', 'product'],
  ['meta-description', 'description'],
  ['meta-version', 'version'],
  ['meta-author', 'author'],
  ['meta-platform', 'platform'],
  ['meta-architecture', 'architecture'],
  ['meta-creation-date', 'creationDate'],
  ['meta-fwup-version', 'fwupVersion'],
  ['meta-misc', 'misc'],
  ['meta-vcs-identifier', 'vcsIdentifier'],
  ['meta-uuid', 'uuid'],
] as const satisfies ReadonlyArray<readonly [string, keyof FirmwareMetadata]>);

/**
 * Formats metadata like `fwup -m`: one `key=value` line per set field, fwup's quoting, fwup's order
 * (without `meta-nickname`).
 *
 * @example
 * ```ts
 * process.stdout.write(formatFwupMetadata(result.metadata));
 * ```
 */
export function formatFwupMetadata(metadata: FirmwareMetadata): string {
  let out = '';
  for (const [key, field] of FWUP_METADATA_FIELDS) {
    const value = metadata[field];
    if (value !== undefined && value !== '') out += `${key}=${fwupQuote(value)}\n`;
  }
  return out;
}

/** Formats seconds since the epoch like fwup's timestamps (`%Y-%m-%dT%H:%M:%SZ`, UTC). */
export function formatFwupTimestamp(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
