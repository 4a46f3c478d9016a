/**
 * Warnings a client repeats while a condition lasts (librdkafka reports "all broker connections
 * are down" on every reconnection attempt, some 20 a second while a broker restarts): the first
 * of a kind is logged at once, then at most one line per window, carrying how many were
 * folded into it (`repeated`). A log that keeps the outage's start and its rhythm, not its noise.
 */
export class RepeatedWarnings {
  private readonly kinds = new Map<string, { lastLoggedAt: number; folded: number }>();
  private readonly write: (fields: Record<string, unknown>, msg: string) => void;
  private readonly windowMs: number;
  private readonly now: () => number;

  constructor(write: (fields: Record<string, unknown>, msg: string) => void, windowMs = 10_000, now: () => number = Date.now) {
    this.write = write;
    this.windowMs = windowMs;
    this.now = now;
  }

  /** Logs `msg` with `fields` unless a warning of the same `kind` was logged less than a window ago. */
  warn(kind: string, fields: Record<string, unknown>, msg: string): void {
    const at = this.now();
    const seen = this.kinds.get(kind);
    if (seen && at - seen.lastLoggedAt < this.windowMs) {
      seen.folded += 1;
      return;
    }
    this.write(seen && seen.folded > 0 ? { ...fields, repeated: seen.folded } : fields, msg);
    this.kinds.set(kind, { lastLoggedAt: at, folded: 0 });
  }
}
