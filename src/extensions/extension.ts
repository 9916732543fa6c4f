import type { Logger } from '../logging/logger.js';

/**
 * What an attached extension may do: push `<name>:<event>` on the `extensions` topic.
 *
 * @example
 * ```ts
 * function report(ctx: ExtensionContext, value: number): boolean {
 *   return ctx.push('report', { value }); // sent as "<name>:report"; false while not attached
 * }
 * ```
 */
export interface ExtensionContext {
  /** Pushes `<name>:<event>`; false (dropped) while the extension is not attached or the topic not joined. */
  push(event: string, payload: Record<string, unknown>): boolean;
  /** The SDK's log sink. */
  readonly logger: Logger;
}

/**
 * A device extension (reference §3.3, §7): offered at the `extensions` join as `{name: version}`,
 * attached when NervesHub lists it, and routed the server events `<name>:<event>` it names.
 *
 * @example
 * ```ts
 * const ping: DeviceExtension = {
 *   name: 'ping', version: '0.0.1', events: ['ping'],
 *   handle: (event, payload, ctx) => void ctx.push('pong', {}),
 * };
 * ```
 */
export interface DeviceExtension {
  /** Wire name (`health`, `geo`, …). */
  readonly name: string;
  /** Version offered at join (NervesHub accepts `~> 0.0.1`). */
  readonly version: string;
  /** Server events this extension handles, without the `<name>:` prefix (e.g. `check`). */
  readonly events: readonly string[];
  /** Starts the extension; a throw or rejection is reported as `<name>:error {reason: "start_failure"}`. */
  attach?(ctx: ExtensionContext): void | Promise<void>;
  /** Stops it (errors are logged). */
  detach?(): void | Promise<void>;
  /** Handles one server event while attached (errors are logged, never crash the socket). */
  handle(event: string, payload: Record<string, unknown>, ctx: ExtensionContext): void | Promise<void>;
}

/** Version of the built-in extensions (what nerves_hub_link offers). */
export const EXTENSION_VERSION = '0.0.1';
