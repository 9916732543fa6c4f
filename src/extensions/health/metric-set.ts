/**
 * A group of health metrics sampled together (CPU, memory, disk, or an app's own).
 *
 * @example
 * ```ts
 * const queueMetrics: MetricSet = { name: 'queue', sample: () => ({ queue_length: queue.length }) };
 * ```
 */
export interface MetricSet {
  /** Name used in alarms when sampling fails. */
  readonly name: string;
  /** Returns `{metric_name: value}`; a throw becomes an alarm of the report, never a crash. */
  sample(signal: AbortSignal): Record<string, number> | Promise<Record<string, number>>;
}

/** Rounds to two decimals, as nerves_hub_link reports percentages. @internal */
export function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
