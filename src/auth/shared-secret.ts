import { createHmac, getHashes, pbkdf2Sync } from 'node:crypto';
import { invalidOptions } from '../errors.js';

/** Defaults of the NH1 shared-secret signature (nerves_hub_link's `shared_secret` defaults). */
export const SHARED_SECRET_DEFAULTS = Object.freeze({
  /** PBKDF2 digest (nerves_hub_link's default). */
  digest: 'sha256',
  /** PBKDF2 iterations. */
  iterations: 1000,
  /** PBKDF2 derived key length in bytes. */
  keyLength: 32,
  /** Plug.Crypto's default `max_age` embedded in the signed term (seconds); the server enforces its own 90 s. */
  tokenMaxAgeSeconds: 86_400,
});

/**
 * Inputs of {@link createSharedSecretHeaders}.
 *
 * @example
 * ```ts
 * const headers = createSharedSecretHeaders({ key: 'nhd_…', secret, identifier: 'NH-0001', signedAt: Math.floor(Date.now() / 1000) });
 * ```
 * @category Connection
 */
export interface SharedSecretHeaderOptions {
  /** Product key (`nhp_…`) or device key (`nhd_…`). */
  key: string;
  /** The secret belonging to `key`. Never logged. */
  secret: string;
  /** The device identifier (serial number) being signed. */
  identifier: string;
  /** Signing time in Unix **seconds** (default: now). Must be a non-negative integer. */
  signedAt?: number;
  /** PBKDF2 digest name, lower case as on the wire (default `sha256`). */
  digest?: string;
  /** PBKDF2 iterations (default 1000). */
  iterations?: number;
  /** Derived key length in bytes (default 32). */
  keyLength?: number;
}

/**
 * The four upgrade headers of NH1 shared-secret authentication.
 *
 * @example
 * ```ts
 * const headers: SharedSecretHeaders = createSharedSecretHeaders({ key, secret, identifier });
 * new WebSocket(url, { headers: { ...headers } });
 * ```
 * @category Connection
 */
export interface SharedSecretHeaders {
  /** Algorithm, `NH1-HMAC-<digest>-<iterations>-<keyLength>`. */
  'x-nh-alg': string;
  /** The product or device key (not secret). */
  'x-nh-key': string;
  /** Signing time, Unix seconds. */
  'x-nh-time': string;
  /** The signed token (Plug.Crypto MessageVerifier format). */
  'x-nh-signature': string;
}

const SALT_PREFIX = 'NH1:device-socket:shared-secret:connect\n\n';
// "HS256" in base64url: Plug.Crypto.MessageVerifier's protected header; always HMAC-SHA256.
const TOKEN_PROTECTED = 'SFMyNTY';

function base64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

/**
 * Erlang External Term Format of `{identifier :: binary, signedAtMs :: integer, maxAge :: integer}`,
 * exactly as `:erlang.term_to_binary/1` writes it (what Plug.Crypto signs).
 */
function encodeSignedTerm(identifier: string, signedAtMs: number, maxAgeSeconds: number): Buffer {
  const id = Buffer.from(identifier, 'utf8');
  return Buffer.concat([
    Buffer.from([131, 104, 3]), // version, SMALL_TUPLE_EXT arity 3
    Buffer.from([109]), // BINARY_EXT
    u32(id.length),
    id,
    encodeInteger(signedAtMs),
    encodeInteger(maxAgeSeconds),
  ]);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** Encodes a non-negative integer the way term_to_binary does (smallest of the three forms). */
function encodeInteger(n: number): Buffer {
  if (n < 256) return Buffer.from([97, n]); // SMALL_INTEGER_EXT
  if (n <= 0x7fffffff) {
    const b = Buffer.alloc(5);
    b[0] = 98; // INTEGER_EXT (signed 32-bit BE)
    b.writeInt32BE(n, 1);
    return b;
  }
  // SMALL_BIG_EXT: n bytes little-endian magnitude, sign 0.
  const digits: number[] = [];
  let v = BigInt(n);
  while (v > 0n) {
    digits.push(Number(v & 0xffn));
    v >>= 8n;
  }
  return Buffer.from([110, digits.length, 0, ...digits]);
}

function requireString(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw invalidOptions(`shared secret: ${name} must be a non-empty string`);
  return value;
}

function requirePositiveInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw invalidOptions(`shared secret: ${name} must be a positive integer`);
  }
  return value;
}

/**
 * Builds the NervesHub NH1 shared-secret upgrade headers (`x-nh-alg`, `x-nh-key`, `x-nh-time`,
 * `x-nh-signature`), byte-exact with nerves_hub_link / Plug.Crypto. The server accepts a
 * signature only within 90 s after `signedAt` and never one from the future, so compute fresh
 * headers for every connection attempt.
 *
 * @throws NervesHubError `NH_INVALID_OPTIONS` on missing or malformed inputs, or a digest node:crypto does not know.
 * @example
 * ```ts
 * const headers = createSharedSecretHeaders({ key: 'nhp_…', secret, identifier: 'NH-0001' });
 * ```
 * @category Connection
 */
export function createSharedSecretHeaders(options: SharedSecretHeaderOptions): SharedSecretHeaders {
  const key = requireString('key', options.key);
  const secret = requireString('secret', options.secret);
  const identifier = requireString('identifier', options.identifier);
  const digest = requireString('digest', options.digest ?? SHARED_SECRET_DEFAULTS.digest).toLowerCase();
  if (!/^[a-z0-9-]+$/.test(digest) || !getHashes().includes(digest)) {
    throw invalidOptions(`shared secret: unknown digest "${digest}"`);
  }
  const iterations = requirePositiveInteger('iterations', options.iterations ?? SHARED_SECRET_DEFAULTS.iterations);
  const keyLength = requirePositiveInteger('keyLength', options.keyLength ?? SHARED_SECRET_DEFAULTS.keyLength);
  const signedAt = options.signedAt ?? Math.floor(Date.now() / 1000);
  if (typeof signedAt !== 'number' || !Number.isSafeInteger(signedAt) || signedAt < 0) {
    throw invalidOptions('shared secret: signedAt must be a non-negative integer of Unix seconds');
  }

  const alg = `NH1-HMAC-${digest}-${iterations}-${keyLength}`;
  const time = String(signedAt);
  const salt = `${SALT_PREFIX}x-nh-alg=${alg}\nx-nh-key=${key}\nx-nh-time=${time}\n`;
  const derivedKey = pbkdf2Sync(Buffer.from(secret, 'utf8'), Buffer.from(salt, 'utf8'), iterations, keyLength, digest);
  const message = encodeSignedTerm(identifier, signedAt * 1000, SHARED_SECRET_DEFAULTS.tokenMaxAgeSeconds);
  const signingInput = `${TOKEN_PROTECTED}.${base64Url(message)}`;
  const signature = createHmac('sha256', derivedKey).update(signingInput, 'ascii').digest();
  return {
    'x-nh-alg': alg,
    'x-nh-key': key,
    'x-nh-time': time,
    'x-nh-signature': `${signingInput}.${base64Url(signature)}`,
  };
}
