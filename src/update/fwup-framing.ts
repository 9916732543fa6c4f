import { NervesHubError, invalidOptions } from '../errors.js';
import type { FwupMessage } from './update-client.js';

/**
 * One packet of fwup's `--framing` output.
 *
 * @example
 * ```ts
 * for (const frame of decoder.push(chunk)) if (frame.kind === 'packet') client.onFwupMessage?.(fwupMessageOf(frame));
 * ```
 */
export interface FwupPacket {
  /** Discriminant: a framed packet. */
  kind: 'packet';
  /** `OK`, `ER`, `WN` or `PR` (fwup emits no other type; anything else is kept as sent). */
  type: string;
  /** Big-endian 16-bit code: the percentage for `PR`, 0 otherwise. */
  code: number;
  /** Message text (UTF-8), empty for `PR`. */
  message: string;
}

/**
 * The two raw bytes `--exit-handshake` writes before fwup exits (0x1A, exit status).
 *
 * @example
 * ```ts
 * const frames = decoder.push(chunk);
 * const exitStatus = frames.find((f) => f.kind === 'exit-handshake')?.status;
 * ```
 */
export interface FwupExitHandshake {
  /** Discriminant: fwup's exit handshake (`0x1A` + status) after its last packet. */
  kind: 'exit-handshake';
  /** fwup's exit status from the handshake. */
  status: number;
}

/** What {@link FwupFramingDecoder} produces. */
export type FwupFrame = FwupPacket | FwupExitHandshake;

/** First byte of fwup's exit handshake. */
const HANDSHAKE_MARKER = 0x1a;
/** A packet this large is not fwup talking (and a length starting 0x1A would be ≥ 436 MB). */
const MAX_PACKET_BYTES = 16 * 1024 * 1024;

function framingError(message: string): NervesHubError {
  return new NervesHubError('NH_FWUP_FRAMING', `fwup framing: ${message}`);
}

/**
 * Incremental decoder of fwup `--framing` output: 4-byte big-endian length L, then a 2-byte
 * ASCII type, a 2-byte big-endian code and L-4 bytes of message. Packets may be split across
 * reads in any way. A 0x1A byte where a packet would start is the `--exit-handshake` (0x1A and
 * the exit status); bytes after it are ignored.
 *
 * @example
 * ```ts
 * const decoder = new FwupFramingDecoder();
 * child.stdout?.on('data', (chunk: Buffer) => decoder.push(chunk).forEach((frame) => log(frame)));
 * ```
 */
export class FwupFramingDecoder {
  #buffer: Buffer = Buffer.alloc(0);
  #handshakeSeen = false;

  /** Bytes received but not yet part of a complete frame. */
  get pendingBytes(): number {
    return this.#buffer.length;
  }

  /** True once the exit handshake was decoded. */
  get handshakeSeen(): boolean {
    return this.#handshakeSeen;
  }

  /**
   * Feeds bytes; returns the frames completed by them.
   * @throws NervesHubError `NH_FWUP_FRAMING` on garbage or an implausible packet length.
   */
  push(chunk: Uint8Array): FwupFrame[] {
    if (this.#handshakeSeen) return [];
    this.#buffer = this.#buffer.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.#buffer, chunk]);
    const frames: FwupFrame[] = [];
    let at = 0;
    for (;;) {
      const available = this.#buffer.length - at;
      if (available >= 1 && this.#buffer[at] === HANDSHAKE_MARKER) {
        if (available < 2) break;
        frames.push({ kind: 'exit-handshake', status: this.#buffer[at + 1] ?? 0 });
        this.#handshakeSeen = true;
        this.#buffer = Buffer.alloc(0);
        return frames;
      }
      if (available < 4) break;
      const length = this.#buffer.readUInt32BE(at);
      if (length < 4) throw framingError(`packet length ${length} is shorter than its 4-byte header`);
      if (length > MAX_PACKET_BYTES) throw framingError(`packet length ${length} is implausible`);
      if (available < 4 + length) break;
      const start = at + 4;
      frames.push({
        kind: 'packet',
        type: this.#buffer.toString('latin1', start, start + 2),
        code: this.#buffer.readUInt16BE(start + 2),
        message: this.#buffer.toString('utf8', start + 4, start + length),
      });
      at = start + length;
    }
    this.#buffer = this.#buffer.subarray(at);
    return frames;
  }

  /**
   * Call at end of output.
   * @throws NervesHubError `NH_FWUP_FRAMING` when a packet was cut short.
   */
  end(): void {
    if (this.#buffer.length > 0) throw framingError(`output ended inside a packet (${this.#buffer.length} bytes left over)`);
  }
}

/**
 * Maps a packet to the SDK's {@link FwupMessage} (unknown types become warnings).
 *
 * @example
 * ```ts
 * for (const frame of decoder.push(chunk)) {
 *   if (frame.kind === 'packet') await client.onFwupMessage?.(fwupMessageOf(frame)); // e.g. { type: 'progress', percent: 42 }
 * }
 * ```
 */
export function fwupMessageOf(packet: FwupPacket): FwupMessage {
  switch (packet.type) {
    case 'PR':
      return { type: 'progress', percent: packet.code };
    case 'OK':
      return { type: 'ok', message: packet.message };
    case 'ER':
      return { type: 'error', message: packet.message };
    case 'WN':
      return { type: 'warning', message: packet.message };
    default:
      return { type: 'warning', message: `[${packet.type}] ${packet.message}` };
  }
}

/** The zero-length packet that ends framed stdin input. */
export const FRAMED_INPUT_END: Uint8Array = new Uint8Array(4);

/**
 * Frames archive bytes for `fwup --framing -i -` (with `--framing`, stdin must be framed too):
 * each packet is a 4-byte big-endian length and that many bytes. `bytes` is split into packets of
 * at most `maxPacketBytes`. An empty input yields nothing (a zero-length packet would end the input;
 * send {@link FRAMED_INPUT_END} for that).
 *
 * @example
 * ```ts
 * for (const packet of frameInput(chunk)) stdin.write(packet);
 * stdin.end(FRAMED_INPUT_END);
 * ```
 */
export function* frameInput(bytes: Uint8Array, maxPacketBytes = 64 * 1024): Generator<Buffer> {
  if (!Number.isInteger(maxPacketBytes) || maxPacketBytes < 1 || maxPacketBytes > 0xffffffff) {
    throw invalidOptions(`maxPacketBytes must be an integer in 1..2^32-1 (got ${maxPacketBytes})`);
  }
  for (let at = 0; at < bytes.length; at += maxPacketBytes) {
    const payload = bytes.subarray(at, Math.min(bytes.length, at + maxPacketBytes));
    const packet = Buffer.allocUnsafe(4 + payload.length);
    packet.writeUInt32BE(payload.length, 0);
    packet.set(payload, 4);
    yield packet;
  }
}
