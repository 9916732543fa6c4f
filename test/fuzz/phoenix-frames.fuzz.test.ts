// Hostile server frames against a joined NervesHubSocket: every server event, valid payloads
// mutated field by field, arbitrary JSON, garbled text and binary frames, injected raw through
// NervesHubTestServer.sendRaw. Property: nothing escapes (no unhandled rejection, no uncaught
// exception), the socket stays joined on its first join, and a later valid update still arrives.
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NervesHubSocket } from '../../src/socket/nerves-hub-socket.js';
import { NervesHubTestServer } from '../../src/testing/index.js';
import { FIRMWARE, certificateSocket, nextEvent } from '../socket/helpers.js';
import { FUZZ_SEED, fuzzRuns, fuzzTimeoutMs, trapEscapes } from './fuzz-settings.js';

const KEY_A = Buffer.alloc(32, 1).toString('base64');
const KEY_B = Buffer.alloc(32, 2).toString('base64');
const RUNS = fuzzRuns(40);
const ID = 'NH-FUZZ-FRAMES';

/** A valid payload of every event the server may send on the device topic (protocol §4). */
const VALID: Record<string, Record<string, unknown>> = {
  update: {
    update_available: true,
    firmware_url: 'https://fw.example/f.fw?X-Amz-Signature=s',
    firmware_meta: { uuid: 'u-1', product: 'hello', version: '1.2.4', platform: 'rpi4', architecture: 'arm', author: null, description: null, vcs_identifier: null, misc: null },
    size: 1234,
    checksum: 'ab'.repeat(32),
    partials_checksums: null,
    deployment_id: 7,
  },
  reboot: {},
  identify: {},
  archive: { size: 10, uuid: 'a-2', version: '1.0.0', description: 'd', platform: 'p', architecture: 'arm', uploaded_at: '2026-01-01T00:00:00', url: 'https://s3/a?sig=1' },
  fwup_public_keys: { keys: [KEY_B] },
  archive_public_keys: { keys: [KEY_B] },
  'scripts/run': { text: 'IO.puts(1)', ref: 'r1', timeout: 500 },
  'extensions:get': {},
  phx_reply: { status: 'ok', response: {} },
  phx_error: {},
  phx_close: {},
};
const EVENTS = Object.keys(VALID);
/** Control events a real channel acts on when they carry the current join_ref: fuzzed with other refs. */
const CHANNEL_CONTROL = new Set(['phx_reply', 'phx_error', 'phx_close']);

const json = fc.jsonValue({ maxDepth: 3 });
const nasty = fc.oneof(
  json,
  fc.string({ maxLength: 5000, unit: 'binary' }),
  fc.constantFrom('', '\u0000', '\u001b[31mred', 'line\nforged: log', '💥'.repeat(300), 'http://plain.example/fw', 'file:///etc/passwd', '-1', 'NaN'),
  fc.constantFrom(-1, 0, 1e308, Number.MAX_SAFE_INTEGER + 2, 1.5, true, null),
);

/** A valid payload with fields replaced, removed or added; or any JSON at all. */
function payloadFor(event: string): fc.Arbitrary<unknown> {
  const valid = VALID[event]!;
  const fields = Object.keys(valid);
  const edits = fc.array(
    fc.oneof(
      fields.length > 0 ? fc.tuple(fc.constant('set' as const), fc.constantFrom(...fields), nasty) : fc.constant(['noop' as const, '', null] as const),
      fields.length > 0 ? fc.tuple(fc.constant('delete' as const), fc.constantFrom(...fields), fc.constant(null)) : fc.constant(['noop' as const, '', null] as const),
      fc.tuple(fc.constant('set' as const), fc.string({ maxLength: 20 }), nasty),
    ),
    { maxLength: 4 },
  );
  return fc.oneof(
    { weight: 4, arbitrary: edits.map((list) => {
      const out: Record<string, unknown> = structuredClone(valid);
      for (const [op, field, value] of list) {
        if (op === 'set') out[field] = value;
        else if (op === 'delete') delete out[field];
      }
      return out;
    }) },
    { weight: 1, arbitrary: json },
  );
}

/** One hostile frame, as the text (or bytes) the server sends. */
function frameArb(currentJoinRef: string): fc.Arbitrary<string | Uint8Array> {
  const envelope = fc.constantFrom(...EVENTS).chain((event) =>
    fc.tuple(
      CHANNEL_CONTROL.has(event) ? fc.constantFrom(null, 'stale', '999') : fc.constantFrom(currentJoinRef, currentJoinRef, null, 'stale'),
      fc.oneof(fc.constant(null), fc.string({ maxLength: 6 })),
      fc.constantFrom('device', 'device', 'device', 'phoenix', 'extensions', 'console', 'x'),
      fc.constant(event),
      payloadFor(event),
    ),
  );
  const text = envelope.map((frame) => JSON.stringify(frame));
  // Garbled text: a valid frame cut short, or with one character replaced.
  const garbled = fc.tuple(text, fc.nat(), fc.string({ minLength: 1, maxLength: 1 }), fc.boolean()).map(([t, at, ch, cut]) => {
    const i = at % Math.max(1, t.length);
    return cut ? t.slice(0, i) : t.slice(0, i) + ch + t.slice(i + 1);
  });
  return fc.oneof(
    { weight: 6, arbitrary: text },
    { weight: 2, arbitrary: garbled },
    { weight: 1, arbitrary: json.map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }) },
  );
}

describe('fuzz: hostile Phoenix frames against a joined NervesHubSocket (seeded, bounded)', () => {
  let server: NervesHubTestServer;
  let socket: NervesHubSocket;
  let trap: ReturnType<typeof trapEscapes>;

  beforeEach(async () => {
    trap = trapEscapes();
    server = await NervesHubTestServer.start({ fwupPublicKeys: [KEY_A] });
    socket = await certificateSocket(server, ID);
    // A throwing app listener must not change anything either.
    socket.on('invalidMessage', () => {
      throw new Error('app listener bug');
    });
    const connected = nextEvent(socket, 'connected');
    const afterJoinPushes = nextEvent(socket, 'extensions:get');
    socket.connect();
    await connected;
    await afterJoinPushes;
  });
  afterEach(async () => {
    await socket.close();
    await server.close();
    trap.remove();
  });

  it(
    'no frame crashes the socket, un-joins it or stops a later valid update',
    async () => {
      const joinRef = server.frames.find((f) => f.identifier === ID && f.event === 'phx_join')?.joinRef;
      expect(typeof joinRef).toBe('string');
      let run = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(frameArb(joinRef!), { minLength: 1, maxLength: 15 }), async (frames) => {
          for (const frame of frames) server.sendRaw(ID, frame);
          // Frames are handled in order: once this update arrives, every fuzzed frame was handled.
          const uuid = `final-${++run}`;
          const arrived = nextEvent(socket, 'update', 20_000, (info) => info.firmwareMeta.uuid === uuid);
          const sent = server.pushUpdate(ID, { firmwareUrl: 'https://fw.example/final.fw', firmwareMeta: { ...FIRMWARE, uuid }, size: 99 });
          const [info] = await arrived;
          expect(info.firmwareUrl.href).toBe(sent.firmware_url);
          expect(info.size).toBe(99);
          expect(socket.joined).toBe(true);
          expect(server.joinCount(ID)).toBe(1);
          expect(trap.escaped).toEqual([]);
        }),
        { seed: FUZZ_SEED, numRuns: RUNS },
      );
      // Still a working channel: a device push reaches the server on the first join.
      socket.sendStatus({ status: 'received' });
      const status = await server.waitForFrame((f) => f.identifier === ID && f.event === 'status_update');
      expect(status.joinRef).toBe(joinRef);
      expect(trap.escaped).toEqual([]);
    },
    fuzzTimeoutMs(40, 100),
  );
});
