import type { SagaDocument } from '../../saga/types.ts';

/** One move of a saga: the i-th entry of its history (i >= 1), from the state before it. */
export interface SagaPathStep {
  step: number;
  from: string;
  event: string;
  to: string;
  at: string;
}

export interface SagaPath {
  /** States in the order the saga entered them (repeats included). */
  states: string[];
  steps: SagaPathStep[];
  current: string;
}

/**
 * The path a saga took, from its history: `history.states[i]` was entered on
 * `history.events[i]` (entry 0 is the creation), so step i goes from state i-1 to state i.
 */
export function sagaPath(saga: SagaDocument): SagaPath {
  const states = saga.history.states.map((s) => s.state);
  const steps: SagaPathStep[] = [];
  for (let i = 1; i < saga.history.states.length; i += 1) {
    const entry = saga.history.states[i];
    const event = saga.history.events[i];
    if (!entry) continue;
    steps.push({ step: i, from: states[i - 1] as string, event: event?.event ?? '?', to: entry.state, at: entry.timestamp });
  }
  return { states, steps, current: saga.currentState };
}
