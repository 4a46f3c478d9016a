import { describeJoin } from './parallel.ts';
import { businessKey } from './references.ts';
import type { CommandSpec, MachineDefinition, StateSpec } from './types.ts';

const SAFE_ID = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The machine as a Mermaid `stateDiagram-v2`: states (with descriptions), transitions
 * labelled with their input event, business states as composite groups, commands and side
 * effects as notes, a parallel state's branches between a fork and a join, `[*]` for the
 * initial and the final states. Deterministic.
 */
export function renderMermaid(machine: MachineDefinition): string {
  const ids = new Map<string, string>();
  machine.states.forEach((state, i) => {
    if (!ids.has(state.id)) ids.set(state.id, SAFE_ID.test(state.id) && state.id !== 'state' ? state.id : `s_${i}`);
  });
  const idOf = (stateId: string): string => ids.get(stateId) ?? `unknown_${stateId.replace(/\W/g, '_')}`;
  const lines = ['stateDiagram-v2'];

  const groups = new Map<string, StateSpec[]>();
  const ungrouped: StateSpec[] = [];
  for (const state of machine.states) {
    if (state.businessStateId === undefined) ungrouped.push(state);
    else groups.set(businessKey(state.businessStateId), [...(groups.get(businessKey(state.businessStateId)) ?? []), state]);
  }
  // Composite groups first: a state must be declared inside its group before any transition
  // mentions it, or Mermaid places it at the top level.
  const businessStates = machine.businessStates ?? [];
  let groupIndex = 0;
  for (const [key, members] of groups) {
    const entry = businessStates.find((b) => businessKey(b.id) === key);
    const id = members[0]?.businessStateId ?? '';
    const title = entry?.description === undefined ? `business state ${String(id)}` : `${String(id)} - ${entry.description}`;
    lines.push(`    state "${text(title)}" as business_${groupIndex} {`);
    for (const state of members) lines.push(...declaration(state, idOf(state.id)).map((l) => `        ${l}`));
    lines.push('    }');
    groupIndex += 1;
  }
  for (const state of ungrouped) lines.push(...declaration(state, idOf(state.id)).map((l) => `    ${l}`));

  // Choreography: the events that start a saga label the initial arrow.
  const startOn = machine.startOn ?? [];
  lines.push(startOn.length === 0 ? `    [*] --> ${idOf(machine.initialState)}` : `    [*] --> ${idOf(machine.initialState)} : ${text(`starts on ${startOn.join(' or ')}`)}`);
  for (const state of machine.states) {
    for (const t of state.outgoingTransitions ?? []) {
      const label = t.payloadValidationSchema === undefined ? t.inputEvent : `${t.inputEvent} (validated)`;
      lines.push(`    ${idOf(state.id)} --> ${idOf(t.targetState)} : ${text(t.when === undefined ? label : `${label} [${whenText(t.when)}]`)}`);
    }
    if (state.onUnexpected !== undefined) lines.push(`    ${idOf(state.id)} --> ${idOf(state.onUnexpected.targetState)} : ${text('any unexpected event')}`);
    if (state.isFinal) lines.push(`    ${idOf(state.id)} --> [*]`);
  }
  for (const state of machine.states) lines.push(...forkAndJoin(state, idOf).map((l) => `    ${l}`));
  for (const state of machine.states) {
    const commands: string[] = [];
    if (state.outputCommand) commands.push(commandText('command', state.outputCommand));
    for (const effect of state.sideEffects ?? []) commands.push(commandText('side effect', effect));
    if (commands.length === 0) continue;
    lines.push(`    note right of ${idOf(state.id)}`);
    for (const line of commands) lines.push(`        ${line}`);
    lines.push('    end note');
  }
  return lines.join('\n');
}

/**
 * A parallel state forks into one node per branch command; each branch reaches the join on its
 * done events, and the join leads to onJoin's target, labelled with what it waits for.
 */
function forkAndJoin(state: StateSpec, idOf: (stateId: string) => string): string[] {
  const parallel = state.parallel;
  if (parallel === undefined) return [];
  const id = idOf(state.id);
  const join = describeJoin(parallel.join, parallel.branches.length);
  const lines = [`state ${id}_fork <<fork>>`, `state ${id}_join <<join>>`, `${id} --> ${id}_fork`];
  parallel.branches.forEach((branch, j) => {
    lines.push(`state "${quoted(`${branch.command.label} via ${branch.command.channel}`)}" as ${id}_branch_${j}`);
    lines.push(`${id}_fork --> ${id}_branch_${j}`);
    lines.push(`${id}_branch_${j} --> ${id}_join : ${text(branch.done.join(', '))}`);
  });
  lines.push(`${id}_join --> ${idOf(parallel.onJoin.targetState)} : ${text(join)}`);
  return lines;
}

/** A short reading of a `when`: its `title` or `description` when it has one, else "when". */
function whenText(when: Record<string, unknown>): string {
  const named = typeof when.title === 'string' ? when.title : typeof when.description === 'string' ? when.description : undefined;
  return named === undefined ? 'when' : `when ${named}`;
}

function declaration(state: StateSpec, id: string): string[] {
  // `id : description` would make Mermaid show the description instead of the state's name;
  // a quoted label shows both.
  if (!state.description) return [id === state.id ? id : `state "${quoted(state.id)}" as ${id}`];
  return [`state "${quoted(`${state.id} - ${state.description}`)}" as ${id}`];
}

/** Text inside a quoted state label: Mermaid takes it literally up to the closing quote. */
function quoted(value: string): string {
  return value.replace(/"/g, "'").replace(/\s+/g, ' ');
}

function commandText(kind: string, command: CommandSpec): string {
  return text(`${kind} ${command.label} via ${command.channel}`);
}

const ENTITIES: Record<string, string> = {
  '#': '#35;',
  ':': '#58;',
  ';': '#59;',
  '"': '#quot;',
  '{': '#123;',
  '}': '#125;',
  '<': '#lt;',
  '>': '#gt;',
};

/** Mermaid entity codes for the characters its state syntax gives a meaning to (one pass). */
function text(value: string): string {
  return value.replace(/\s+/g, ' ').replace(/[#:;"{}<>]/g, (c) => ENTITIES[c] ?? c);
}
