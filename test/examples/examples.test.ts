/**
 * Smoke tests of examples/: each example's self-test runs its real flow against a local
 * NervesHubTestServer. The examples import `nerves-hub-link` by name; vitest.config.ts maps that
 * name to src/, so no build is needed.
 */
import { describe, expect, it } from 'vitest';
import { selfTest as certificateDevice } from '../../examples/certificate-device/device.js';
import { selfTest as sharedSecretDevice } from '../../examples/shared-secret-device/device.js';
import { selfTest as customUpdateClient } from '../../examples/custom-update-client/main.js';
import { minutesUntilWindow } from '../../examples/custom-update-client/client.js';
import { selfTest as composeYourself } from '../../examples/compose-yourself/main.js';
import { selfTest as testYourDeviceApp } from '../../examples/test-your-device-app/self-test.js';
import { selfTest as healthAndConsole } from '../../examples/health-and-console/device.js';

describe('examples', () => {
  it('certificate-device: certificate auth from files, update applied, reboot hook called', async () => {
    const report = await certificateDevice();
    expect(report.outcome.status).toBe('completed');
    expect(report.statuses).toEqual(['received', 'started', 'completed']);
    expect(report.targetMatches).toBe(true);
    expect(report.rebooted).toBe(true);
  });

  it('shared-secret-device: NH1 product key connects and updates; a wrong secret is refused', async () => {
    const report = await sharedSecretDevice();
    expect(report.authMethod).toBe('shared-secret');
    expect(report.outcome.status).toBe('completed');
    expect(report.statuses).toEqual(['received', 'started', 'completed']);
    expect(report.targetMatches).toBe(true);
    expect(report.wrongSecretRefused).toBe(true);
  });

  it('custom-update-client: reschedules outside the window, ignores when declined, applies with consent', async () => {
    const report = await customUpdateClient();
    expect(report.outsideWindow.outcome.status).toBe('rescheduled');
    expect(report.outsideWindow.delayFor).toBe(13 * 60);
    expect(report.declined).toMatchObject({ outcome: { status: 'ignored' }, reason: 'declined by the user' });
    expect(report.accepted.outcome.status).toBe('completed');
    expect(report.accepted.targetMatches).toBe(true);
    expect(report.accepted.progress.at(-1)).toEqual(['updating', 100]);
    expect(report.consentQuestions).toBe(2);
  });

  it('custom-update-client: maintenance window arithmetic, including windows across midnight', () => {
    const at = (h: number, m = 0) => new Date(2026, 0, 1, h, m);
    expect(minutesUntilWindow(at(2, 30), { startHour: 2, endHour: 4 })).toBe(0);
    expect(minutesUntilWindow(at(4, 0), { startHour: 2, endHour: 4 })).toBe(22 * 60);
    expect(minutesUntilWindow(at(1, 55), { startHour: 2, endHour: 4 })).toBe(5);
    expect(minutesUntilWindow(at(23, 30), { startHour: 22, endHour: 3 })).toBe(0);
    expect(minutesUntilWindow(at(2, 59), { startHour: 22, endHour: 3 })).toBe(0);
    expect(minutesUntilWindow(at(3, 0), { startHour: 22, endHour: 3 })).toBe(19 * 60);
  });

  it('compose-yourself: the supervisor replaces a wedged stack and the download resumes with Range', async () => {
    const report = await composeYourself();
    expect(report.outcome.status).toBe('completed');
    expect(report.incarnations).toBe(2);
    expect(report.restartReasons).toHaveLength(1);
    expect(report.resumedWithRange).toMatch(/^bytes=[1-9]\d*-$/);
    expect(report.targetMatches).toBe(true);
    expect(report.statuses.at(-1)).toBe('completed');
  });

  it("test-your-device-app: the app's own node:test suite passes against the test server", async () => {
    const report = await testYourDeviceApp();
    expect(report).toMatchObject({ exitCode: 0, fail: 0 });
    expect(report.pass).toBe(report.tests);
    expect(report.tests).toBeGreaterThanOrEqual(3);
  });

  it('health-and-console: the health report carries the app metric and check; the console REPL answers; an upload lands', async () => {
    const report = await healthAndConsole();
    expect(report.readings).toBe(2);
    expect(report.sensorCheck.pass).toBe(true);
    expect(report.metrics).toEqual(expect.arrayContaining(['cpu_usage_percent', 'mem_used_percent', 'disk_used_percentage', 'sensor_readings_total']));
    expect(report.replAnswer).toBe(true);
    expect(report.uploadMatches).toBe(true);
  });
});
