import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { NervesHubError } from '../errors.js';
import { parsePublicKey } from '../firmware/public-key.js';
import { ensureAbsent, readPrivateFile, writeNewFile } from './key-files.js';

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX_LENGTH = 12;

/** Lengths of fwup's key material in bytes. */
export const FWUP_KEY_LENGTHS = Object.freeze({
  /** Ed25519 public key. */
  publicKey: 32,
  /** `NAME.priv`: the 32-byte secret seed followed by the 32-byte public key. */
  privateKey: 64,
});

/**
 * An fwup signing key pair as the text of its two files: `publicKey` is what `fwup -g` writes to
 * `NAME.pub` (base64 of the 32-byte key, 44 characters), `privateKey` what it writes to `NAME.priv`
 * (base64 of seed‖public key, 88 characters). Neither ends in a newline.
 *
 * @example
 * ```ts
 * const { publicKey, privateKey } = generateFwupKeyPair();
 * ```
 */
export interface FwupKeyPair {
  /** Base64 of the 32-byte Ed25519 public key (`NAME.pub`). Paste it into NervesHub and `device.json`. */
  publicKey: string;
  /** Base64 of seed‖public key (`NAME.priv`). Secret. */
  privateKey: string;
}

/** The paths {@link createFwupKeyFiles} wrote, and the public key. */
export interface FwupKeyFiles {
  /** `NAME.pub` (mode 0644). */
  publicKeyFile: string;
  /** `NAME.priv` (mode 0600). */
  privateKeyFile: string;
  /** Base64 public key (the content of `NAME.pub`). */
  publicKey: string;
}

function keyObjectOfSeed(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

function publicKeyOfSeed(seed: Uint8Array): Buffer {
  return createPublicKey(keyObjectOfSeed(seed)).export({ format: 'der', type: 'spki' }).subarray(SPKI_ED25519_PREFIX_LENGTH);
}

/**
 * Makes a new Ed25519 key pair in fwup's format (what `fwup -g` makes).
 *
 * @example
 * ```ts
 * const keys = generateFwupKeyPair();
 * console.log(keys.publicKey); // 44 base64 characters
 * ```
 */
export function generateFwupKeyPair(): FwupKeyPair {
  const { privateKey } = generateKeyPairSync('ed25519');
  const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_ED25519_PREFIX.length);
  const publicKey = publicKeyOfSeed(seed);
  return { publicKey: publicKey.toString('base64'), privateKey: Buffer.concat([seed, publicKey]).toString('base64') };
}

/**
 * Decodes an fwup private key like fwup does: exactly 64 bytes are taken raw; otherwise the text is
 * base64 (padding optional, decoding stops at the first non-base64 character, e.g. a newline) and
 * must give 64 bytes. The public half must belong to the seed (fwup would sign with a mismatched
 * pair and produce signatures nothing verifies).
 *
 * @param input - the content of `NAME.priv` (text or bytes)
 * @returns the 64 bytes seed‖public key
 * @throws NervesHubError `NH_PROV_KEY_INVALID` (a public key, a wrong length, a mismatched pair).
 * @example
 * ```ts
 * const key = decodeFwupPrivateKey(readFileSync('fwup-key.priv'));
 * ```
 */
export function decodeFwupPrivateKey(input: string | Uint8Array): Uint8Array {
  let bytes: Buffer;
  if (input instanceof Uint8Array && input.length === FWUP_KEY_LENGTHS.privateKey) {
    bytes = Buffer.from(input);
  } else {
    const text = typeof input === 'string' ? input : Buffer.from(input).toString('latin1');
    bytes = Buffer.from(/^[A-Za-z0-9+/]*/.exec(text)![0], 'base64');
  }
  if (bytes.length === FWUP_KEY_LENGTHS.publicKey) {
    throw new NervesHubError('NH_PROV_KEY_INVALID', 'this is an fwup public key (32 bytes): signing needs the private key, NAME.priv');
  }
  if (bytes.length !== FWUP_KEY_LENGTHS.privateKey) {
    throw new NervesHubError('NH_PROV_KEY_INVALID', `not an fwup private key: expected base64 of ${FWUP_KEY_LENGTHS.privateKey} bytes, got ${bytes.length} bytes`);
  }
  if (!publicKeyOfSeed(bytes.subarray(0, 32)).equals(bytes.subarray(32))) {
    throw new NervesHubError('NH_PROV_KEY_INVALID', 'not an fwup private key: its public half does not belong to its seed');
  }
  return new Uint8Array(bytes);
}

/**
 * The base64 public key (as in `NAME.pub`) of an fwup private key.
 *
 * @param privateKey - `NAME.priv` text or its 64 bytes
 * @throws NervesHubError `NH_PROV_KEY_INVALID`.
 * @example
 * ```ts
 * fwupPublicKeyOf(readFileSync('fwup-key.priv', 'utf8')); // '/eck8sd…='
 * ```
 */
export function fwupPublicKeyOf(privateKey: string | Uint8Array): string {
  return Buffer.from(decodeFwupPrivateKey(privateKey).subarray(32)).toString('base64');
}

/**
 * Ed25519 signature of `message` (fwup signs the meta.conf bytes verbatim). @internal
 */
export function fwupSign(message: Uint8Array, privateKey: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, message, keyObjectOfSeed(privateKey.subarray(0, 32))));
}

/**
 * Creates `NAME.pub` and `NAME.priv` like `fwup -g -o NAME`: the private file with mode 0600, the
 * public one 0644, both without a trailing newline. Refuses when either file exists (nothing is
 * written then).
 *
 * @param name - path prefix, e.g. `keys/fwup-key`
 * @throws NervesHubError `NH_PROV_FILE_EXISTS`.
 * @example
 * ```ts
 * const { publicKey } = await createFwupKeyFiles('fwup-key'); // fwup-key.pub, fwup-key.priv
 * ```
 */
export async function createFwupKeyFiles(name: string): Promise<FwupKeyFiles> {
  const publicKeyFile = `${name}.pub`;
  const privateKeyFile = `${name}.priv`;
  await ensureAbsent([publicKeyFile, privateKeyFile]);
  const keys = generateFwupKeyPair();
  await writeNewFile(privateKeyFile, keys.privateKey, 0o600);
  await writeNewFile(publicKeyFile, keys.publicKey, 0o644);
  return { publicKeyFile, privateKeyFile, publicKey: keys.publicKey };
}

/**
 * Reads an fwup private key file. It must be readable by its owner only (mode 0600 or stricter).
 *
 * @returns the 64 bytes seed‖public key
 * @throws NervesHubError `NH_PROV_KEY_PERMISSIONS` (group/other-readable), `NH_PROV_KEY_INVALID`.
 * @example
 * ```ts
 * const key = await readFwupPrivateKey('fwup-key.priv');
 * ```
 */
export async function readFwupPrivateKey(path: string): Promise<Uint8Array> {
  let key: Uint8Array | undefined;
  await readPrivateFile(path, 'fwup private key', (bytes) => {
    try {
      key = decodeFwupPrivateKey(bytes);
    } catch (error) {
      throw new NervesHubError('NH_PROV_KEY_INVALID', `'${path}': ${(error as Error).message}`);
    }
  });
  return key!;
}

/**
 * Reads the public key of a key pair: `NAME.pub`, or derived from `NAME.priv` when there is no
 * `.pub`. `name` may also be the path of either file.
 *
 * @returns the base64 public key, ready for NervesHub and `device.json`'s `fwupPublicKeys`
 * @throws NervesHubError `NH_PROV_KEY_INVALID` when neither file is usable.
 * @example
 * ```ts
 * await readFwupPublicKey('fwup-key'); // reads fwup-key.pub
 * ```
 */
export async function readFwupPublicKey(name: string): Promise<string> {
  if (name.endsWith('.priv')) return fwupPublicKeyOf(await readFwupPrivateKey(name));
  const pubPath = name.endsWith('.pub') ? name : `${name}.pub`;
  let bytes: Buffer;
  try {
    bytes = await readFile(pubPath);
  } catch (error) {
    if (!name.endsWith('.pub') && (error as NodeJS.ErrnoException).code === 'ENOENT') return readFwupPublicKey(`${name}.priv`);
    throw new NervesHubError('NH_PROV_KEY_INVALID', `cannot read the fwup public key '${pubPath}' (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error });
  }
  try {
    return Buffer.from(parsePublicKey(bytes)).toString('base64');
  } catch (error) {
    throw new NervesHubError('NH_PROV_KEY_INVALID', `'${pubPath}' is not an fwup public key (${(error as Error).message})`, { cause: error });
  }
}
