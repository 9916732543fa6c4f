/**
 * Metadata of a firmware as NervesHub describes it (the `firmware_meta` of an `update`, or the
 * running firmware's `nerves_fw_*` join params). Field names follow the wire (snake_case).
 *
 * @example
 * ```ts
 * const firmware: WireFirmwareMeta = { uuid: runningUuid, product: 'my_product', version: '1.2.0', platform: 'rpi4', architecture: 'arm' };
 * ```
 * @category Connection
 */
export interface WireFirmwareMeta {
  /** The firmware UUID (fwup's `meta-uuid`). */
  uuid: string;
  /** Product name (`meta-product`). */
  product?: string | null;
  /** Firmware version (`meta-version`). */
  version?: string | null;
  /** Target platform, e.g. `rpi4` (`meta-platform`). */
  platform?: string | null;
  /** CPU architecture, e.g. `arm` (`meta-architecture`). */
  architecture?: string | null;
  /** Author (`meta-author`). */
  author?: string | null;
  /** Description (`meta-description`). */
  description?: string | null;
  /** Source revision, e.g. a git SHA (`meta-vcs-identifier`). */
  vcs_identifier?: string | null;
  /** Free-form text (`meta-misc`). */
  misc?: string | null;
}

/** The `firmware_meta` keys in wire order. */
export const WIRE_FIRMWARE_META_KEYS = [
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
