import type { CliIo } from './io.ts';

export interface ProgressBar {
  update(done: number, total: number | undefined): void;
  /** Ends the bar's line (a terminal's cursor moves past it). */
  finish(): void;
}

const WIDTH = 30;

function render(label: string, done: number, total: number | undefined): string {
  if (total === undefined || total <= 0) return `${label} ${done}`;
  const ratio = Math.min(1, done / total);
  const filled = Math.round(ratio * WIDTH);
  return `${label} [${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${done}/${total} ${Math.floor(ratio * 100)}%`;
}

/**
 * A progress bar on stderr. On a terminal it redraws one line (at most every 100 ms, and at
 * the end); elsewhere (CI logs, a file) it prints a line at every tenth of the total, or
 * every 1000 items when the total is unknown, so a log shows progress without a flood.
 */
export function progressBar(io: Pick<CliIo, 'stderr' | 'stderrWrite' | 'stderrTTY'>, label: string, clock: () => number = Date.now): ProgressBar {
  let lastDraw = -Infinity;
  let lastStep = -1;
  let drawn = '';
  return {
    update(done, total) {
      if (io.stderrTTY) {
        const t = clock();
        if (t - lastDraw < 100 && done !== total) return;
        lastDraw = t;
        drawn = render(label, done, total);
        io.stderrWrite(`\r\x1b[2K${drawn}`);
        return;
      }
      const step = total !== undefined && total > 0 ? Math.floor((done / total) * 10) : Math.floor(done / 1000);
      if (step === lastStep) return;
      lastStep = step;
      io.stderr(render(label, done, total));
    },
    finish() {
      if (io.stderrTTY && drawn !== '') io.stderrWrite('\n');
    },
  };
}
