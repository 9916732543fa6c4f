import { createBlake2b256 } from './blake2b.js';
import { firmwareChunks, type FirmwareInput } from './byte-source.js';
import { FirmwareArchiveCheck } from './firmware-archive-checker.js';
import type { FirmwareMetadata } from './firmware-metadata.js';
import { parsePublicKey } from './public-key.js';
import { trustedKey } from './signature.js';
import { malformed } from './verification-error.js';

const STOP = Symbol('metadata read');

/**
 * Options of {@link readFirmwareMetadata}.
 *
 * @example
 * ```ts
 * const meta = await readFirmwareMetadata('firmware.fw', { publicKeys: [pub], signal: AbortSignal.timeout(5_000) });
 * ```
 */
export interface ReadFirmwareMetadataOptions {
  /** Keys to check the signature with; without keys the signature is NOT checked (like `fwup -m`). */
  publicKeys?: ReadonlyArray<string | Uint8Array>;
  /** Aborts the read. */
  signal?: AbortSignal;
  /** fwup version for `require-fwup-version` (default 1.16.0). */
  fwupVersion?: string;
}

/**
 * Reads an archive's metadata like `fwup -m`: only the signature entry and meta.conf are read
 * (resources are not checked). With keys the signature must verify; without keys it is not
 * checked, so never use the result to decide whether to install firmware — use
 * {@link FirmwareVerifier} for that.
 *
 * @throws FirmwareVerificationError when the signature or meta.conf is bad
 * @example
 * ```ts
 * const meta = await readFirmwareMetadata('firmware.fw', { publicKeys: [pub] });
 * ```
 * @category Verification
 */
export async function readFirmwareMetadata(
  input: FirmwareInput,
  options: ReadFirmwareMetadataOptions = {},
): Promise<FirmwareMetadata> {
  const keys = (options.publicKeys ?? []).map((k) => trustedKey(parsePublicKey(k)));
  const check = new FirmwareArchiveCheck({
    keys,
    label: typeof input === 'string' ? input : 'the archive',
    fwupVersion: options.fwupVersion ?? '1.16.0',
    hasher: await createBlake2b256(),
    metadataWithoutSignature: true,
    // Stop right after meta.conf, like fwup -m: resources are not read.
    onMetadata: () => {
      throw STOP;
    },
  });
  try {
    for await (const chunk of firmwareChunks(input, options.signal, true)) await check.push(chunk);
    await check.finish();
    throw malformed('meta.conf not found');
  } catch (error) {
    if (error === STOP && check.metadata) return check.metadata;
    throw error;
  } finally {
    check.dispose();
  }
}
