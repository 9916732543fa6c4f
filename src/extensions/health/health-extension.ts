import { safeLog } from '../../logging/logger.js';
import type { DeviceExtension, ExtensionContext } from '../extension.js';
import { EXTENSION_VERSION } from '../extension.js';
import type { DeviceStatus, HealthCheckResult } from './device-status.js';
import { buildDeviceStatus, minimalDeviceStatus } from './device-status.js';
import type { MetricSet } from './metric-set.js';
import type { OsMetricPaths } from './os-metrics.js';
import { OS_METRIC_DEFAULTS, cpuMetricSet, diskMetricSet, memoryMetricSet } from './os-metrics.js';

/**
 * Options of {@link HealthExtension}.
 *
 * @example
 * ```ts
 * const options: HealthOptions = {
 *   diskMount: '/data',
 *   metrics: { queue_length: () => queue.length },
 *   checks: { sensor: async () => ({ pass: await sensor.ok(), note: 'I2C sensor' }) },
 * };
 * ```
 */
export interface HealthOptions {
  /** Metric sets sampled at each report (default: CPU, memory, disk). Pass `[]` to turn them off. */
  metricSets?: readonly MetricSet[];
  /** Extra metric sets added to {@link metricSets}. */
  extraMetricSets?: readonly MetricSet[];
  /** App metrics `{name: () => number}`. */
  metrics?: Record<string, () => number | Promise<number>>;
  /** App checks `{name: () => {pass, note}}`. */
  checks?: Record<string, () => HealthCheckResult | Promise<HealthCheckResult>>;
  /** Report metadata `{key: value | () => value}`. */
  metadata?: Record<string, string | (() => string | Promise<string>)>;
  /** Active alarms of the app `{id: description}`. */
  alarms?: () => Record<string, string> | Promise<Record<string, string>>;
  /** Mount reported as disk by the default metric sets (default `/`). */
  diskMount?: string;
  /** CPU usage sampling interval of the default set (default 1000 ms). */
  cpuSampleMs?: number;
  /** Where the default sets read procfs/sysfs (tests). */
  paths?: OsMetricPaths;
  /** Longest a report may take; past it the minimal report is sent (default 30 000 ms). */
  timeoutMs?: number;
  /** Clock (tests). */
  now?: () => Date;
}

/** The default metric sets: CPU (with `cpu_temp` where available), memory, disk. */
export function defaultMetricSets(options: Pick<HealthOptions, 'diskMount' | 'cpuSampleMs' | 'paths'> = {}): MetricSet[] {
  return [
    cpuMetricSet({ ...options.paths, cpuSampleMs: options.cpuSampleMs ?? OS_METRIC_DEFAULTS.cpuSampleMs }),
    memoryMetricSet(options.paths),
    diskMetricSet({ mount: options.diskMount ?? OS_METRIC_DEFAULTS.diskMount }),
  ];
}

/**
 * The `health` extension (reference §7.1): answers `health:check` with
 * `health:report {value: DeviceStatus}` built from the OS (procfs, statfs, thermal zones) and the
 * app's metrics, checks, metadata and alarms. A failing source becomes an alarm of the report;
 * a report that fails or times out as a whole is replaced by a minimal report with that alarm.
 *
 * @example
 * ```ts
 * const health = new HealthExtension({ checks: { db: () => ({ pass: db.ok, note: 'sqlite' }) } });
 * const extensions = new ExtensionsManager({ extensions: [health] });
 * ```
 */
export class HealthExtension implements DeviceExtension {
  /** `health`. */
  readonly name = 'health';
  /** `0.0.1`. */
  readonly version = EXTENSION_VERSION;
  /** `check`. */
  readonly events = ['check'] as const;
  readonly #o: HealthOptions;
  readonly #sets: readonly MetricSet[];
  #ctx: ExtensionContext | undefined;

  /** Health reports from the OS metric sets plus the app's own metrics and checks (`options`). */
  constructor(options: HealthOptions = {}) {
    this.#o = options;
    this.#sets = [...(options.metricSets ?? defaultMetricSets(options)), ...(options.extraMetricSets ?? [])];
  }

  /** Keeps the context for {@link sendReport}. */
  attach(ctx: ExtensionContext): void {
    this.#ctx = ctx;
  }

  /** Forgets the context. */
  detach(): void {
    this.#ctx = undefined;
  }

  /** Answers `check`. */
  async handle(event: string, _payload: Record<string, unknown>, ctx: ExtensionContext): Promise<void> {
    if (event === 'check') ctx.push('report', { value: await this.report() });
  }

  /** Sends a report without being asked; false when not attached. */
  async sendReport(): Promise<boolean> {
    const ctx = this.#ctx;
    if (!ctx) return false;
    return ctx.push('report', { value: await this.report() });
  }

  /** Builds a report now (never throws). */
  async report(): Promise<DeviceStatus> {
    const now = this.#o.now ?? (() => new Date());
    const timeoutMs = this.#o.timeoutMs ?? 30_000;
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new Error(`the health report took longer than ${timeoutMs} ms`);
        controller.abort(error);
        reject(error);
      }, timeoutMs);
    });
    try {
      const sources = {
        metricSets: this.#sets,
        metrics: this.#o.metrics ?? {},
        checks: this.#o.checks ?? {},
        metadata: this.#o.metadata ?? {},
        alarms: this.#o.alarms,
        now,
      };
      return await Promise.race([buildDeviceStatus(sources, controller.signal), timeout]);
    } catch (error) {
      if (this.#ctx) safeLog(this.#ctx.logger, 'error', 'health report failed; sending a minimal report', { error: String(error) });
      return minimalDeviceStatus(now(), error instanceof Error ? error.message : String(error));
    } finally {
      clearTimeout(timer);
    }
  }
}
