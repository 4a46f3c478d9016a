import { formatPath, quoteList } from './issues.ts';
import type { IssueList, PathSegment } from './issues.ts';
import { checkRetry } from './timers.ts';
import { DELIVERY_FAILED_EVENT } from './types.ts';
import type { CommandSpec, JoinSpec, MachineDefinition, StateSpec } from './types.ts';

/**
 * A state's `parallel` block, compiled: its branches' commands go out with the state's other
 * commands (src/definition/compile.ts puts them last in `commands`, kind `branch`), so hooks,
 * channels, the outbox and `retry` work for them as for any command.
 */
export interface CompiledParallel {
  branches: readonly { label: string; channel: string; done: readonly string[] }[];
  join: JoinSpec;
  /** Branches that must be complete for the join to hold. */
  needed: number;
  targetState: string;
  /** Branch index by `done` label. */
  byDone: ReadonlyMap<string, number>;
}

/** Labels the engine gives a meaning of its own before any state sees them (src/saga/cancel.ts). */
const CANCEL_EVENT = '__cancel__';

/** What a join waits for, in words: `join all 3`, `join any of 3`, `join at least 2 of 3`. */
export function describeJoin(join: JoinSpec, branches: number): string {
  if (join === 'all') return `join all ${branches}`;
  if (join === 'any') return `join any of ${branches}`;
  return `join at least ${join.atLeast} of ${branches}`;
}

export function joinNeeded(join: JoinSpec, branches: number): number {
  if (join === 'all') return branches;
  if (join === 'any') return 1;
  return join.atLeast;
}

export function compileParallel(spec: NonNullable<StateSpec['parallel']>): CompiledParallel {
  const byDone = new Map<string, number>();
  spec.branches.forEach((b, j) => b.done.forEach((label) => byDone.set(label, j)));
  return {
    branches: spec.branches.map((b) => ({ label: b.command.label, channel: b.command.channel, done: b.done })),
    join: spec.join,
    needed: joinNeeded(spec.join, spec.branches.length),
    targetState: spec.onJoin.targetState,
    byDone,
  };
}

/** The branches' commands with their paths, for the checks every command gets (channel, outputTopics). */
export function branchCommands(state: StateSpec, sp: readonly PathSegment[]): [CommandSpec, PathSegment[]][] {
  return (state.parallel?.branches ?? []).map((b, j) => [b.command, [...sp, 'parallel', 'branches', j, 'command']]);
}

/** Where a state can go besides its outgoingTransitions. */
export function joinTargets(state: StateSpec): string[] {
  return state.parallel === undefined ? [] : [state.parallel.onJoin.targetState];
}

/**
 * What the schema cannot say about a `parallel` block. A `done` label must belong to one
 * branch only, and must not be an inputEvent of the state's outgoingTransitions (nor its
 * timeout's event): the event would mean two things, so the file is refused rather than one
 * meaning silently winning.
 */
export function checkParallel(
  machine: MachineDefinition,
  state: StateSpec,
  sp: readonly PathSegment[],
  stateIds: ReadonlyMap<string, number>,
  creationEvent: string,
  issues: IssueList,
): void {
  const parallel = state.parallel;
  if (parallel === undefined) return;
  const pp: PathSegment[] = [...sp, 'parallel'];
  if (state.isFinal) {
    issues.error(pp, `state "${state.id}" is final: a saga in it takes no events, so its branches could never be answered; remove parallel or set isFinal to false`);
  }
  const transitions = new Map((state.outgoingTransitions ?? []).map((t, k) => [t.inputEvent, k] as const));
  const reserved = new Map<string, string>([
    [creationEvent, 'is the creation event'],
    [DELIVERY_FAILED_EVENT, 'is reserved for failed deliveries of commands on rest channels'],
    [CANCEL_EVENT, 'is reserved for cancelling a saga'],
  ]);
  if (state.timeout !== undefined) reserved.set(state.timeout.event, `is the event of the state's timeout (${formatPath([...sp, 'timeout', 'event'])})`);
  if (machine.deadline !== undefined) reserved.set(machine.deadline.event, 'is the event of the saga\'s deadline (machineDefinition.deadline.event)');

  const labels = new Map<string, PathSegment[]>();
  if (state.outputCommand) labels.set(state.outputCommand.label, [...sp, 'outputCommand', 'label']);
  state.sideEffects?.forEach((c, j) => {
    if (!labels.has(c.label)) labels.set(c.label, [...sp, 'sideEffects', j, 'label']);
  });
  const doneAt = new Map<string, PathSegment[]>();
  parallel.branches.forEach((branch, j) => {
    const bp: PathSegment[] = [...pp, 'branches', j];
    const first = labels.get(branch.command.label);
    if (first !== undefined) {
      issues.error([...bp, 'command', 'label'], `duplicate command label "${branch.command.label}" in state "${state.id}" (also at ${formatPath(first)}): a branch's answers and retries are matched to its command by label`);
    } else {
      labels.set(branch.command.label, [...bp, 'command', 'label']);
    }
    if (branch.command.retry !== undefined) checkRetry([...bp, 'command', 'retry'], branch.command.retry, issues);
    branch.done.forEach((label, k) => {
      const dp: PathSegment[] = [...bp, 'done', k];
      const seen = doneAt.get(label);
      if (seen !== undefined) {
        issues.error(dp, `duplicate done event "${label}" (also at ${formatPath(seen)}): an event completes one branch only`);
        return;
      }
      doneAt.set(label, dp);
      const transition = transitions.get(label);
      if (transition !== undefined) {
        issues.error(
          dp,
          `"${label}" is also the inputEvent of ${formatPath([...sp, 'outgoingTransitions', transition, 'inputEvent'])}: an event either completes a branch or takes a transition; rename one of them`,
        );
      }
      const why = reserved.get(label);
      if (why !== undefined) issues.error(dp, `"${label}" ${why}: it cannot complete a branch; rename the done event`);
    });
  });
  const n = parallel.branches.length;
  if (typeof parallel.join === 'object' && parallel.join.atLeast > n) {
    issues.error([...pp, 'join', 'atLeast'], `is ${parallel.join.atLeast}, but the state has ${n} branch${n === 1 ? '' : 'es'}: the join could never hold; use a number from 1 to ${n}`);
  }
  const target = parallel.onJoin.targetState;
  if (!stateIds.has(target)) {
    issues.error([...pp, 'onJoin', 'targetState'], `"${target}" is not the id of a state: use one of ${quoteList([...stateIds.keys()])}`);
  }
}

/** One message for a bad `join`, instead of one per branch of its oneOf. */
export function joinMessage(data: unknown, found: string): string {
  const shown = typeof data === 'string' && data.length <= 40 ? JSON.stringify(data) : found;
  return `must be "all", "any" or {"atLeast": n} with n a whole number from 1 to the number of branches (found ${shown})`;
}

/**
 * Where Ajv reports the `join` rule: `.../properties/join/oneOf` (Ajv inlines the parallel
 * definition, so the path does not name it; `join` is the only property of that name). Its
 * sub-errors are folded into the oneOf's one message.
 */
export function joinSchemaError(schemaPath: string): 'oneOf' | 'branch' | undefined {
  const m = /(?:^#|\/)properties\/join\/oneOf(\/.*)?$/.exec(schemaPath);
  if (m === null) return undefined;
  return m[1] === undefined ? 'oneOf' : 'branch';
}
