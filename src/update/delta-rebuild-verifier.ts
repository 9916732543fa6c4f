import { rebuildDeltaArchive } from '../delta/delta-rebuild.js';
import type { DeltaSource } from '../delta/delta-source.js';
import type { FirmwareStreamVerifier } from './update-ports.js';

/**
 * Puts the delta rebuild in front of a verifier: whatever is downloaded (a NervesHub delta .fw or
 * a full one) is rebuilt into the full archive against `source` and then verified exactly like a
 * full firmware by `inner` (signature first, then every resource's length and BLAKE2b-256 before
 * its last byte is released). The applier therefore only ever receives a verified full archive.
 * `rewritesArchive` tells the cached strategy to apply through {@link FirmwareStreamVerifier.passThrough}
 * too, not from the cached (delta) file.
 *
 * @example
 * ```ts
 * const verifier = withDeltaRebuild(new FirmwareVerifier({ publicKeys }), { archivePath: '/data/current.fw' });
 * for await (const bytes of verifier.passThrough(download)) await out.write(bytes);
 * ```
 */
export function withDeltaRebuild(inner: FirmwareStreamVerifier, source: DeltaSource): FirmwareStreamVerifier {
  const rebuilt = (archive: AsyncIterable<Uint8Array>, signal: AbortSignal | undefined): AsyncIterable<Uint8Array> =>
    rebuildDeltaArchive(archive, source, signal ? { signal } : {});
  return {
    rewritesArchive: true,
    passThrough: (archive, options = {}) => inner.passThrough(rebuilt(archive, options.signal), options),
  };
}
