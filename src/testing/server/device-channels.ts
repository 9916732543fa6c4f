/**
 * Server side of the channels a device joins (`device`, `console`, `extensions`), following
 * Phoenix.Socket's routing rules and nerves_hub_web's channel behaviour
 * (https://github.com/nerves-hub/nerves_hub_web).
 */
import type { DeviceConnection } from './device-connection.js';
import type { PhoenixMessage } from './phoenix-frame.js';
import { isJsonObject } from './phoenix-frame.js';

/** What the channel logic needs from the server. */
export interface ChannelContext {
  /** Extension names the `extensions` join answers with. */
  extensionNames(): readonly string[];
  /** Called when the `device` topic was joined (after the reply was sent). */
  onDeviceJoined(connection: DeviceConnection, params: Record<string, unknown>): void;
  /** Extensions whose device pushes are answered `{status: "error", response: "detach"}`. */
  refusedExtensions(): ReadonlySet<string>;
}

/** Topics a device may join (the DeviceSocket's channel routes). */
const DEVICE_TOPICS = new Set(['device', 'console', 'extensions']);

function handleJoin(connection: DeviceConnection, message: PhoenixMessage, context: ChannelContext): void {
  if (!DEVICE_TOPICS.has(message.topic)) {
    connection.reply(message, 'error', { reason: 'unmatched topic' });
    return;
  }
  if (!isJsonObject(message.payload)) {
    // The channel's join/3 only matches maps; anything else crashes the join.
    connection.reply(message, 'error', { reason: 'join crashed' });
    return;
  }
  connection.joins.set(message.topic, message.joinRef);
  if (message.topic === 'extensions') {
    connection.reply(message, 'ok', [...context.extensionNames()]);
    return;
  }
  connection.reply(message, 'ok', {});
  if (message.topic === 'device') {
    const params = message.payload;
    connection.deviceJoinParams = params;
    context.onDeviceJoined(connection, params);
  }
}

/**
 * Routes one message from the device. Heartbeats and joins are answered; pushes on joined topics
 * are accepted silently (the real channels never reply with data and swallow unknown events);
 * pushes on unjoined topics get Phoenix's `unmatched topic` error reply.
 */
export function routeDeviceMessage(connection: DeviceConnection, message: PhoenixMessage, context: ChannelContext): void {
  if (message.topic === 'phoenix' && message.event === 'heartbeat') {
    connection.reply(message, 'ok', {});
    return;
  }
  if (message.event === 'phx_join') {
    handleJoin(connection, message, context);
    return;
  }
  if (!connection.joins.has(message.topic)) {
    connection.reply(message, 'error', { reason: 'unmatched topic' });
    return;
  }
  const joinRef = connection.joins.get(message.topic) ?? null;
  // Phoenix drops messages for an older join of the same topic (the client raced a close).
  if (joinRef !== null && message.joinRef !== joinRef) return;
  if (message.event === 'phx_leave') {
    connection.joins.delete(message.topic);
    connection.reply(message, 'ok', {});
    return;
  }
  // ExtensionsChannel: a push of an extension the device may not use is answered "detach" (§4.4)
  if (message.topic === 'extensions' && message.ref !== null) {
    const name = message.event.split(':')[0] ?? '';
    const lifecycle = /:(attached|detached|error)$/.test(message.event);
    if (!lifecycle && context.refusedExtensions().has(name)) connection.reply(message, 'error', 'detach');
  }
  // fire-and-forget device events: recorded by the server, nothing to answer.
}
