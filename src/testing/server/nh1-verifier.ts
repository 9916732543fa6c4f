/**
 * Server-side verification of NervesHub "NH1" shared-secret upgrade headers, written from the
 * protocol description (nerves_hub_web `DeviceLink.Authentication` + `Plug.Crypto.verify/4`), not
 * from the SDK's signer, so the two can check each other.
 */
import { createHmac, pbkdf2, timingSafeEqual } from 'node:crypto';
import { decodeEtf, EtfDecodeError, isEtfTuple } from './etf.js';

/**
 * A key/secret pair the test server knows.
 *
 * @example
 * ```ts
 * const credential: SharedSecretCredential = { key: 'nhp_test', secret: 's3cret', kind: 'product' };
 * ```
 */
export interface SharedSecretCredential {
  /** `nhp_…` (product key) or any other key (device key, normally `nhd_…`). */
  readonly key: string;
  /** The secret, as the device holds it (used as the PBKDF2 password, UTF-8). */
  readonly secret: string;
  /** `product`: any identifier, the device is created on first use; `device`: bound to `identifier`. */
  readonly kind: 'product' | 'device';
  /** For device keys: the only identifier this key may sign for. */
  readonly identifier?: string;
}

/** Why an NH1 attempt was refused (the real server flattens all of these to `:invalid_auth` → 401). */
export type Nh1Rejection =
  | 'shared_secrets_disabled'
  | 'headers_decode_failed'
  | 'unknown_key'
  | 'missing_signature'
  | 'malformed_token'
  | 'bad_signature'
  | 'malformed_message'
  | 'expired'
  | 'future_dated'
  | 'bad_identifier';

/** Outcome of {@link verifyNh1Headers}. */
export type Nh1Verdict =
  | {
      /** The headers are valid. */
      readonly ok: true;
      /** The device identifier the signature covers. */
      readonly identifier: string;
      /** The credential that signed. */
      readonly credential: SharedSecretCredential;
      /** Signing time (Unix ms) from `x-nh-time`. */
      readonly signedAtMs: number;
    }
  | {
      /** The headers were refused. */
      readonly ok: false;
      /** Why, as nerves_hub_web would classify it. */
      readonly reason: Nh1Rejection;
    };

/**
 * Inputs of {@link verifyNh1Headers} besides the headers.
 *
 * @example
 * ```ts
 * const credentials = new Map<string, SharedSecretCredential>();
 * const options: Nh1VerifyOptions = { lookup: (k) => credentials.get(k), nowMs: Date.now(), maxAgeSeconds: 90, enabled: true };
 * ```
 */
export interface Nh1VerifyOptions {
  /** Finds a credential by its exact key. */
  readonly lookup: (key: string) => SharedSecretCredential | undefined;
  /** The server's clock, Unix milliseconds. */
  readonly nowMs: number;
  /** Accepted signature age (nerves_hub_web default 90 s). */
  readonly maxAgeSeconds: number;
  /** `false` imitates a server without `DEVICE_SHARED_SECRETS_ENABLED`. */
  readonly enabled: boolean;
}

/** Safety caps so a hostile `x-nh-alg` cannot make the test server burn minutes of CPU. */
const NH1_LIMITS = Object.freeze({ maxIterations: 5_000_000, maxKeyLength: 1024 });

/** Digest names accepted in `x-nh-alg` (lower-cased like the server does) → node:crypto names. */
const PBKDF2_DIGESTS: Readonly<Record<string, string>> = Object.freeze({
  sha: 'sha1',
  sha224: 'sha224',
  sha256: 'sha256',
  sha384: 'sha384',
  sha512: 'sha512',
  md5: 'md5',
});

/** MessageVerifier protected headers → HMAC digests. */
const TOKEN_DIGESTS: Readonly<Record<string, string>> = Object.freeze({ HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' });

/** Elixir `Integer.parse/1` fully consuming the string: optional sign, decimal digits. */
function parseElixirInteger(text: string | undefined): bigint | undefined {
  if (text === undefined || !/^[+-]?[0-9]+$/.test(text)) return undefined;
  return BigInt(text);
}

/** Strict base64url without padding, like Elixir's `Base.url_decode64(…, padding: false)`. */
function decodeBase64UrlStrict(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}

interface DecodedHeaders {
  readonly key: string;
  readonly salt: string;
  readonly digest: string;
  readonly iterations: number;
  readonly keyLength: number;
}

function decodeHeaders(headers: Readonly<Record<string, string>>): DecodedHeaders | undefined {
  const alg = headers['x-nh-alg'];
  if (alg === undefined || !alg.startsWith('NH1-HMAC-')) return undefined;
  const rest = alg.slice('NH1-HMAC-'.length);
  const parts = rest.split('-');
  if (parts.length !== 3) return undefined;
  const [digestText, iterText, lengthText] = parts as [string, string, string];
  const digest = PBKDF2_DIGESTS[digestText.toLowerCase()];
  const iterations = parseElixirInteger(iterText);
  const keyLength = parseElixirInteger(lengthText);
  const signedAt = parseElixirInteger(headers['x-nh-time']);
  const key = headers['x-nh-key'];
  if (digest === undefined || iterations === undefined || keyLength === undefined || signedAt === undefined || key === undefined) {
    return undefined;
  }
  if (iterations < 1n || iterations > BigInt(NH1_LIMITS.maxIterations)) return undefined;
  if (keyLength < 1n || keyLength > BigInt(NH1_LIMITS.maxKeyLength)) return undefined;
  // Rebuilt exactly like the server: alg re-prefixed, time re-printed from the parsed integer.
  const salt = `NH1:device-socket:shared-secret:connect\n\nx-nh-alg=NH1-HMAC-${rest}\nx-nh-key=${key}\nx-nh-time=${signedAt.toString()}\n`;
  return { key, salt, digest, iterations: Number(iterations), keyLength: Number(keyLength) };
}

function derive(secret: string, decoded: DecodedHeaders): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pbkdf2(Buffer.from(secret, 'utf8'), Buffer.from(decoded.salt, 'utf8'), decoded.iterations, decoded.keyLength, decoded.digest, (err, out) =>
      err ? reject(err) : resolve(out),
    );
  });
}

type TokenCheck = { ok: true; message: Buffer } | { ok: false; reason: 'malformed_token' | 'bad_signature' };

/** Plug.Crypto.MessageVerifier: `b64url(protected).b64url(payload).b64url(hmac)`. */
function verifyToken(token: string, derivedKey: Buffer): TokenCheck {
  const parts = token.split('.');
  if (parts.length !== 3) return { ok: false, reason: 'malformed_token' };
  const [protectedText, payloadText, signatureText] = parts as [string, string, string];
  const protectedBytes = decodeBase64UrlStrict(protectedText);
  const message = decodeBase64UrlStrict(payloadText);
  const signature = decodeBase64UrlStrict(signatureText);
  if (!protectedBytes || !message || !signature) return { ok: false, reason: 'malformed_token' };
  const digest = TOKEN_DIGESTS[protectedBytes.toString('latin1')];
  if (digest === undefined) return { ok: false, reason: 'malformed_token' };
  const expected = createHmac(digest, derivedKey).update(`${protectedText}.${payloadText}`, 'latin1').digest();
  if (expected.length !== signature.length || !timingSafeEqual(expected, signature)) return { ok: false, reason: 'bad_signature' };
  return { ok: true, message };
}

type MessageCheck = { ok: true; identifier: string; signedAtMs: number } | { ok: false; reason: 'malformed_message' };

/** The signed message must be exactly `{binary, integer, integer}` with a UTF-8 identifier. */
function decodeMessage(message: Buffer): MessageCheck {
  try {
    const term = decodeEtf(message);
    if (!isEtfTuple(term) || term.tuple.length !== 3) return { ok: false, reason: 'malformed_message' };
    const [data, signedAt, maxAge] = term.tuple;
    if (!(data instanceof Uint8Array) || typeof signedAt !== 'bigint' || typeof maxAge !== 'bigint') {
      return { ok: false, reason: 'malformed_message' };
    }
    const identifier = new TextDecoder('utf-8', { fatal: true }).decode(data);
    if (signedAt > BigInt(Number.MAX_SAFE_INTEGER) || signedAt < -BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, reason: 'malformed_message' };
    return { ok: true, identifier, signedAtMs: Number(signedAt) };
  } catch (err) {
    if (err instanceof EtfDecodeError || err instanceof TypeError) return { ok: false, reason: 'malformed_message' };
    throw err;
  }
}

/**
 * Verifies NH1 headers (`x-nh-alg`, `x-nh-key`, `x-nh-time`, `x-nh-signature`, lower-case names)
 * the way nerves_hub_web does: rebuild the salt, PBKDF2 the key's secret, check the Plug.Crypto
 * token, then the age window `[now − maxAge, now]` (future-dated signatures are refused, as in
 * plug_crypto ≥ 2.2), then the identifier rules of product and device keys.
 *
 * @example
 * ```ts
 * const verdict = await verifyNh1Headers(headers, { lookup: () => undefined, nowMs: Date.now(), maxAgeSeconds: 90, enabled: true });
 * if (verdict.ok) console.log(verdict.identifier);
 * ```
 */
export async function verifyNh1Headers(headers: Readonly<Record<string, string>>, options: Nh1VerifyOptions): Promise<Nh1Verdict> {
  if (!options.enabled) return { ok: false, reason: 'shared_secrets_disabled' };
  const decoded = decodeHeaders(headers);
  if (!decoded) return { ok: false, reason: 'headers_decode_failed' };
  const credential = options.lookup(decoded.key);
  if (!credential) return { ok: false, reason: 'unknown_key' };
  const token = headers['x-nh-signature'];
  if (token === undefined) return { ok: false, reason: 'missing_signature' };
  let derivedKey: Buffer;
  try {
    derivedKey = await derive(credential.secret, decoded);
  } catch {
    return { ok: false, reason: 'headers_decode_failed' };
  }
  const checked = verifyToken(token, derivedKey);
  if (!checked.ok) return checked;
  const message = decodeMessage(checked.message);
  if (!message.ok) return message;
  if (message.signedAtMs + Math.trunc(options.maxAgeSeconds * 1000) < options.nowMs) return { ok: false, reason: 'expired' };
  if (message.signedAtMs > options.nowMs) return { ok: false, reason: 'future_dated' };
  if (message.identifier === '') return { ok: false, reason: 'bad_identifier' };
  if (credential.kind === 'device' && credential.identifier !== message.identifier) return { ok: false, reason: 'bad_identifier' };
  return { ok: true, identifier: message.identifier, credential, signedAtMs: message.signedAtMs };
}
