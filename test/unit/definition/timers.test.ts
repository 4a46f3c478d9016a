import { describe, expect, it } from 'vitest';
import { compileRetry, compileTimeout, durationMs } from '../../../src/definition/timers.ts';
import { parseEdited, set } from './fixtures.ts';

type Edit = (raw: Record<string, unknown>) => void;

const S0 = 'machineDefinition.states[0]';
const DURATION = (found: string) => `must be a duration: a whole number of milliseconds (>= 0) or a string with a unit ms, s, m, h or d, e.g. "30s", "1.5h" (found ${found})`;

describe('durations', () => {
  it.each([
    [0, 0],
    [1500, 1500],
    ['250ms', 250],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1.5h', 5_400_000],
    ['1d', 86_400_000],
    [' 2 s ', 2_000],
    ['0.0015s', 2],
  ])('%j is %d ms', (d, ms) => {
    expect(durationMs(d)).toBe(ms);
  });

  it.each([['30'], ['30x'], ['-1s'], ['1w'], ['s'], [''], [-1], [Number.NaN], [Number.POSITIVE_INFINITY]])('%j is not a duration', (d) => {
    expect(durationMs(d)).toBeUndefined();
  });

  it('compiles a timeout and a retry with their defaults', () => {
    expect(compileTimeout({ after: '2m', event: 'late' })).toEqual({ afterMs: 120_000, after: '2m', event: 'late' });
    expect(compileRetry({ maxAttempts: 3, initialDelay: '1s' })).toEqual({ maxAttempts: 3, initialDelayMs: 1000, multiplier: 2, maxDelayMs: undefined });
    expect(compileRetry({ maxAttempts: 5, initialDelay: 100, multiplier: 3, maxDelay: '1m' })).toEqual({ maxAttempts: 5, initialDelayMs: 100, multiplier: 3, maxDelayMs: 60_000 });
  });
});

/** [rule, edit, path, exact message] */
const ERRORS: [string, Edit, string, string][] = [
  ['a timeout duration has a known unit', (r) => set(r, `${S0}.timeout`, { after: '30x', event: 'workFailed' }), `${S0}.timeout.after`, DURATION('"30x"')],
  ['a timeout duration is not negative', (r) => set(r, `${S0}.timeout`, { after: -5, event: 'workFailed' }), `${S0}.timeout.after`, DURATION('integer')],
  ['a timeout names its event', (r) => set(r, `${S0}.timeout`, { after: '1s' }), `${S0}.timeout.event`, 'is required'],
  ['a deadline duration is a duration', (r) => set(r, 'machineDefinition.deadline', { after: 'soon', event: 'expired' }), 'machineDefinition.deadline.after', DURATION('"soon"')],
  ['a retry makes at least one send', (r) => set(r, `${S0}.outputCommand.retry`, { maxAttempts: 0, initialDelay: '1s' }), `${S0}.outputCommand.retry.maxAttempts`, 'must be >= 1'],
  ['a retry has a first delay', (r) => set(r, `${S0}.outputCommand.retry`, { maxAttempts: 3 }), `${S0}.outputCommand.retry.initialDelay`, 'is required'],
  ['a retry never shortens its delays', (r) => set(r, `${S0}.outputCommand.retry`, { maxAttempts: 3, initialDelay: '1s', multiplier: 0.5 }), `${S0}.outputCommand.retry.multiplier`, 'must be >= 1'],
  [
    'maxDelay is at least initialDelay',
    (r) => set(r, `${S0}.sideEffects[0].retry`, { maxAttempts: 3, initialDelay: '10s', maxDelay: '1s' }),
    `${S0}.sideEffects[0].retry.maxDelay`,
    'is shorter than initialDelay (1000 ms < 10000 ms): make it at least as long',
  ],
  [
    'a final state has no timeout',
    (r) => set(r, 'machineDefinition.states[1].timeout', { after: '1s', event: 'late' }),
    'machineDefinition.states[1].timeout',
    'state "done" is final: a saga in it takes no events, so its timeout would never fire; remove it',
  ],
  [
    'a timeout is not the creation event',
    (r) => set(r, `${S0}.timeout`, { after: '1s', event: '__created__' }),
    `${S0}.timeout.event`,
    '"__created__" is the creation event: name the timeout\'s event otherwise',
  ],
  [
    'a deadline is not the creation event',
    (r) => set(r, 'machineDefinition.deadline', { after: '1d', event: '__created__' }),
    'machineDefinition.deadline.event',
    '"__created__" is the creation event: name the deadline\'s event otherwise',
  ],
  [
    'retry sits on a command, not on the state',
    (r) => set(r, `${S0}.retry`, { maxAttempts: 3, initialDelay: '1s' }),
    `${S0}.retry`,
    'retry belongs on the command it retries: move it into outputCommand or the sideEffects entry',
  ],
  [
    'retry on a state that sends nothing',
    (r) => set(r, 'machineDefinition.states[2].retry', { maxAttempts: 3, initialDelay: '1s' }),
    'machineDefinition.states[2].retry',
    'state "failed" sends no command, so there is nothing to retry; remove retry',
  ],
];

/** [rule, edit, path, exact message] */
const WARNINGS: [string, Edit, string, string][] = [
  [
    'a timeout event without a transition in its state',
    (r) => set(r, `${S0}.timeout`, { after: '1s', event: 'late' }),
    `${S0}.timeout.event`,
    'state "created" has no transition for "late": when the timeout fires it is recorded as unexpected and the saga stays; add an outgoingTransitions entry for it',
  ],
  ['a retry of one send', (r) => set(r, `${S0}.outputCommand.retry`, { maxAttempts: 1, initialDelay: '1s' }), `${S0}.outputCommand.retry.maxAttempts`, 'is 1: the command is sent once, as without retry'],
  [
    'a retry on a final state',
    (r) => set(r, 'machineDefinition.states[1].sideEffects', [{ label: 'notify', channel: 'bus', retry: { maxAttempts: 2, initialDelay: '1s' } }]),
    'machineDefinition.states[1].sideEffects[0].retry',
    'state "done" is final: timers end with the saga, so the command is sent once',
  ],
];

describe('timer settings in saga.json', () => {
  it('accepts a timeout, retries on a command and a side effect, and a deadline', () => {
    const result = parseEdited((r) => {
      set(r, `${S0}.timeout`, { after: '30s', event: 'workFailed' });
      set(r, `${S0}.outputCommand.retry`, { maxAttempts: 5, initialDelay: '1s', multiplier: 2, maxDelay: '1m' });
      set(r, `${S0}.sideEffects[0].retry`, { maxAttempts: 2, initialDelay: 500 });
      set(r, 'machineDefinition.deadline', { after: '1d', event: 'workFailed' });
    });
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
    expect(result.config?.machineDefinition.deadline).toEqual({ after: '1d', event: 'workFailed' });
  });

  it.each(ERRORS)('refuses: %s', (_rule, edit, path, message) => {
    const result = parseEdited(edit);
    expect(result.config).toBeUndefined();
    expect(result.errors).toEqual([{ path, message }]);
  });

  it.each(WARNINGS)('warns: %s', (_rule, edit, path, message) => {
    const result = parseEdited(edit);
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([{ path, message }]);
  });

  it('warns about an unknown key in a timer setting, with its path', () => {
    const result = parseEdited((r) => set(r, `${S0}.timeout`, { after: '1s', event: 'workFailed', every: '1s' }));
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([{ path: `${S0}.timeout.every`, message: 'unknown property, ignored: check its spelling (known here: after, event)' }]);
  });
});
