import type { ParseResult } from './parse-result.js';
import { isRecord } from './parse-result.js';

/** Byte length of an Ed25519 public key. */
const ED25519_PUBLIC_KEY_BYTES = 32;

/**
 * Validates a `fwup_public_keys` / `archive_public_keys` payload `{keys: [base64, …]}`.
 * Keeps the keys that are base64 of 32 bytes (Ed25519); refuses the message when none is left,
 * so an empty or garbage list can never clear the keys a device already has.
 *
 * @example
 * ```ts
 * const parsed = parsePublicKeysMessage({ keys: [pub] });
 * const keys = parsed.ok ? parsed.value : [];
 * ```
 */
export function parsePublicKeysMessage(payload: unknown): ParseResult<string[]> {
  if (!isRecord(payload)) return { ok: false, error: 'payload is not an object' };
  const keys = payload.keys;
  if (!Array.isArray(keys)) return { ok: false, error: 'keys must be a list' };
  const valid = keys.filter((k): k is string => typeof k === 'string' && isEd25519PublicKeyBase64(k));
  if (valid.length === 0) return { ok: false, error: 'keys holds no base64 Ed25519 public key' };
  return { ok: true, value: [...new Set(valid)] };
}

/**
 * True when `key` is standard base64 of exactly 32 bytes.
 *
 * @example
 * ```ts
 * isEd25519PublicKeyBase64(readFileSync('fwup-key.pub', 'utf8')); // true for a fwup public key
 * ```
 */
export function isEd25519PublicKeyBase64(key: string): boolean {
  if (!/^[A-Za-z0-9+/]{43}=$/.test(key.trim())) return false;
  return Buffer.from(key.trim(), 'base64').length === ED25519_PUBLIC_KEY_BYTES;
}

/**
 * A `scripts/run` request from the server.
 *
 * @example
 * ```ts
 * socket.on('scriptsRun', (request: ScriptRunRequest) => {
 *   socket.replyScript(request.ref, { result: 'error', reason: 'unsupported', output: '' });
 * });
 * ```
 */
export interface ScriptRunRequest {
  /** Correlation ref to echo in the reply (`connecting_code` for the connect-time script). */
  ref: string;
  /** The script text (Elixir for Nerves devices; what it means on a Node device is up to the app). */
  text: string;
  /** Time limit in ms, when the server set one (the device default is 10 000 ms). */
  timeoutMs?: number;
}

/**
 * Validates a `scripts/run` payload `{text, ref, timeout?}`.
 *
 * @example
 * ```ts
 * const parsed = parseScriptRunRequest({ ref: '1', text: 'IO.puts(1)' });
 * if (!parsed.ok) logger.log('warn', parsed.error);
 * ```
 */
export function parseScriptRunRequest(payload: unknown): ParseResult<ScriptRunRequest> {
  if (!isRecord(payload)) return { ok: false, error: 'payload is not an object' };
  if (typeof payload.ref !== 'string' || payload.ref.length === 0) return { ok: false, error: 'ref missing' };
  if (typeof payload.text !== 'string') return { ok: false, error: 'text missing' };
  const request: ScriptRunRequest = { ref: payload.ref, text: payload.text };
  if (payload.timeout !== undefined && payload.timeout !== null) {
    if (typeof payload.timeout !== 'number' || !Number.isSafeInteger(payload.timeout) || payload.timeout <= 0) {
      return { ok: false, error: 'timeout must be a positive integer' };
    }
    request.timeoutMs = payload.timeout;
  }
  return { ok: true, value: request };
}

/** The device's answer to a `scripts/run` request. */
export type ScriptRunResult =
  | {
      /** The script ran. */
      result: 'completed';
      /** What it printed. */
      output: string;
      /** Its return value, as text. */
      returnValue: string;
    }
  | {
      /** The script failed or was refused. */
      result: 'error';
      /** Why (e.g. `unsupported`). */
      reason: string;
      /** What it printed before failing. */
      output: string;
    };

/** Builds the `scripts/run` reply push payload (nerves_hub_link's shapes). */
export function scriptRunReplyPayload(ref: string, r: ScriptRunResult): Record<string, unknown> {
  if (r.result === 'completed') return { ref, result: 'completed', output: r.output, return: r.returnValue };
  return { ref, result: 'error', reason: r.reason, output: r.output, return: '' };
}

/** Validates a payload that must be an object and carries nothing (`reboot`, `identify`, `extensions:get`). */
export function parseEmptyMessage(payload: unknown): ParseResult<Record<string, never>> {
  if (!isRecord(payload)) return { ok: false, error: 'payload is not an object' };
  return { ok: true, value: {} };
}
