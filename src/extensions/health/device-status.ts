import type { MetricSet } from './metric-set.js';

/** One health check result (`checks` of the report). */
export interface HealthCheckResult {
  /** Whether the check passed. */
  pass: boolean;
  /** Free text shown in NervesHub. */
  note: string;
}

/**
 * The `health:report` value (reference §7.1).
 *
 * @example
 * ```ts
 * const status: DeviceStatus = { timestamp: new Date().toISOString(), metadata: {}, alarms: {}, metrics: { load_1min: 0.2 }, checks: {}, connectivity: {} };
 * ```
 */
export interface DeviceStatus {
  /** UTC ISO-8601 time of the report. */
  timestamp: string;
  /** App metadata. */
  metadata: Record<string, string>;
  /** Active alarms `{id: description}`. */
  alarms: Record<string, string>;
  /** Numeric metrics. */
  metrics: Record<string, number>;
  /** Named check results. */
  checks: Record<string, HealthCheckResult>;
  /** Connectivity details (empty, as nerves_hub_link sends it). */
  connectivity: Record<string, unknown>;
}

/** Alarm id a failed metric, check or report is reported under (nerves_hub_link's). */
export const HEALTH_CHECK_FAILED_ALARM = 'NervesHubLink.Extensions.Health.CheckFailed';

/** What a health report is built from. @internal */
export interface DeviceStatusSources {
  metricSets: readonly MetricSet[];
  metrics: Readonly<Record<string, () => number | Promise<number>>>;
  checks: Readonly<Record<string, () => HealthCheckResult | Promise<HealthCheckResult>>>;
  metadata: Readonly<Record<string, string | (() => string | Promise<string>)>>;
  alarms: (() => Record<string, string> | Promise<Record<string, string>>) | undefined;
  now: () => Date;
}

/** The report sent when building one failed as a whole. */
export function minimalDeviceStatus(now: Date, why: string): DeviceStatus {
  return { timestamp: now.toISOString(), metadata: {}, alarms: { [HEALTH_CHECK_FAILED_ALARM]: why }, metrics: {}, checks: {}, connectivity: {} };
}

/**
 * Samples every source, each isolated: a metric set, metric or check that throws (or returns
 * something that is not a number / a check result) becomes part of the
 * {@link HEALTH_CHECK_FAILED_ALARM} alarm; the rest of the report is still sent.
 * @internal
 */
export async function buildDeviceStatus(s: DeviceStatusSources, signal: AbortSignal): Promise<DeviceStatus> {
  const failures: string[] = [];
  const fail = (what: string, error: unknown): void => void failures.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
  const metrics: Record<string, number> = {};
  const sets = await Promise.allSettled(s.metricSets.map(async (set) => ({ set, values: await set.sample(signal) })));
  sets.forEach((r, i) => {
    const name = `metric set ${s.metricSets[i]?.name ?? i}`;
    if (r.status === 'rejected') return fail(name, r.reason);
    for (const [k, v] of Object.entries(r.value.values ?? {})) {
      if (typeof v === 'number' && Number.isFinite(v)) metrics[k] = v;
      else fail(`${name} ${k}`, 'not a finite number');
    }
  });
  for (const [k, fn] of Object.entries(s.metrics)) {
    try {
      const v = await fn();
      if (typeof v === 'number' && Number.isFinite(v)) metrics[k] = v;
      else fail(`metric ${k}`, 'not a finite number');
    } catch (error) {
      fail(`metric ${k}`, error);
    }
  }
  const checks: Record<string, HealthCheckResult> = {};
  for (const [k, fn] of Object.entries(s.checks)) {
    try {
      const r = await fn();
      if (typeof r?.pass !== 'boolean') throw new Error('not a {pass, note} result');
      checks[k] = { pass: r.pass, note: typeof r.note === 'string' ? r.note : '' };
    } catch (error) {
      fail(`check ${k}`, error);
    }
  }
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.metadata)) {
    try {
      metadata[k] = String(typeof v === 'function' ? await v() : v);
    } catch (error) {
      fail(`metadata ${k}`, error);
    }
  }
  let alarms: Record<string, string> = {};
  try {
    alarms = { ...((await s.alarms?.()) ?? {}) };
  } catch (error) {
    fail('alarms', error);
  }
  if (failures.length > 0) alarms[HEALTH_CHECK_FAILED_ALARM] = failures.join('; ').slice(0, 1000);
  return { timestamp: s.now().toISOString(), metadata, alarms, metrics, checks, connectivity: {} };
}
