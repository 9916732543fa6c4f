import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { totalmem } from 'node:os';
import { statfsSync } from 'node:fs';
import { NervesHubTestServer } from '../../src/testing/server/nerves-hub-test-server.js';
import { attachExtensions, detachExtensions, requestHealthCheck, requestLocation } from '../../src/testing/server/service-requests.js';
import { HEALTH_CHECK_FAILED_ALARM } from '../../src/extensions/health/device-status.js';
import type { DeviceExtension } from '../../src/extensions/extension.js';
import { deviceEvents, startLinkDevice, until } from './helpers.js';

let server: NervesHubTestServer;
const cleanup: Array<() => Promise<void> | void> = [];
beforeAll(async () => {
  server = await NervesHubTestServer.start({ extensions: ['health', 'geo'] });
});
afterAll(async () => server.close());
afterEach(async () => {
  server.refuseExtensionPushes([]);
  for (const c of cleanup.splice(0).reverse()) await c();
});

const FAST_HEALTH = { cpuSampleMs: 20 };

describe('extensions over the wire', () => {
  it('answers extensions:get: joins with {name: version}, attaches what the reply lists, reports health and geo', async () => {
    const { id, link } = await startLinkDevice(server, cleanup, { extensions: { health: FAST_HEALTH } });
    await until(() => deviceEvents(server, id, 'extensions').includes('geo:attached'));
    const join = server.frames.find((f) => f.identifier === id && f.topic === 'extensions' && f.event === 'phx_join');
    expect(JSON.stringify(join?.payload)).toBe('{"health":"0.0.1","geo":"0.0.1"}');
    const attached = server.frames.filter((f) => f.identifier === id && f.topic === 'extensions' && f.event.endsWith(':attached'));
    expect(attached.map((f) => [f.event, JSON.stringify(f.payload), f.joinRef])).toEqual([
      ['health:attached', '{}', join?.joinRef],
      ['geo:attached', '{}', join?.joinRef],
    ]);
    expect(link.extensions.attached).toEqual(['health', 'geo']);

    const report = await requestHealthCheck(server, id);
    expect(Object.keys(report)).toEqual(['timestamp', 'metadata', 'alarms', 'metrics', 'checks', 'connectivity']);
    expect(new Date(String(report.timestamp)).toISOString()).toBe(report.timestamp);
    const metrics = report.metrics as Record<string, number>;
    for (const k of ['cpu_usage_percent', 'load_1min', 'load_5min', 'load_15min', 'mem_size_mb', 'mem_used_mb', 'mem_used_percent', 'disk_total_kb', 'disk_available_kb', 'disk_used_percentage']) {
      expect(typeof metrics[k], k).toBe('number');
    }
    // measured, not guessed: this machine's memory and root file system
    expect(Math.abs(metrics.mem_size_mb! - totalmem() / 1048576)).toBeLessThan(2);
    const fs = statfsSync('/');
    expect(metrics.disk_total_kb).toBe(Math.floor((fs.blocks * fs.bsize) / 1024));
    expect(report.alarms).toEqual({});
    expect(report.connectivity).toEqual({});

    expect(JSON.stringify(await requestLocation(server, id))).toBe('{"error_code":"NO_RESOLVER","error_description":"no location resolver is configured on this device"}');
  });

  it('a geo resolver answers the location request', async () => {
    const { id } = await startLinkDevice(server, cleanup, { extensions: { health: false, geo: { resolver: () => ({ source: 'gps', latitude: 52.37, longitude: 4.89, accuracy: 12 }) } } });
    await until(() => deviceEvents(server, id, 'extensions').includes('geo:attached'));
    expect(JSON.stringify(await requestLocation(server, id))).toBe('{"source":"gps","latitude":52.37,"longitude":4.89,"accuracy":12}');
    // health is off: only geo was offered
    const join = server.frames.find((f) => f.identifier === id && f.topic === 'extensions' && f.event === 'phx_join');
    expect(join?.payload).toEqual({ geo: '0.0.1' });
    expect(deviceEvents(server, id, 'extensions')).toContain('health:error');
    const error = server.frames.find((f) => f.identifier === id && f.event === 'health:error');
    expect(error?.payload).toEqual({ reason: 'unknown_extension' });
  });

  it('an extension that fails to start reports start_failure and the others still attach', async () => {
    const broken: DeviceExtension = { name: 'broken', version: '0.0.1', events: [], attach: () => Promise.reject(new Error('no sensor')), handle: () => undefined };
    server.setExtensions(['broken', 'health', 'geo']);
    cleanup.push(() => server.setExtensions(['health', 'geo']));
    const { id, link } = await startLinkDevice(server, cleanup, { extensions: { health: FAST_HEALTH, extra: [broken] } });
    await until(() => deviceEvents(server, id, 'extensions').includes('geo:attached'));
    const f = server.frames.find((x) => x.identifier === id && x.event === 'broken:error');
    expect(JSON.stringify(f?.payload)).toBe('{"reason":"start_failure"}');
    expect(link.extensions.attached).toEqual(['health', 'geo']);
    expect(server.connectedDevices()).toContain(id);
  });

  it('detach while attached stops the extension (detached pushed, checks ignored); attach "all" brings it back', async () => {
    const { id, link } = await startLinkDevice(server, cleanup, { extensions: { health: FAST_HEALTH } });
    await until(() => link.extensions.attached.length === 2);
    detachExtensions(server, id, ['health']);
    await server.waitForFrame((f) => f.identifier === id && f.event === 'health:detached');
    expect(link.extensions.attached).toEqual(['geo']);
    const from = server.frames.length;
    server.pushTopic(id, 'extensions', 'health:check', {});
    await new Promise((r) => setTimeout(r, 150));
    expect(server.frames.slice(from).some((f) => f.event === 'health:report')).toBe(false);

    detachExtensions(server, id, 'all');
    await server.waitForFrame((f) => f.identifier === id && f.event === 'geo:detached');
    expect(link.extensions.attached).toEqual([]);
    attachExtensions(server, id, 'all');
    await until(() => link.extensions.attached.length === 2);
    expect((await requestHealthCheck(server, id)).metrics).toHaveProperty('load_1min');
    // a payload that names nothing is ignored
    server.pushTopic(id, 'extensions', 'detach', { extensions: 42 });
    await new Promise((r) => setTimeout(r, 50));
    expect(link.extensions.attached).toHaveLength(2);
  });

  it('a push answered with the phx_reply error "detach" detaches the extension', async () => {
    const { id, link } = await startLinkDevice(server, cleanup, { extensions: { health: FAST_HEALTH } });
    await until(() => link.extensions.attached.length === 2);
    server.refuseExtensionPushes(['health']);
    server.pushTopic(id, 'extensions', 'health:check', {});
    const report = await server.waitForFrame((f) => f.identifier === id && f.event === 'health:report');
    const reply = server.sentFrames.find((f) => f.identifier === id && f.event === 'phx_reply' && f.ref === report.ref);
    expect(reply?.payload).toEqual({ status: 'error', response: 'detach' });
    await server.waitForFrame((f) => f.identifier === id && f.event === 'health:detached');
    expect(link.extensions.attached).toEqual(['geo']);
  });

  it('a health metric that throws becomes an alarm; the report still goes out and the device stays connected', async () => {
    const { id } = await startLinkDevice(server, cleanup, {
      extensions: {
        health: {
          ...FAST_HEALTH,
          metrics: { queue_length: () => 7, flaky: () => { throw new Error('sensor gone'); } },
          checks: { db: () => ({ pass: true, note: 'sqlite ok' }) },
          metadata: { site: 'lab' },
        },
      },
    });
    await until(() => deviceEvents(server, id, 'extensions').includes('health:attached'));
    const report = await requestHealthCheck(server, id);
    expect(report.alarms).toEqual({ [HEALTH_CHECK_FAILED_ALARM]: 'metric flaky: sensor gone' });
    expect(report.metrics).toMatchObject({ queue_length: 7 });
    expect(report.metrics).toHaveProperty('cpu_usage_percent');
    expect(report.checks).toEqual({ db: { pass: true, note: 'sqlite ok' } });
    expect(report.metadata).toEqual({ site: 'lab' });
    expect(server.connectedDevices()).toContain(id);
  });

  it('a report that hangs past its timeout becomes a minimal report with the alarm', async () => {
    const { id } = await startLinkDevice(server, cleanup, {
      extensions: { health: { metricSets: [{ name: 'stuck', sample: () => new Promise(() => undefined) }], timeoutMs: 50 } },
    });
    await until(() => deviceEvents(server, id, 'extensions').includes('health:attached'));
    const report = await requestHealthCheck(server, id);
    expect(report).toMatchObject({ metadata: {}, metrics: {}, checks: {}, connectivity: {}, alarms: { [HEALTH_CHECK_FAILED_ALARM]: 'the health report took longer than 50 ms' } });
  });

  it('after a reconnect the topic is rejoined once and the extensions are attached again', async () => {
    const { id, link } = await startLinkDevice(server, cleanup, { extensions: { health: FAST_HEALTH } });
    await until(() => deviceEvents(server, id, 'extensions').includes('geo:attached'));
    server.dropConnections(id);
    await server.waitForJoin(id, { count: 2 });
    await until(() => deviceEvents(server, id, 'extensions').filter((e) => e === 'geo:attached').length === 2);
    await new Promise((r) => setTimeout(r, 100));
    expect(deviceEvents(server, id, 'extensions').filter((e) => e === 'phx_join')).toHaveLength(2);
    expect(link.extensions.attached).toEqual(['health', 'geo']);
    expect((await requestHealthCheck(server, id)).metrics).toHaveProperty('mem_used_percent');
  });
});
