/** Options of {@link createProgressBar}. */
export interface ProgressBarOptions {
  stream: NodeJS.WritableStream;
  /** Redraw one line in place (a terminal); otherwise print a plain line every `plainStepPercent`. */
  isTTY: boolean;
  /** Printed before the bar, e.g. `download`. */
  label: string;
  /** Bar width in characters (default 30). */
  width?: number;
  /** Plain mode: print at most one line per this many percent (default 25). */
  plainStepPercent?: number;
}

/** A progress display: a redrawn bar on a terminal, plain lines otherwise (logs, CI, pipes). */
export interface ProgressBar {
  /** Shows `percent` (0..100) with an optional detail such as `1.2/4.0 MiB`. */
  update(percent: number, detail?: string): void;
  /** Ends the bar line (a terminal) so the next output starts on a fresh line. */
  done(): void;
}

/** Defaults of {@link ProgressBarOptions}. */
export const PROGRESS_BAR_DEFAULTS = Object.freeze({ width: 30, plainStepPercent: 25 });

/**
 * Creates a progress display.
 * @example
 * ```ts
 * const bar = createProgressBar({ stream: process.stdout, isTTY: process.stdout.isTTY, label: 'download' });
 * bar.update(42, '1.7/4.0 MiB');
 * bar.done();
 * ```
 */
export function createProgressBar(options: ProgressBarOptions): ProgressBar {
  const width = options.width ?? PROGRESS_BAR_DEFAULTS.width;
  const step = options.plainStepPercent ?? PROGRESS_BAR_DEFAULTS.plainStepPercent;
  let lastPlain = -Infinity;
  let drawn = false;
  let finished = false;
  return {
    update(percent, detail) {
      if (finished) return;
      const p = Math.min(100, Math.max(0, Math.round(Number.isFinite(percent) ? percent : 0)));
      const suffix = detail ? `  ${detail}` : '';
      if (options.isTTY) {
        const filled = Math.round((p / 100) * width);
        options.stream.write(`\r  ${options.label} [${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${String(p).padStart(3)}%${suffix}\x1b[K`);
        drawn = true;
        return;
      }
      if (p === 100 ? lastPlain < 100 : p - lastPlain >= step) {
        lastPlain = p;
        options.stream.write(`  ${options.label} ${String(p).padStart(3)}%${suffix}\n`);
      }
    },
    done() {
      if (finished) return;
      finished = true;
      if (options.isTTY && drawn) options.stream.write('\r\x1b[K');
    },
  };
}
