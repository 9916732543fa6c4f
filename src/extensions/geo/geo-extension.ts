import type { DeviceExtension, ExtensionContext } from '../extension.js';
import { EXTENSION_VERSION } from '../extension.js';

/**
 * A device location (`geo:location:update`).
 *
 * @example
 * ```ts
 * const here: GeoLocation = { source: 'gps', latitude: 52.37, longitude: 4.89, accuracy: 12 };
 * ```
 */
export interface GeoLocation {
  /** Where it comes from (`gps`, `geoip`, `manual`…). */
  source: string;
  /** Degrees. */
  latitude: number;
  /** Degrees. */
  longitude: number;
  /** Metres, when known. */
  accuracy?: number;
}

/** Finds the device's location. */
export type GeoResolver = () => GeoLocation | Promise<GeoLocation>;

/** `error_code`s this SDK sends in `geo:location:update`. */
export const GeoErrorCodes = {
  /** No resolver configured (the SDK makes no third-party network call by default). */
  noResolver: 'NO_RESOLVER',
  /** The resolver threw or returned something that is not a location. */
  resolverError: 'RESOLVER_ERROR',
} as const;

/**
 * The `geo` extension (reference §7.2): answers `geo:location:request` with
 * `geo:location:update {source, latitude, longitude[, accuracy]}` from the app's resolver, or
 * `{error_code, error_description}`. Unlike nerves_hub_link, there is no GeoIP lookup by default.
 *
 * @example
 * ```ts
 * const geo = new GeoExtension({ resolver: async () => ({ source: 'gps', ...(await gps.fix()) }) });
 * ```
 */
export class GeoExtension implements DeviceExtension {
  /** `geo`. */
  readonly name = 'geo';
  /** `0.0.1`. */
  readonly version = EXTENSION_VERSION;
  /** `location:request`. */
  readonly events = ['location:request'] as const;
  readonly #resolver: GeoResolver | undefined;

  /** Answers location requests with `options.resolver`; without one, with the error payload `NO_RESOLVER`. */
  constructor(options: { resolver?: GeoResolver } = {}) {
    this.#resolver = options.resolver;
  }

  /** Answers `location:request`. */
  async handle(event: string, _payload: Record<string, unknown>, ctx: ExtensionContext): Promise<void> {
    if (event === 'location:request') ctx.push('location:update', await this.locate());
  }

  /** The `geo:location:update` payload now (never throws). */
  async locate(): Promise<Record<string, unknown>> {
    if (!this.#resolver) return { error_code: GeoErrorCodes.noResolver, error_description: 'no location resolver is configured on this device' };
    try {
      const l = await this.#resolver();
      if (typeof l?.latitude !== 'number' || typeof l.longitude !== 'number' || !Number.isFinite(l.latitude) || !Number.isFinite(l.longitude)) {
        throw new Error('the resolver returned no latitude/longitude');
      }
      const out: Record<string, unknown> = { source: typeof l.source === 'string' && l.source !== '' ? l.source : 'app', latitude: l.latitude, longitude: l.longitude };
      if (typeof l.accuracy === 'number' && Number.isFinite(l.accuracy)) out.accuracy = l.accuracy;
      return out;
    } catch (error) {
      return { error_code: GeoErrorCodes.resolverError, error_description: (error instanceof Error ? error.message : String(error)).slice(0, 300) };
    }
  }
}
