/** Wall-clock time, injected so tests (and, next, timers in virtual time) control it. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
