/** Map of event name → listener argument tuple. */
export type EventMap = { [event: string]: unknown[] };
import { invalidOptions } from '../errors.js';

/** A listener of event `E` of map `M`. */
export type Listener<M extends EventMap, E extends keyof M> = (...args: M[E]) => void;

/**
 * A small typed event emitter. Unlike node's EventEmitter, a listener that throws never reaches
 * the emitter's caller (it is reported to `onListenerError`), and an `error` event without a
 * listener is not thrown.
 * @internal
 */
export class TypedEmitter<M extends EventMap> {
  readonly #listeners = new Map<keyof M, Array<{ fn: Listener<M, keyof M>; once: boolean }>>();
  readonly #onListenerError: (event: keyof M, error: unknown) => void;

  constructor(onListenerError: (event: keyof M, error: unknown) => void) {
    this.#onListenerError = onListenerError;
  }

  /** Adds `listener` for `event`. */
  on<E extends keyof M>(event: E, listener: Listener<M, E>): this {
    return this.#add(event, listener, false);
  }

  /** Adds `listener` for the next `event` only. */
  once<E extends keyof M>(event: E, listener: Listener<M, E>): this {
    return this.#add(event, listener, true);
  }

  /** Removes `listener` (one registration) from `event`. */
  off<E extends keyof M>(event: E, listener: Listener<M, E>): this {
    const list = this.#listeners.get(event);
    if (!list) return this;
    const i = list.findIndex((l) => l.fn === listener);
    if (i >= 0) list.splice(i, 1);
    return this;
  }

  /** Number of listeners of `event`. */
  listenerCount(event: keyof M): number {
    return this.#listeners.get(event)?.length ?? 0;
  }

  /** Calls every listener of `event` now, isolating throws. Returns whether there was a listener. */
  protected emitNow<E extends keyof M>(event: E, ...args: M[E]): boolean {
    const list = this.#listeners.get(event);
    if (!list || list.length === 0) return false;
    for (const entry of [...list]) {
      if (entry.once) this.off(event, entry.fn as Listener<M, E>);
      try {
        (entry.fn as Listener<M, E>)(...args);
      } catch (error) {
        try {
          this.#onListenerError(event, error);
        } catch {
          // never let error reporting break dispatch
        }
      }
    }
    return true;
  }

  #add<E extends keyof M>(event: E, listener: Listener<M, E>, once: boolean): this {
    if (typeof listener !== 'function') throw invalidOptions('listener must be a function');
    let list = this.#listeners.get(event);
    if (!list) this.#listeners.set(event, (list = []));
    list.push({ fn: listener as Listener<M, keyof M>, once });
    return this;
  }
}
