import { formatPath, quoteList } from './issues.ts';
import type { IssueList, PathSegment } from './issues.ts';
import { checkChoreography, checkRoutes, choreographyEdges } from './choreography.ts';
import { compilePayloadSchema } from './payload-schema.ts';
import { DELIVERY_FAILED_EVENT } from './types.ts';
import { branchCommands, checkParallel, joinTargets } from './parallel.ts';
import { checkTimers } from './timers.ts';
import type { BusinessEntry, BusinessId, CommandSpec, SagaConfig, StateSpec } from './types.ts';

export const DEFAULT_CREATION_EVENT = '__created__';

/**
 * The checks a JSON Schema cannot express: references between ids, uniqueness, the shape of
 * the graph, and the payload schemas. Runs on a schema-valid configuration.
 */
export function checkReferences(config: SagaConfig, issues: IssueList): void {
  const machine = config.machineDefinition;
  const md: PathSegment[] = ['machineDefinition'];
  const states = machine.states;

  const stateIndex = uniqueIndex(states.map((s) => s.id), (i) => [...md, 'states', i, 'id'], 'state id', issues);
  const stateIds = [...stateIndex.keys()];
  if (!stateIndex.has(machine.initialState)) {
    issues.error([...md, 'initialState'], `"${machine.initialState}" is not the id of a state: use one of ${quoteList(stateIds)}`);
  } else if (states[stateIndex.get(machine.initialState) ?? 0]?.isFinal === true) {
    issues.warn([...md, 'initialState'], `"${machine.initialState}" is a final state: every saga ends as soon as it is created`);
  }

  const businessStates = businessIndex(machine.businessStates, [...md, 'businessStates'], 'business state id', issues);
  const businessEvents = businessIndex(machine.businessEvents, [...md, 'businessEvents'], 'business event id', issues);

  const protocolIds = uniqueIndex(
    config.communicationProtocols.map((p) => p.id),
    (i) => ['communicationProtocols', i, 'id'],
    'protocol id',
    issues,
  );
  const creationEvent = machine.creationEvent ?? DEFAULT_CREATION_EVENT;
  if (creationEvent === DELIVERY_FAILED_EVENT) {
    issues.error([...md, 'creationEvent'], `"${DELIVERY_FAILED_EVENT}" is reserved for failed deliveries of commands on rest channels; choose another creation event`);
  }
  checkTimers(machine, creationEvent, issues);
  // Choreography extensions (observed topics, startOn, onUnexpected): src/definition/choreography.ts.
  checkChoreography(config, stateIndex, creationEvent, issues);
  const channelsUsed = new Map<string, PathSegment[]>();

  states.forEach((state, i) => {
    const sp: PathSegment[] = [...md, 'states', i];
    if (state.businessStateId !== undefined) {
      checkBusinessRef(state.businessStateId, businessStates, [...sp, 'businessStateId'], 'businessStates', issues);
    }
    const commands: [CommandSpec, PathSegment[]][] = [];
    if (state.outputCommand) commands.push([state.outputCommand, [...sp, 'outputCommand']]);
    state.sideEffects?.forEach((c, j) => commands.push([c, [...sp, 'sideEffects', j]]));
    commands.push(...branchCommands(state, sp));
    for (const [command, cp] of commands) {
      if (!protocolIds.has(command.channel)) {
        issues.error(
          [...cp, 'channel'],
          `"${command.channel}" is not the id of a communication protocol: use one of ${quoteList([...protocolIds.keys()])} or add it to communicationProtocols`,
        );
      } else if (!channelsUsed.has(command.channel)) {
        channelsUsed.set(command.channel, cp);
      }
    }
    checkTransitions(state, sp, stateIndex, businessEvents, creationEvent, issues);
    checkParallel(machine, state, sp, stateIndex, creationEvent, issues);
  });

  config.communicationProtocols.forEach((protocol, i) => {
    if (protocol.type !== 'kafka') return;
    const cp: PathSegment[] = ['communicationProtocols', i, 'configurations'];
    const conf = protocol.configurations;
    const usedBy = channelsUsed.get(protocol.id);
    if (usedBy !== undefined && (conf.outputTopics ?? []).length === 0 && protocolIds.get(protocol.id) === i) {
      issues.error(
        [...cp, 'outputTopics'],
        `must list the topic commands are sent to: channel "${protocol.id}" is used by ${formatPath(usedBy)}`,
      );
    }
    if (conf.serialization === 'avro' && conf.schemaRegistry === undefined) {
      issues.error([...cp, 'schemaRegistry'], 'is required when serialization is "avro": add {"url": "http://registry:8081"}');
    }
  });

  const merge = config.settings?.deepMergeMetadata;
  if (merge?.hook !== undefined && !merge.enabled) {
    issues.warn(['settings', 'deepMergeMetadata', 'hook'], 'is not used: deepMergeMetadata.enabled is false, so payloads merge shallowly; set enabled to true to merge with it');
  }

  checkGraph(config, stateIndex, issues);
}

function checkTransitions(
  state: StateSpec,
  sp: readonly PathSegment[],
  stateIndex: Map<string, number>,
  businessEvents: Map<string, BusinessEntry>,
  creationEvent: string,
  issues: IssueList,
): void {
  const transitions = state.outgoingTransitions ?? [];
  if (state.isFinal && transitions.length > 0) {
    issues.error(
      [...sp, 'outgoingTransitions'],
      `final state "${state.id}" must not have outgoing transitions: remove them or set isFinal to false`,
    );
  }
  // A parallel state's join is a way out too.
  if (!state.isFinal && transitions.length === 0 && state.parallel === undefined) {
    issues.error(
      [...sp, 'outgoingTransitions'],
      `non-final state "${state.id}" has no way out: add an outgoing transition or set isFinal to true`,
    );
  }
  // Transitions sharing an inputEvent (routing on payload with `when`): src/definition/choreography.ts.
  checkRoutes(state, sp, issues);
  transitions.forEach((transition, k) => {
    const tp: PathSegment[] = [...sp, 'outgoingTransitions', k];
    if (transition.inputEvent === DELIVERY_FAILED_EVENT) {
      issues.error(
        [...tp, 'inputEvent'],
        `"${DELIVERY_FAILED_EVENT}" is reserved: sagaflow sends it when a command on a rest channel could not be delivered, and records it in the saga's deliveryFailures without a transition; rename the event`,
      );
    }
    if (transition.inputEvent === creationEvent) {
      issues.error(
        [...tp, 'inputEvent'],
        `"${creationEvent}" is the creation event (machineDefinition.creationEvent, default "${DEFAULT_CREATION_EVENT}"): messages with this label create sagas and never reach a transition; rename the event`,
      );
    }
    if (!stateIndex.has(transition.targetState)) {
      issues.error(
        [...tp, 'targetState'],
        `"${transition.targetState}" is not the id of a state: use one of ${quoteList([...stateIndex.keys()])}`,
      );
    }
    if (transition.businessEventId !== undefined) {
      checkBusinessRef(transition.businessEventId, businessEvents, [...tp, 'businessEventId'], 'businessEvents', issues);
    }
    if (transition.payloadValidationSchema !== undefined) {
      const compiled = compilePayloadSchema(transition.payloadValidationSchema);
      if (!compiled.ok) {
        issues.error([...tp, 'payloadValidationSchema'], `is not a valid JSON Schema: ${compiled.error}`);
      }
    }
  });
}

/** Index of first occurrence by id; later duplicates are errors naming the first. */
function uniqueIndex(
  ids: readonly string[],
  pathOf: (i: number) => PathSegment[],
  what: string,
  issues: IssueList,
): Map<string, number> {
  const index = new Map<string, number>();
  ids.forEach((id, i) => {
    const first = index.get(id);
    if (first === undefined) index.set(id, i);
    else issues.error(pathOf(i), `duplicate ${what} "${id}" (also at ${formatPath(pathOf(first))}): ${what}s must be unique`);
  });
  return index;
}

/** Business ids are compared with their JSON type: 1 and "1" are different ids, as in Flow Manager. */
export function businessKey(id: BusinessId): string {
  return `${typeof id}:${String(id)}`;
}

function businessIndex(
  entries: readonly BusinessEntry[] | undefined,
  base: readonly PathSegment[],
  what: string,
  issues: IssueList,
): Map<string, BusinessEntry> {
  const index = new Map<string, BusinessEntry>();
  const firstAt = new Map<string, number>();
  (entries ?? []).forEach((entry, i) => {
    const key = businessKey(entry.id);
    const first = firstAt.get(key);
    if (first === undefined) {
      index.set(key, entry);
      firstAt.set(key, i);
    } else {
      issues.error(
        [...base, i, 'id'],
        `duplicate ${what} ${JSON.stringify(entry.id)} (also at ${formatPath([...base, first, 'id'])}): ${what}s must be unique`,
      );
    }
  });
  return index;
}

function checkBusinessRef(
  id: BusinessId,
  index: Map<string, BusinessEntry>,
  path: readonly PathSegment[],
  list: 'businessStates' | 'businessEvents',
  issues: IssueList,
): void {
  if (index.has(businessKey(id))) return;
  const known = [...index.values()].map((e) => e.id);
  if (known.length === 0) {
    issues.error(path, `${JSON.stringify(id)} is not defined: machineDefinition.${list} is empty or missing; add {"id": ${JSON.stringify(id)}, "description": "..."} to it`);
    return;
  }
  const otherType = typeof id === 'number' ? String(id) : Number(id);
  const hint = known.some((k) => k === otherType) ? ` (ids are compared with their type: ${JSON.stringify(id)} is not ${JSON.stringify(otherType)})` : '';
  issues.error(path, `${JSON.stringify(id)} is not the id of an entry of machineDefinition.${list}: use one of ${quoteList(known)}${hint}`);
}

/** Reachability: states nothing leads to, and states from which no final state can be reached. */
function checkGraph(config: SagaConfig, stateIndex: Map<string, number>, issues: IssueList): void {
  const { states, initialState } = config.machineDefinition;
  if (!stateIndex.has(initialState)) return;
  const forward = new Map<string, string[]>();
  const backward = new Map<string, string[]>();
  for (const state of states) {
    for (const target of [...(state.outgoingTransitions ?? []).map((t) => t.targetState), ...joinTargets(state), ...choreographyEdges(state)]) {
      if (!stateIndex.has(target)) continue;
      forward.set(state.id, [...(forward.get(state.id) ?? []), target]);
      backward.set(target, [...(backward.get(target) ?? []), state.id]);
    }
  }
  const reachable = closure([initialState], forward);
  const finals = states.filter((s) => s.isFinal).map((s) => s.id);
  const canFinish = closure(finals, backward);
  if (finals.length === 0) {
    issues.warn(['machineDefinition', 'states'], 'no state is final: sagas never complete; set isFinal to true on the end states');
  }
  const reported = new Set<string>();
  states.forEach((state, i) => {
    if (reported.has(state.id)) return;
    reported.add(state.id);
    if (!reachable.has(state.id)) {
      issues.warn(
        ['machineDefinition', 'states', i],
        `state "${state.id}" is unreachable from initialState "${initialState}": no transition leads to it; remove it or add a transition to it`,
      );
    } else if (finals.length > 0 && !canFinish.has(state.id) && ((state.outgoingTransitions ?? []).length > 0 || state.parallel !== undefined)) {
      // A non-final state without transitions is already an error; this is about cycles.
      issues.warn(
        ['machineDefinition', 'states', i],
        `no final state can be reached from state "${state.id}": sagas entering it never complete`,
      );
    }
  });
}

function closure(start: readonly string[], edges: Map<string, string[]>): Set<string> {
  const seen = new Set(start);
  const queue = [...start];
  for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
    for (const next of edges.get(id) ?? []) {
      if (!seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  return seen;
}
