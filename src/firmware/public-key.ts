/** Length of an Ed25519 public key in bytes. */
export const ED25519_PUBLIC_KEY_LENGTH = 32;
import { invalidOptions } from '../errors.js';

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * Decodes base64 the way fwup reads keys: padding optional, decoding stops at the first character
 * that is not in the standard alphabet (so a trailing newline or `=` ends the key).
 */
function decodeBase64Prefix(text: string): Uint8Array {
  const out: number[] = [];
  let bits = 0;
  let bitCount = 0;
  for (const ch of text) {
    const value = BASE64_ALPHABET.indexOf(ch);
    if (value < 0) break;
    bits = (bits << 6) | value;
    bitCount += 6;
    if (bitCount >= 8) {
      bitCount -= 8;
      out.push((bits >> bitCount) & 0xff);
    }
    bits &= (1 << bitCount) - 1;
  }
  return Uint8Array.from(out);
}

/**
 * Parses an fwup public key into its 32 raw bytes, following fwup's rules: exactly 32 bytes are
 * taken as the raw key; otherwise the input is base64 (padding optional, decoding stops at the first
 * non-base64 character, e.g. a trailing newline) and must decode to exactly 32 bytes.
 *
 * @param input - base64 text (e.g. the contents of `fwup-key.pub`) or the key bytes / file bytes
 * @returns the 32-byte Ed25519 public key
 * @throws NervesHubError `NH_INVALID_OPTIONS` when the input is not a usable key (fwup: "Error decoding public key")
 *
 * @example
 * ```ts
 * const key = parsePublicKey(readFileSync('fwup-key.pub')); // base64 file or 32 raw bytes
 * ```
 */
export function parsePublicKey(input: string | Uint8Array): Uint8Array {
  if (input instanceof Uint8Array) {
    if (input.length === ED25519_PUBLIC_KEY_LENGTH) return new Uint8Array(input);
    return parsePublicKey(new TextDecoder('latin1').decode(input));
  }
  if (typeof input !== 'string') throw invalidOptions('Error decoding public key: expected a string or Uint8Array');
  const decoded = decodeBase64Prefix(input);
  if (decoded.length !== ED25519_PUBLIC_KEY_LENGTH) {
    throw invalidOptions(`Error decoding public key: expected ${ED25519_PUBLIC_KEY_LENGTH} bytes, got ${decoded.length}`);
  }
  return decoded;
}
