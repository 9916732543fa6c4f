/** Phoenix V2 JSON frames: `[join_ref, ref, topic, event, payload]`. */

/** One decoded Phoenix message. */
export interface PhoenixMessage {
  readonly joinRef: string | null;
  readonly ref: string | null;
  readonly topic: string;
  readonly event: string;
  readonly payload: unknown;
}

function isRef(value: unknown): value is string | null {
  return value === null || typeof value === 'string';
}

/**
 * Decodes a text frame like Phoenix's V2 serializer (an array of at least 5 elements; extra
 * elements are ignored). Returns undefined where Phoenix would crash the socket.
 */
export function decodePhoenixFrame(text: string): PhoenixMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length < 5) return undefined;
  const [joinRef, ref, topic, event, payload] = value as unknown[];
  if (!isRef(joinRef) || !isRef(ref) || typeof topic !== 'string' || typeof event !== 'string') return undefined;
  return { joinRef, ref, topic, event, payload };
}

/** Encodes a Phoenix message as a V2 JSON text frame. */
export function encodePhoenixFrame(message: PhoenixMessage): string {
  return JSON.stringify([message.joinRef, message.ref, message.topic, message.event, message.payload]);
}

/** True for a JSON object (not an array, not null). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
