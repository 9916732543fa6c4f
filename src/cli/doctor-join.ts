/**
 * The join step of `nerves-hub-link doctor` (opt-in, `--join`): joins the `device` topic once with
 * a real {@link NervesHubSocket}, waits briefly for the fwup keys NervesHub pushes when the join
 * asked for them, then leaves.
 */
import type { NervesHubError } from '../errors.js';
import { NervesHubSocket } from '../socket/nerves-hub-socket.js';
import type { NervesHubSocketOptions } from '../socket/options.js';
import { withTimeout } from './doctor-probes.js';

/** What one join showed. */
export interface JoinFacts {
  /** Time from connect to joined, ms. */
  joinMs: number;
  /** fwup keys NervesHub sent after the join (empty when it sent none, or was not asked). */
  serverKeys: string[];
}

/**
 * Joins once and closes. When the socket asks for keys (none configured), waits up to
 * `keysWaitMs` for NervesHub's answer; an empty or malformed answer ends the wait at once.
 */
export async function joinOnce(socketOptions: NervesHubSocketOptions, limits: { timeoutMs: number; keysWaitMs: number }): Promise<JoinFacts> {
  const { timeoutMs, keysWaitMs } = limits;
  const socket = new NervesHubSocket({ ...socketOptions, joinTimeoutMs: timeoutMs, connectTimeoutMs: timeoutMs, reconnectBaseMs: 60_000, reconnectMaxMs: 60_000 });
  const asksForKeys = (socketOptions.fwupPublicKeys ?? []).length === 0;
  let serverKeys: string[] = [];
  let keysSettled!: () => void;
  const keysAnswered = new Promise<void>((resolve) => (keysSettled = resolve));
  socket.on('fwupPublicKeys', (keys) => {
    serverKeys = [...keys];
    keysSettled();
  });
  socket.on('invalidMessage', (info) => {
    if (info.event === 'fwup_public_keys') keysSettled(); // e.g. an empty list: no keys
  });
  const started = performance.now();
  try {
    const outcome = await withTimeout(
      new Promise<{ ok: true } | { ok: false; error: NervesHubError }>((resolve) => {
        socket.once('connected', () => resolve({ ok: true }));
        socket.once('error', (error) => resolve({ ok: false, error }));
        socket.connect();
      }),
      timeoutMs,
      'joining the device topic',
    );
    if (!outcome.ok) throw outcome.error;
    const joinMs = Math.round(performance.now() - started);
    if (asksForKeys) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([keysAnswered, new Promise((resolve) => (timer = setTimeout(resolve, keysWaitMs)))]);
      clearTimeout(timer);
    }
    return { joinMs, serverKeys };
  } finally {
    await socket.close();
  }
}
