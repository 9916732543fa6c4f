import type { Channel, Socket } from 'phoenix';

/**
 * The parts of phoenix's Push/Channel that @types/phoenix does not declare but that the socket
 * needs to leave no timer behind (fire-and-forget pushes, close()).
 * @internal
 */
export interface PushInternals {
  cancelTimeout(): void;
  cancelRefEvent(): void;
}

interface ChannelInternals {
  rejoinTimer: { reset(): void };
  joinPush: PushInternals;
  pushBuffer: PushInternals[];
}

/** Pushes without waiting for a reply (NervesHub never answers device pushes): no 10 s timer. @internal */
export function pushAndForget(channel: Channel, event: string, payload: Record<string, unknown>): void {
  const push = channel.push(event, payload) as unknown as PushInternals;
  push.cancelTimeout();
  push.cancelRefEvent();
}

/** Stops every timer of `channel` and removes it from `phx` (no leave is sent). @internal */
export function discardChannel(phx: Socket, channel: Channel | null): void {
  if (!channel) return;
  const internals = channel as unknown as ChannelInternals;
  internals.rejoinTimer.reset();
  internals.joinPush.cancelTimeout();
  for (const p of internals.pushBuffer) p.cancelTimeout();
  internals.pushBuffer = [];
  phx.remove(channel);
}

/** A repeating check that stops itself (firmware validation poll). @internal */
export class RepeatingCheck {
  #timer: NodeJS.Timeout | undefined;

  /** (Re)starts: every `intervalMs`, runs `check`; `true` stops it and runs `then`. */
  start(intervalMs: number, check: () => boolean, then: () => void): void {
    this.stop();
    this.#timer = setInterval(() => {
      if (!check()) return;
      this.stop();
      then();
    }, intervalMs);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
