/**
 * Metadata of a firmware as NervesHub describes it (the `firmware_meta` of an `update`, or the
 * running firmware's `nerves_fw_*` join params). Field names follow the wire (snake_case).
 */
export interface FirmwareMeta {
  /** The firmware UUID (fwup's `meta-uuid`). */
  uuid: string;
  product?: string | null;
  version?: string | null;
  platform?: string | null;
  architecture?: string | null;
  author?: string | null;
  description?: string | null;
  vcs_identifier?: string | null;
  misc?: string | null;
}

/** The `firmware_meta` keys in wire order. */
export const FIRMWARE_META_KEYS = [
  'uuid',
  'product',
  'version',
  'platform',
  'architecture',
  'author',
  'description',
  'vcs_identifier',
  'misc',
] as const;
