import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from 'vitest';
import type { NervesHubSocket } from '../../src/socket/nerves-hub-socket.js';
import type { InvalidMessageInfo } from '../../src/socket/socket-events.js';
import { NervesHubTestServer } from '../../src/testing/index.js';
import type { DeviceFrame } from '../../src/testing/index.js';
import { FIRMWARE, certificateSocket, nextEvent, sleep } from './helpers.js';

const KEY_A = Buffer.alloc(32, 1).toString('base64');
const KEY_B = Buffer.alloc(32, 2).toString('base64');
let server: NervesHubTestServer;
let socket: NervesHubSocket;
let id: string;
let counter = 0;
let downloading: string | null = null;
let validated = true;

beforeAll(async () => {
  server = await NervesHubTestServer.start({ fwupPublicKeys: [KEY_A] });
});
afterAll(async () => {
  await server.close();
});
beforeEach(async () => {
  id = `NH-MSG-${++counter}`;
  downloading = null;
  validated = true;
  socket = await certificateSocket(server, id, {
    currentlyDownloadingUuid: () => downloading,
    firmwareValidated: () => validated,
    firmwareAutoRevertDetected: () => true,
    extraJoinParams: () => ({ nerves_fw_validated: '1', device_api_version: 'overridden?' }),
    firmwareValidationPollMs: 30,
  });
  const connected = nextEvent(socket, 'connected');
  // The server pushes fwup keys, archive keys, then extensions:get after the join: wait for the last
  // one, so a late after-join push is never mistaken for a test's own message.
  const afterJoinPushes = nextEvent(socket, 'extensions:get');
  socket.connect();
  await connected;
  await afterJoinPushes;
});
afterEach(async () => {
  await socket.close();
});

const deviceFrames = (event: string): DeviceFrame[] => server.frames.filter((f) => f.identifier === id && f.event === event);

describe('device topic messages', () => {
  it('join params are exactly the §3.1 set', () => {
    expect(server.lastJoinParams(id)).toEqual({
      nerves_fw_validated: '1',
      nerves_fw_uuid: FIRMWARE.uuid,
      nerves_fw_product: 'hello',
      nerves_fw_version: '1.2.3',
      nerves_fw_platform: 'rpi4',
      nerves_fw_architecture: 'arm',
      nerves_fw_author: 'Test Author',
      nerves_fw_description: 'test firmware',
      nerves_fw_vcs_identifier: 'abc123',
      nerves_fw_misc: 'misc',
      fwup_version: '1.16.0',
      device_api_version: '2.3.0',
      console_version: '2.0.0',
      fwup_public_keys: 'on_connect',
      archive_public_keys: 'on_connect',
      currently_downloading_uuid: null,
      meta: { firmware_validated: true, firmware_auto_revert_detected: true },
    });
    const join = deviceFrames('phx_join')[0];
    expect(join).toMatchObject({ topic: 'device', joinRef: join?.ref });
  });

  it('the on_connect answer sets the keys; later pushes never change them; an empty or garbage list never counts', async () => {
    expect(socket.fwupPublicKeys).toEqual([KEY_A]); // the answer to the join's "on_connect"
    const invalid: InvalidMessageInfo[] = [];
    socket.on('invalidMessage', (i) => invalid.push(i));
    let fwupEvents = 0;
    socket.on('fwup_public_keys', () => void (fwupEvents += 1));
    server.push(id, 'fwup_public_keys', { keys: [KEY_B] }); // valid, but the join's request was answered: dropped
    server.push(id, 'fwup_public_keys', { keys: [] });
    server.push(id, 'fwup_public_keys', { keys: [1, 2] });
    server.push(id, 'fwup_public_keys', { keys: 'x' });
    // the org had no archive keys, so the join's archive request is still open: this is its answer
    const got = nextEvent(socket, 'archive_public_keys');
    server.push(id, 'archive_public_keys', { keys: [KEY_B, 42, 'not base64'] });
    expect((await got)[0]).toEqual([KEY_B]);
    expect(socket.fwupPublicKeys).toEqual([KEY_A]);
    expect(socket.archivePublicKeys).toEqual([KEY_B]);
    expect(fwupEvents).toBe(0);
    expect(invalid.map((i) => i.event)).toEqual(['fwup_public_keys', 'fwup_public_keys', 'fwup_public_keys']);
  });

  it('update: a valid offer arrives typed; update_available:false is no offer; malformed ones are dropped', async () => {
    const invalid: InvalidMessageInfo[] = [];
    socket.on('invalidMessage', (i) => invalid.push(i));
    server.push(id, 'update', { update_available: false, firmware_url: null, firmware_meta: null });
    server.push(id, 'update', { firmware_url: 'ftp://x/y', firmware_meta: { uuid: 'u' } });
    const got = nextEvent(socket, 'update');
    const sent = server.pushUpdate(id, { firmwareUrl: 'https://fw.example/f.fw?X-Amz-Signature=s', firmwareMeta: { ...FIRMWARE, uuid: 'new-uuid' }, size: 1234, checksum: 'AB'.repeat(32), deploymentId: 7 });
    const [info] = await got;
    expect(info.firmwareUrl.href).toBe(sent.firmware_url);
    expect(info.firmwareMeta.uuid).toBe('new-uuid');
    expect(info.size).toBe(1234);
    expect(info.checksum).toBe('ab'.repeat(32));
    expect(info.deploymentId).toBe(7);
    expect(invalid.map((i) => [i.event, i.reason])).toEqual([['update', 'firmware_url scheme ftp: is not http(s)']]);
  });

  it('reboot pushes rebooting {} before the app hears of it; identify and extensions:get arrive', async () => {
    const reboot = nextEvent(socket, 'reboot');
    const identify = nextEvent(socket, 'identify');
    server.push(id, 'reboot', {});
    server.push(id, 'identify', {});
    await reboot;
    await identify;
    const frame = await server.waitForFrame((f) => f.identifier === id && f.event === 'rebooting');
    expect(frame.payload).toEqual({});
    const ext = nextEvent(socket, 'extensions:get');
    server.push(id, 'extensions:get', {});
    await ext;
  });

  it('archive: typed and validated', async () => {
    const got = nextEvent(socket, 'archive');
    const invalid = nextEvent(socket, 'invalidMessage');
    server.push(id, 'archive', { uuid: 'a-1', url: 'notaurl' });
    server.push(id, 'archive', { size: 10, uuid: 'a-2', version: '1.0.0', description: 'd', platform: 'p', architecture: 'arm', uploaded_at: '2026-01-01T00:00:00', url: 'https://s3/a?sig=1' });
    const [info] = await got;
    expect(info).toMatchObject({ uuid: 'a-2', size: 10, version: '1.0.0', uploadedAt: '2026-01-01T00:00:00', architecture: 'arm' });
    expect(info.url.href).toBe('https://s3/a?sig=1');
    expect((await invalid)[0]).toMatchObject({ event: 'archive', reason: 'url is not a URL' });
  });

  it('scripts/run: refused without a listener, answered by replyScript with one', async () => {
    server.push(id, 'scripts/run', { text: 'IO.puts(1)', ref: 'r1' });
    const refused = await server.waitForFrame((f) => f.identifier === id && f.event === 'scripts/run');
    expect(refused.payload).toEqual({ ref: 'r1', result: 'error', reason: 'unsupported', output: 'Error running script: this device does not run scripts', return: '' });
    socket.on('scripts/run', (req) => socket.replyScript(req.ref, { result: 'completed', output: `ran ${req.text}`, returnValue: ':ok' }));
    server.push(id, 'scripts/run', { text: 'x', ref: 'r2', timeout: 500 });
    const done = await server.waitForFrame((f) => f.identifier === id && f.event === 'scripts/run' && (f.payload as { ref: string }).ref === 'r2');
    expect(done.payload).toEqual({ ref: 'r2', result: 'completed', output: 'ran x', return: ':ok' });
  });

  it('every device push goes out as the exact frame on the current join', async () => {
    const joinRef = deviceFrames('phx_join').at(-1)?.joinRef;
    // UpdateReporter methods never throw; garbage is dropped
    expect(() => socket.sendStatus({ status: 'bogus' } as never)).not.toThrow();
    expect(() => socket.sendProgress('flashing' as never, 1)).not.toThrow();
    socket.sendProgress('downloading', 41.6);
    socket.sendProgress('updating', 140);
    socket.sendStatus({ status: 'received' });
    socket.sendStatus({ status: 'started', downloaderNetworkInterface: 'eth0' });
    socket.sendStatus({ status: 'completed' });
    socket.sendStatus({ status: 'ignored', reason: '' });
    socket.sendStatus({ status: 'rescheduled', delayForMinutes: 2, reason: 'busy' });
    socket.sendStatus({ status: 'failed', reason: 'FWUP error : boom' });
    socket.sendRebooting();
    socket.sendFirmwareValidated();
    socket.reportNetworkInterface('wlan0');
    await server.waitForFrame((f) => f.identifier === id && f.event === 'report_network_interface');
    const pushes = server.frames.filter((f) => f.identifier === id && !['phx_join', 'heartbeat'].includes(f.event));
    expect(pushes.map((f) => [f.topic, f.event, f.payload])).toEqual([
      ['device', 'fwup_progress', { stage: 'downloading', value: 42 }],
      ['device', 'fwup_progress', { stage: 'updating', value: 100 }],
      ['device', 'status_update', { status: 'received' }],
      ['device', 'status_update', { status: 'started', downloader_network_interface: 'eth0' }],
      ['device', 'status_update', { status: 'completed' }],
      ['device', 'status_update', { status: 'ignored', reason: '' }],
      ['device', 'status_update', { status: 'rescheduled', delay_for: 5, reason: 'busy' }],
      ['device', 'status_update', { status: 'failed', reason: 'FWUP error : boom' }],
      ['device', 'rebooting', {}],
      ['device', 'firmware_validated', {}],
      ['device', 'report_network_interface', { interface: 'wlan0' }],
    ]);
    expect(pushes.every((f) => f.joinRef === joinRef && typeof f.ref === 'string')).toBe(true);
  });

  it('not validated at join → polls firmwareValidated() and reports firmware_validated once', async () => {
    await socket.close();
    validated = false;
    const connected = nextEvent(socket, 'connected');
    socket.connect();
    await connected;
    expect(server.lastJoinParams(id)?.meta).toEqual({ firmware_validated: false, firmware_auto_revert_detected: true });
    await sleep(100);
    expect(deviceFrames('firmware_validated')).toHaveLength(0);
    validated = true;
    await server.waitForFrame((f) => f.identifier === id && f.event === 'firmware_validated');
    await sleep(100);
    expect(deviceFrames('firmware_validated')).toHaveLength(1);
  });

  it('unknown events, bad JSON, wrong shapes and binary frames are dropped as invalidMessage; the socket stays joined', async () => {
    const invalid: InvalidMessageInfo[] = [];
    socket.on('invalidMessage', (i) => invalid.push(i));
    server.push(id, 'brand_new_event', { a: 1 });
    server.sendRaw(id, 'not json');
    server.sendRaw(id, '[1,2,3]');
    server.sendRaw(id, '[null,null,"device","update",null]');
    server.sendRaw(id, '[null,null,"device","phx_close",{}]');
    server.sendRaw(id, new Uint8Array([2, 6, 6, 1, 2, 3]));
    server.sendRaw(id, '["x",null,"device","reboot",[]]');
    await expect.poll(() => invalid.length, { timeout: 10_000 }).toBe(7);
    expect(invalid.map((i) => i.reason)).toEqual([
      'unknown event',
      'frame is not JSON',
      'frame is not a 5-element array',
      'payload must be an object',
      'phx_close without join_ref',
      'binary frame (not used by the JSON serializer)',
      'payload must be an object',
    ]);
    expect(socket.joined).toBe(true);
    expect(deviceFrames('rebooting')).toHaveLength(0);
    const identify = nextEvent(socket, 'identify');
    server.push(id, 'identify', {});
    await identify;
  });

  it('listeners that throw break nothing', async () => {
    let calls = 0;
    socket.on('identify', () => {
      calls++;
      throw new Error('listener bug');
    });
    socket.on('update', () => {
      throw new Error('listener bug');
    });
    socket.on('invalidMessage', () => {
      throw new Error('listener bug');
    });
    const first = nextEvent(socket, 'identify');
    server.push(id, 'identify', {});
    server.push(id, 'update', { nope: 1 });
    server.pushUpdate(id, { firmwareUrl: 'https://fw/x', firmwareMeta: FIRMWARE });
    await first;
    await sleep(20);
    const second = nextEvent(socket, 'identify');
    server.push(id, 'identify', {});
    await second;
    expect(calls).toBe(2);
    expect(socket.joined).toBe(true);
    socket.sendStatus({ status: 'received' });
    await server.waitForFrame((f) => f.identifier === id && f.event === 'status_update');
  });

  it('fuzzed frames (seeded) never crash or un-join the socket', async () => {
    const known = ['update', 'reboot', 'identify', 'archive', 'fwup_public_keys', 'archive_public_keys', 'scripts/run', 'extensions:get', 'phx_reply', 'phx_error', 'phx_close', 'whatever'];
    const json = fc.jsonValue({ maxDepth: 3 });
    const frame = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.tuple(fc.oneof(fc.constant(null), fc.string({ maxLength: 4 })), fc.oneof(fc.constant(null), fc.string({ maxLength: 4 })), fc.constantFrom('device', 'phoenix', 'console', 'x'), fc.constantFrom(...known), json).map((t) => JSON.stringify(t)),
      fc.tuple(fc.constant(null), fc.constant(null), fc.constant('device'), fc.constantFrom(...known.slice(0, 8)), fc.dictionary(fc.constantFrom('firmware_url', 'firmware_meta', 'keys', 'ref', 'text', 'uuid', 'url', 'size', 'timeout'), json)).map((t) => JSON.stringify(t)),
      fc.uint8Array({ maxLength: 64 }),
    );
    let reboots = 0;
    socket.on('reboot', () => reboots++);
    socket.on('scripts/run', (r) => socket.replyScript(r.ref, { result: 'error', reason: 'no', output: '' }));
    const samples = fc.sample(frame, { seed: 20261127, numRuns: 400 });
    for (const f of samples) server.sendRaw(id, f);
    // frames are handled in order: once this identify arrives, every fuzzed frame was handled
    const identify = nextEvent(socket, 'identify', 20_000);
    server.push(id, 'identify', {});
    await identify;
    expect(socket.joined).toBe(true);
    // the fuzz keys never validate, so the configured key stays
    expect(socket.fwupPublicKeys).toEqual([KEY_A]);
    expect(server.joinCount(id)).toBe(1);
    expect(reboots).toBeGreaterThanOrEqual(0);
  });
});
