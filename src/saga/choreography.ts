import type { CompiledDefinition, CompiledState, CompiledTransition } from '../definition/compile.ts';
import { isPlainObject } from './merge.ts';

// The choreography extensions in the pure core: which transition an event takes when several
// share its label (`when`), the creation of a saga by a `startOn` event, and where an event
// no transition takes leads (`onUnexpected`). transition.ts calls in; nothing here has a clock.

/** The transition of `state` an event takes: the first for its label whose `when` the payload matches, or why there is none. */
export function route(state: CompiledState, label: string, payload: unknown): { found: CompiledTransition } | { unexpected: string } {
  const candidates = state.routes.get(label) ?? [];
  if (candidates.length === 0) {
    const accepted = [...state.routes.keys()].map((event) => `"${event}"`).join(', ');
    return { unexpected: `state "${state.id}" has no transition for event "${label}" (it accepts ${accepted || 'no event'})` };
  }
  const misses: string[] = [];
  for (const candidate of candidates) {
    const problems = candidate.when?.(payload) ?? [];
    if (problems.length === 0) return { found: candidate };
    misses.push(`to "${candidate.targetState}": ${problems.join('; ')}`);
  }
  return { unexpected: `the payload of event "${label}" matches the "when" of no transition of state "${state.id}" (${misses.join(' | ')})` };
}

/**
 * The creation a startOn event stands for when its saga does not exist: the payload is the
 * metadata and the sagaId the associatedEntityId (an observed event carries no other entity
 * id). Undefined when the label is not a startOn label.
 */
export function startOf(def: CompiledDefinition, sagaId: string, label: string, payload: unknown): { metadata: Record<string, unknown>; associatedEntityId: string } | { invalid: string } | undefined {
  if (!def.startOn.has(label)) return undefined;
  if (!isPlainObject(payload)) {
    return { invalid: `saga "${sagaId}" does not exist and event "${label}" would start it (machineDefinition.startOn), but its payload is not an object, so it cannot become the metadata` };
  }
  return { metadata: payload, associatedEntityId: sagaId };
}

/** Where an event the current state has no transition for leads, when the state has an onUnexpected. */
export function unexpectedTarget(def: CompiledDefinition, state: CompiledState | undefined): CompiledState | undefined {
  return state?.onUnexpected === undefined ? undefined : def.states.get(state.onUnexpected);
}
