import type { ParseResult } from '../protocol/parse-result.js';
import { isRecord } from '../protocol/parse-result.js';

/** A decoded Phoenix V2 JSON frame. @internal */
export interface PhoenixFrame {
  join_ref: string | null;
  ref: string | null;
  topic: string;
  event: string;
  payload: Record<string, unknown>;
}

/** Longest frame we try to parse; larger frames are dropped (no server message comes close). */
export const MAX_FRAME_CHARS = 4 * 1024 * 1024;

function refOf(v: unknown): string | null | undefined {
  if (v === null) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  return undefined;
}

/**
 * Decodes one websocket frame of the V2 JSON serializer (`[join_ref, ref, topic, event, payload]`)
 * and checks the shape phoenix relies on, so a malformed frame can never throw inside phoenix.
 * Binary frames are refused (the V2 serializer's binary form is not used by NervesHub).
 * @internal
 */
export function decodeFrame(raw: unknown): ParseResult<PhoenixFrame> {
  if (typeof raw !== 'string') return { ok: false, error: 'binary frame (not used by the JSON serializer)' };
  if (raw.length > MAX_FRAME_CHARS) return { ok: false, error: `frame longer than ${MAX_FRAME_CHARS} characters` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { ok: false, error: 'frame is not JSON' };
  }
  if (!Array.isArray(parsed) || parsed.length !== 5) return { ok: false, error: 'frame is not a 5-element array' };
  const [joinRefRaw, refRaw, topic, event, payload] = parsed as unknown[];
  const joinRef = refOf(joinRefRaw);
  const ref = refOf(refRaw);
  if (joinRef === undefined || ref === undefined) return { ok: false, error: 'join_ref/ref must be strings or null' };
  if (typeof topic !== 'string' || typeof event !== 'string') return { ok: false, error: 'topic/event must be strings' };
  if (!isRecord(payload)) return { ok: false, error: 'payload must be an object' };
  if (event === 'phx_reply' && typeof payload.status !== 'string') return { ok: false, error: 'phx_reply without a status' };
  return { ok: true, value: { join_ref: joinRef, ref, topic, event, payload } };
}
