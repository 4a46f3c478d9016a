import type { IssueList, PathSegment } from './issues.ts';
import type { Duration, MachineDefinition, RetrySpec, TimeoutSpec } from './types.ts';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * Milliseconds of a duration: a number of milliseconds, or a string with a unit (`ms`, `s`,
 * `m`, `h`, `d`; decimals allowed, e.g. "1.5h"). Undefined when it is neither.
 */
export function durationMs(d: Duration): number | undefined {
  if (typeof d === 'number') return Number.isFinite(d) && d >= 0 ? Math.round(d) : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(d);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]);
}

/** A timeout or a deadline, compiled. */
export interface CompiledTimeout {
  afterMs: number;
  /** As written in saga.json (shown in the firing's payload). */
  after: Duration;
  event: string;
}

/** A command's retry policy, compiled. */
export interface CompiledRetry {
  maxAttempts: number;
  initialDelayMs: number;
  multiplier: number;
  maxDelayMs: number | undefined;
}

export function compileTimeout(spec: TimeoutSpec): CompiledTimeout {
  return { afterMs: durationMs(spec.after) ?? 0, after: spec.after, event: spec.event };
}

export function compileRetry(spec: RetrySpec): CompiledRetry {
  return {
    maxAttempts: spec.maxAttempts,
    initialDelayMs: durationMs(spec.initialDelay) ?? 0,
    multiplier: spec.multiplier ?? 2,
    maxDelayMs: spec.maxDelay === undefined ? undefined : durationMs(spec.maxDelay),
  };
}

/**
 * What the schema cannot say about timeouts, retries and the deadline: a timeout's event the
 * state has no transition for (warned: it will be recorded as unexpected), a timeout on a
 * final state (it would never fire), events that collide with the creation event, a `retry`
 * outside a command, a maxDelay shorter than the first delay.
 */
export function checkTimers(machine: MachineDefinition, creationEvent: string, issues: IssueList): void {
  const md: PathSegment[] = ['machineDefinition'];
  machine.states.forEach((state, i) => {
    const sp: PathSegment[] = [...md, 'states', i];
    if (state.timeout !== undefined) {
      const tp = [...sp, 'timeout'];
      if (state.isFinal) issues.error(tp, `state "${state.id}" is final: a saga in it takes no events, so its timeout would never fire; remove it`);
      else if (state.timeout.event === creationEvent) issues.error([...tp, 'event'], `"${creationEvent}" is the creation event: name the timeout's event otherwise`);
      else if (!(state.outgoingTransitions ?? []).some((t) => t.inputEvent === state.timeout?.event)) {
        issues.warn([...tp, 'event'], `state "${state.id}" has no transition for "${state.timeout.event}": when the timeout fires it is recorded as unexpected and the saga stays; add an outgoingTransitions entry for it`);
      }
    }
    if (state.retry !== undefined) {
      const commands = [state.outputCommand, ...(state.sideEffects ?? [])].filter((c) => c !== undefined);
      issues.error(
        [...sp, 'retry'],
        commands.length === 0
          ? `state "${state.id}" sends no command, so there is nothing to retry; remove retry`
          : 'retry belongs on the command it retries: move it into outputCommand or the sideEffects entry',
      );
    }
    const retries: [PathSegment[], RetrySpec | undefined][] = [
      [[...sp, 'outputCommand', 'retry'], state.outputCommand?.retry],
      ...(state.sideEffects ?? []).map((e, j): [PathSegment[], RetrySpec | undefined] => [[...sp, 'sideEffects', j, 'retry'], e.retry]),
    ];
    for (const [path, retry] of retries) {
      if (retry === undefined) continue;
      if (state.isFinal) issues.warn(path, `state "${state.id}" is final: timers end with the saga, so the command is sent once`);
      checkRetry(path, retry, issues);
    }
  });
  if (machine.deadline !== undefined && machine.deadline.event === creationEvent) {
    issues.error([...md, 'deadline', 'event'], `"${creationEvent}" is the creation event: name the deadline's event otherwise`);
  }
}

/** The checks of one command's `retry` that do not depend on its state. */
export function checkRetry(path: readonly PathSegment[], retry: RetrySpec, issues: IssueList): void {
  const first = durationMs(retry.initialDelay) ?? 0;
  const cap = retry.maxDelay === undefined ? undefined : (durationMs(retry.maxDelay) ?? 0);
  if (cap !== undefined && cap < first) issues.error([...path, 'maxDelay'], `is shorter than initialDelay (${cap} ms < ${first} ms): make it at least as long`);
  if (retry.maxAttempts === 1) issues.warn([...path, 'maxAttempts'], 'is 1: the command is sent once, as without retry');
}
