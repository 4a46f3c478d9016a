import { formatPath, quoteList } from './issues.ts';
import type { IssueList, PathSegment } from './issues.ts';
import { compilePayloadSchema } from './payload-schema.ts';
import type { PayloadValidator } from './payload-schema.ts';
import { DELIVERY_FAILED_EVENT } from './types.ts';
import type { SagaConfig, StateSpec, TransitionSpec } from './types.ts';

// The choreography extensions of saga.json, as the definition sees them: observed topics
// (`correlation` on a kafka channel), `machineDefinition.startOn`, a state's `onUnexpected`
// and transitions routed on their payload (`when`). Checks and compiled forms live here so
// the shared definition modules only call in.

/** The cancel label of src/saga/cancel.ts: the definition layer does not import the core. */
const CANCEL_EVENT = '__cancel__';

/** The fields of an event value as sagaflow decodes it: a correlation pointer starts with one of them. */
const ENVELOPE_FIELDS = ['messageLabel', 'messagePayload', 'eventId', 'timestamp'] as const;

/** An input topic whose records are keyed by anything: the saga id is read from the value. */
export interface ObservedTopic {
  /** The JSON Pointer as written. */
  pointer: string;
  segments: readonly string[];
  /** Id of the channel that observes it. */
  channel: string;
}

/** The segments of an RFC 6901 JSON Pointer, or why it is not one. */
export function parsePointer(pointer: string): { segments: string[] } | { error: string } {
  if (pointer === '') return { error: 'points at the whole event value, which is an object, never a saga id: point inside it, e.g. "/messagePayload/orderId"' };
  if (!pointer.startsWith('/')) return { error: `must be a JSON Pointer starting with "/", e.g. "/messagePayload/orderId" (found ${JSON.stringify(pointer)})` };
  const segments = pointer.slice(1).split('/');
  for (const segment of segments) {
    if (/~(?![01])/.test(segment)) return { error: `has "~" not followed by 0 or 1 in segment ${JSON.stringify(segment)}: write "~0" for "~" and "~1" for "/"` };
  }
  return { segments: segments.map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~')) };
}

/** The value at a parsed pointer, undefined when the path does not exist. Pure. */
export function resolvePointer(value: unknown, segments: readonly string[]): unknown {
  let node = value;
  for (const segment of segments) {
    if (Array.isArray(node)) {
      if (!/^(0|[1-9]\d*)$/.test(segment)) return undefined;
      node = node[Number(segment)];
    } else if (typeof node === 'object' && node !== null && Object.hasOwn(node, segment)) {
      node = (node as Record<string, unknown>)[segment];
    } else {
      return undefined;
    }
  }
  return node;
}

/** Observed input topics by name, from the kafka channels that carry a `correlation`. */
export function observedTopics(config: SagaConfig): Map<string, ObservedTopic> {
  const topics = new Map<string, ObservedTopic>();
  for (const protocol of config.communicationProtocols) {
    if (protocol.type !== 'kafka' || protocol.configurations.correlation === undefined) continue;
    const parsed = parsePointer(protocol.configurations.correlation.sagaId);
    if ('error' in parsed) continue;
    for (const topic of protocol.configurations.inputTopics ?? []) {
      if (!topics.has(topic)) topics.set(topic, { pointer: protocol.configurations.correlation.sagaId, segments: parsed.segments, channel: protocol.id });
    }
  }
  return topics;
}

/**
 * The checks of the choreography extensions a JSON Schema cannot express, with the path of
 * each problem. Transitions sharing an inputEvent are checked by `checkRoutes`.
 */
export function checkChoreography(config: SagaConfig, stateIndex: ReadonlyMap<string, number>, creationEvent: string, issues: IssueList): void {
  const md: PathSegment[] = ['machineDefinition'];
  const seen = new Map<string, number>();
  (config.machineDefinition.startOn ?? []).forEach((label, i) => {
    const path: PathSegment[] = [...md, 'startOn', i];
    const first = seen.get(label);
    if (first !== undefined) issues.error(path, `duplicate label "${label}" (also at ${formatPath([...md, 'startOn', first])}): list each label once`);
    else seen.set(label, i);
    if (label === creationEvent) issues.error(path, `"${label}" is the creation event (machineDefinition.creationEvent): it creates sagas already; remove it from startOn`);
    if (label === DELIVERY_FAILED_EVENT || label === CANCEL_EVENT) issues.error(path, `"${label}" is reserved by sagaflow and never starts a saga: remove it from startOn`);
  });

  config.machineDefinition.states.forEach((state, i) => {
    if (state.onUnexpected === undefined) return;
    const path: PathSegment[] = [...md, 'states', i, 'onUnexpected'];
    if (state.isFinal) issues.error(path, `final state "${state.id}" takes no events, so nothing is unexpected in it: remove onUnexpected or set isFinal to false`);
    if (!stateIndex.has(state.onUnexpected.targetState)) {
      issues.error([...path, 'targetState'], `"${state.onUnexpected.targetState}" is not the id of a state: use one of ${quoteList([...stateIndex.keys()])}`);
    }
  });

  const observedBy = new Map<string, PathSegment[]>();
  config.communicationProtocols.forEach((protocol, i) => {
    if (protocol.type !== 'kafka' || protocol.configurations.correlation === undefined) return;
    const cp: PathSegment[] = ['communicationProtocols', i, 'configurations'];
    const pointer = protocol.configurations.correlation.sagaId;
    const parsed = parsePointer(pointer);
    if ('error' in parsed) issues.error([...cp, 'correlation', 'sagaId'], parsed.error);
    else if (!(ENVELOPE_FIELDS as readonly string[]).includes(parsed.segments[0] ?? '')) {
      issues.error(
        [...cp, 'correlation', 'sagaId'],
        `starts at ${JSON.stringify(parsed.segments[0])}, which an event value does not have: sagaflow reads ${quoteList([...ENVELOPE_FIELDS])}; point into one of them, e.g. "/messagePayload/${parsed.segments[0] ?? 'orderId'}"`,
      );
    }
    const topics = protocol.configurations.inputTopics ?? [];
    if (topics.length === 0) issues.warn([...cp, 'correlation'], `channel "${protocol.id}" has no inputTopics: it observes nothing; list the topics to observe in inputTopics`);
    topics.forEach((topic, j) => {
      const first = observedBy.get(topic);
      if (first !== undefined) issues.error([...cp, 'inputTopics', j], `topic "${topic}" is observed twice (also at ${formatPath(first)}): one correlation per topic`);
      else observedBy.set(topic, [...cp, 'inputTopics', j]);
    });
  });
  // A topic read both as observed and as a keyed input topic would be read twice.
  config.communicationProtocols.forEach((protocol, i) => {
    if (protocol.type !== 'kafka' || protocol.configurations.correlation !== undefined) return;
    (protocol.configurations.inputTopics ?? []).forEach((topic, j) => {
      const observed = observedBy.get(topic);
      if (observed !== undefined) {
        issues.error(
          ['communicationProtocols', i, 'configurations', 'inputTopics', j],
          `topic "${topic}" is also observed (${formatPath(observed)}): a topic is either keyed by sagaId or observed through a correlation, not both`,
        );
      }
    });
  });
}

/**
 * Transitions of one state that share an inputEvent: each but the last must have a `when`
 * (the first that matches is taken, Step Functions' Choice), and every `when` must be a
 * JSON Schema.
 */
export function checkRoutes(state: StateSpec, sp: readonly PathSegment[], issues: IssueList): void {
  const transitions = state.outgoingTransitions ?? [];
  const tp = (k: number): PathSegment[] => [...sp, 'outgoingTransitions', k];
  for (const [event, list] of routesOf(transitions.map((t, k) => ({ inputEvent: t.inputEvent, k })))) {
    const indexes = list.map((e) => e.k);
    const unconditional = indexes.filter((k) => transitions[k]?.when === undefined);
    const last = indexes.at(-1) ?? 0;
    if (unconditional.length > 1) {
      for (const k of unconditional.slice(1)) {
        issues.error(
          [...tp(k), 'inputEvent'],
          `duplicate inputEvent "${event}" in state "${state.id}" (also at ${formatPath([...tp(unconditional[0] ?? 0), 'inputEvent'])}): an event can lead to one state only, unless each transition for it but the last has a "when" (a JSON Schema of the payload)`,
        );
      }
    } else if (unconditional.length === 1 && unconditional[0] !== last) {
      issues.error(
        tp(unconditional[0] ?? 0),
        `has no "when" but is not the last transition for "${event}" in state "${state.id}" (${formatPath(tp(last))} comes after it): it would take every "${event}" and the ones after it never; move it last or give it a "when"`,
      );
    }
  }
  transitions.forEach((t, k) => {
    if (t.when === undefined) return;
    const compiled = compilePayloadSchema(t.when);
    if (!compiled.ok) issues.error([...tp(k), 'when'], `is not a valid JSON Schema: ${compiled.error}`);
  });
}

/** The compiled `when` of a transition: empty problems when the payload matches. */
export function compileWhen(t: TransitionSpec): PayloadValidator | undefined {
  if (t.when === undefined) return undefined;
  const compiled = compilePayloadSchema(t.when);
  // checkRoutes refused schemas that do not compile.
  return compiled.ok ? compiled.validate : undefined;
}

/** Edges of the choreography for the reachability check: a state's onUnexpected target. */
export function choreographyEdges(state: StateSpec): string[] {
  return state.onUnexpected === undefined ? [] : [state.onUnexpected.targetState];
}

/** Transitions by inputEvent, each list in file order (the order `when`s are tried in). */
export function routesOf<T extends { inputEvent: string }>(transitions: readonly T[]): Map<string, T[]> {
  const routes = new Map<string, T[]>();
  for (const t of transitions) routes.set(t.inputEvent, [...(routes.get(t.inputEvent) ?? []), t]);
  return routes;
}
