/** Where the stack reports what it is doing; the CLI prints, the test harness may stay quiet. */
export interface Progress {
  line(message: string): void;
}

export const consoleProgress: Progress = {
  line(message) {
    console.log(`[stack] ${message}`);
  },
};

export const silentProgress: Progress = { line() {} };

/**
 * Runs `work` and prints `label (Ns)` every `everyMs` until it settles, so a long first
 * download or a slow start never looks like a hang.
 */
export async function withHeartbeat<T>(progress: Progress, label: string, work: Promise<T>, everyMs = 10_000): Promise<T> {
  const started = Date.now();
  const timer = setInterval(() => {
    progress.line(`${label} (${Math.round((Date.now() - started) / 1000)}s)`);
  }, everyMs);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}

export function seconds(sinceMs: number): string {
  return `${((Date.now() - sinceMs) / 1000).toFixed(1)}s`;
}
