import type { Logger } from '../logging/logger.js';
import { safeLog, silentLogger } from '../logging/logger.js';
import type { ProgressStage } from '../protocol/status.js';
import type { FwupMessage, UpdateClient } from './update-client.js';
import { guardedCall } from './guarded-call.js';

/** Defaults of {@link guardUpdateClient}. */
export const GUARDED_CLIENT_DEFAULTS = Object.freeze({
  /** How long a hook may take before the SDK stops waiting for it (ms). */
  timeoutMs: 10_000,
});

/**
 * The optional {@link UpdateClient} hooks, made safe to call from SDK internals: each one runs
 * under a timeout and try/catch (errors are logged, never thrown), missing hooks fall back to
 * nerves_hub_link's defaults, and answers are validated. `updateAvailable` is not here: the
 * `UpdateManager` asks it with its own (longer) decision timeout.
 *
 * @example
 * ```ts
 * const hooks: GuardedUpdateClient = guardUpdateClient(client, { logger });
 * await hooks.identify(); // never throws, never hangs longer than the timeout
 * ```
 */
export interface GuardedUpdateClient {
  /** Calls `onProgress`, if any. */
  onProgress(stage: ProgressStage, percent: number): Promise<void>;
  /** Calls `onFwupMessage`, if any. */
  onFwupMessage(message: FwupMessage): Promise<void>;
  /** Calls `onError`, if any. */
  onError(error: Error): Promise<void>;
  /** Resolves `false` when there is no reboot hook (the caller decides what to log). */
  reboot(): Promise<boolean>;
  /** Calls `identify`, if any. */
  identify(): Promise<void>;
  /** Calls `connected`, if any. */
  connected(): Promise<void>;
  /** Default `true`; a failure or a non-boolean answer also counts as `true` (like nerves_hub_link). */
  firmwareValidated(): Promise<boolean>;
  /** Default `false`; a failure or a non-boolean answer also counts as `false`. */
  firmwareAutoRevertDetected(): Promise<boolean>;
  /** A list of finite delays ≥ 0 (ms), or `undefined` for the SDK's default (also on failure/bad answer). */
  reconnectBackoff(): Promise<number[] | undefined>;
}

/**
 * Wraps an {@link UpdateClient}'s hooks so a throwing or hanging app callback can never wedge the
 * SDK: the hook's error is logged and the update goes on (or, for `updateAvailable`, is ignored).
 * Pass `signal` to stop waiting at shutdown.
 *
 * @example
 * ```ts
 * const hooks = guardUpdateClient(client, { logger, timeoutMs: 5_000 });
 * socket.on('identify', () => void hooks.identify());
 * const validated = await hooks.firmwareValidated();
 * ```
 */
export function guardUpdateClient(
  client: UpdateClient,
  options: { timeoutMs?: number; logger?: Logger; signal?: AbortSignal } = {},
): GuardedUpdateClient {
  const logger = options.logger ?? silentLogger;
  const timeoutMs = options.timeoutMs ?? GUARDED_CLIENT_DEFAULTS.timeoutMs;
  const signal = options.signal;
  async function call<T>(name: keyof UpdateClient, fn: (() => T | Promise<T>) | undefined): Promise<{ ok: true; value: Awaited<T> } | { ok: false }> {
    if (fn === undefined) return { ok: false };
    const result = await guardedCall(fn, { name, timeoutMs, logger, signal });
    return result.ok ? result : { ok: false };
  }
  const flag = async (name: 'firmwareValidated' | 'firmwareAutoRevertDetected', fallback: boolean): Promise<boolean> => {
    const hook = client[name];
    const r = await call(name, hook && (() => hook.call(client)));
    if (!r.ok) return fallback;
    if (typeof r.value !== 'boolean') {
      safeLog(logger, 'warn', `${name}() did not return a boolean; using ${String(fallback)}`, { callback: name });
      return fallback;
    }
    return r.value;
  };
  return {
    async onProgress(stage, percent) {
      const hook = client.onProgress;
      await call('onProgress', hook && (() => hook.call(client, stage, percent)));
    },
    async onFwupMessage(message) {
      const hook = client.onFwupMessage;
      await call('onFwupMessage', hook && (() => hook.call(client, message)));
    },
    async onError(error) {
      const hook = client.onError;
      await call('onError', hook && (() => hook.call(client, error)));
    },
    async reboot() {
      const hook = client.reboot;
      if (hook === undefined) return false;
      await call('reboot', () => hook.call(client));
      return true;
    },
    async identify() {
      const hook = client.identify;
      await call('identify', hook && (() => hook.call(client)));
    },
    async connected() {
      const hook = client.connected;
      await call('connected', hook && (() => hook.call(client)));
    },
    firmwareValidated: () => flag('firmwareValidated', true),
    firmwareAutoRevertDetected: () => flag('firmwareAutoRevertDetected', false),
    async reconnectBackoff() {
      const hook = client.reconnectBackoff;
      const r = await call('reconnectBackoff', hook && (() => hook.call(client)));
      if (!r.ok || r.value === undefined || r.value === null) return undefined;
      const v: unknown = r.value;
      if (!Array.isArray(v) || v.length === 0 || !v.every((d): d is number => typeof d === 'number' && Number.isFinite(d) && d >= 0)) {
        safeLog(logger, 'warn', 'reconnectBackoff() did not return a non-empty list of delays ≥ 0; using the default', { callback: 'reconnectBackoff' });
        return undefined;
      }
      return [...v];
    },
  };
}
