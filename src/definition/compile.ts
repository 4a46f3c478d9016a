import { SagaflowError } from '../errors.ts';
import { compileHooks } from './hooks.ts';
import type { CommandPayloadHook, MetadataMerge } from './hooks.ts';
import { IssueList, formatPath } from './issues.ts';
import { lodashDeepMerge } from './metadata-merge.ts';
import { compileParallel } from './parallel.ts';
import type { CompiledParallel } from './parallel.ts';
import { compileRetry, compileTimeout } from './timers.ts';
import type { CompiledRetry, CompiledTimeout } from './timers.ts';
import { compileWhen, observedTopics, routesOf } from './choreography.ts';
import type { ObservedTopic } from './choreography.ts';
import { compilePayloadSchema } from './payload-schema.ts';
import type { PayloadValidator } from './payload-schema.ts';
import { DEFAULT_CREATION_EVENT, businessKey, checkReferences } from './references.ts';
import type { BusinessEntry, BusinessId, CommandKind, CommandSpec, CommunicationProtocol, MachineDefinition, SagaConfig } from './types.ts';

export type { PayloadValidator } from './payload-schema.ts';
export type { CompiledParallel } from './parallel.ts';
export type { CommandHookInput, CommandPayloadHook, HookClock, HookResult, MetadataMerge } from './hooks.ts';

export const DEFAULT_DUPLICATE_WINDOW = 100;
export const DEFAULT_IGNORED_EVENTS_WINDOW = 100;

/** A command a state emits on entry: its outputCommand (`main`) first, then its side effects, then its parallel branches' commands. */
export interface CompiledCommand {
  label: string;
  channel: string;
  kind: CommandKind;
  /** The command's `hook`, compiled into its sandbox: it builds the payload instead of the metadata. */
  hook?: { path: string; run: CommandPayloadHook };
  /** Sent again while the saga stays in the state. */
  retry?: CompiledRetry;
}

export interface CompiledTransition {
  inputEvent: string;
  targetState: string;
  businessEventId?: BusinessId;
  businessEventDescription?: string;
  payloadValidationSchema?: Record<string, unknown>;
  /** Present when the transition has a payloadValidationSchema. */
  validatePayload?: PayloadValidator;
  /** Choreography: the transition's `when` (taken only when the payload matches), compiled. */
  when?: PayloadValidator;
}

export interface CompiledState {
  id: string;
  description?: string;
  isFinal: boolean;
  businessStateId?: BusinessId;
  businessStateDescription?: string;
  outputCommand?: CommandSpec;
  sideEffects: readonly CommandSpec[];
  /** outputCommand then sideEffects, in file order. */
  commands: readonly CompiledCommand[];
  outgoingTransitions: readonly CompiledTransition[];
  /** outgoingTransitions by inputEvent: the first one for it. */
  transitions: ReadonlyMap<string, CompiledTransition>;
  /** Choreography: every transition for an inputEvent, in file order; the first whose `when` matches is taken. */
  routes: ReadonlyMap<string, readonly CompiledTransition[]>;
  /** Choreography: where an event with no transition leads (`onUnexpected.targetState`). */
  onUnexpected?: string;
  /** Delivered as an event when the saga is still in this state (same entry) this long after entering it. */
  timeout?: CompiledTimeout;
  /** Branches whose commands are the last of `commands`, and the join that moves the saga on. */
  parallel?: CompiledParallel;
}

export interface CompiledSettings {
  deepMergeMetadata: {
    enabled: boolean;
    /** lodash mergeWith, with the customizer hook when there is one; used when enabled. */
    merge: MetadataMerge;
    /** JSON path of the customizer hook, when there is one. */
    hook?: string;
  };
  throwOnUnexpectedEvents: boolean;
  duplicateWindow: number;
  ignoredEventsWindow: number;
}

/** A validated definition in the form the transition core and the runtime use. */
export interface CompiledDefinition {
  /** The resolved configuration (contains secrets: never log or serve it whole). */
  config: SagaConfig;
  machineDefinition: MachineDefinition;
  initialState: string;
  /** Label recorded as every saga's first event; `__created__` when the file sets none. */
  creationEvent: string;
  states: ReadonlyMap<string, CompiledState>;
  /** Keyed by `businessKey(id)`: ids keep their JSON type. */
  businessStates: ReadonlyMap<string, BusinessEntry>;
  businessEvents: ReadonlyMap<string, BusinessEntry>;
  protocols: ReadonlyMap<string, CommunicationProtocol>;
  settings: CompiledSettings;
  /** Delivered as an event this long after creation, whatever non-final state the saga is in. */
  deadline?: CompiledTimeout;
  /** Choreography: labels of the events that create a saga that does not exist. */
  startOn: ReadonlySet<string>;
  /** Choreography: observed input topics, whose records carry their saga id in their value. */
  observed: ReadonlyMap<string, ObservedTopic>;
}

export { businessKey } from './references.ts';

const hostMerge: MetadataMerge = (metadata, payload) => ({ ok: true, value: lodashDeepMerge(metadata, payload) });

/**
 * Builds the runtime form of a configuration returned by `parseSagaConfig`, hooks included:
 * each is compiled once, into its own sandbox (the sandbox engine loads only when there is one).
 * @throws SagaflowError SAGAFLOW_DEFINITION_INVALID when a hook does not compile (issue code
 *   SAGAFLOW_HOOK_INVALID, at the hook's path), or when the configuration's references do not
 *   hold (only possible for a configuration that did not come from parseSagaConfig).
 */
export async function compileDefinition(config: SagaConfig): Promise<CompiledDefinition> {
  const issues = new IssueList();
  checkReferences(config, issues);
  const hooks = issues.errors.length === 0 ? await compileHooks(config, issues) : undefined;
  if (hooks === undefined || issues.errors.length > 0) {
    throw new SagaflowError('SAGAFLOW_DEFINITION_INVALID', {
      message: `saga definition is invalid: ${issues.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`,
      details: issues.errors,
    });
  }
  const machine = config.machineDefinition;
  const businessStates = new Map((machine.businessStates ?? []).map((e) => [businessKey(e.id), e] as const));
  const businessEvents = new Map((machine.businessEvents ?? []).map((e) => [businessKey(e.id), e] as const));

  const states = new Map<string, CompiledState>();
  for (const [i, spec] of machine.states.entries()) {
    const outgoingTransitions = (spec.outgoingTransitions ?? []).map((t): CompiledTransition => {
      const compiled: CompiledTransition = { inputEvent: t.inputEvent, targetState: t.targetState };
      if (t.businessEventId !== undefined) {
        compiled.businessEventId = t.businessEventId;
        const description = businessEvents.get(businessKey(t.businessEventId))?.description;
        if (description !== undefined) compiled.businessEventDescription = description;
      }
      if (t.payloadValidationSchema !== undefined) {
        compiled.payloadValidationSchema = t.payloadValidationSchema;
        const result = compilePayloadSchema(t.payloadValidationSchema);
        // checkReferences above refused schemas that do not compile.
        if (result.ok) compiled.validatePayload = result.validate;
      }
      const when = compileWhen(t);
      if (when !== undefined) compiled.when = when;
      return compiled;
    });
    const routes = routesOf(outgoingTransitions);
    const sideEffects = spec.sideEffects ?? [];
    const commands: CompiledCommand[] = [];
    const command = (c: CommandSpec, kind: CommandKind, path: (string | number)[]): CompiledCommand => {
      const hookPath = formatPath(path);
      const run = hooks.commands.get(hookPath);
      const compiled: CompiledCommand = { label: c.label, channel: c.channel, kind };
      if (run !== undefined) compiled.hook = { path: hookPath, run };
      if (c.retry !== undefined && c.retry.maxAttempts > 1) compiled.retry = compileRetry(c.retry);
      return compiled;
    };
    if (spec.outputCommand) commands.push(command(spec.outputCommand, 'main', ['machineDefinition', 'states', i, 'outputCommand', 'hook']));
    sideEffects.forEach((effect, j) => commands.push(command(effect, 'sideEffect', ['machineDefinition', 'states', i, 'sideEffects', j, 'hook'])));
    spec.parallel?.branches.forEach((b, j) => commands.push(command(b.command, 'branch', ['machineDefinition', 'states', i, 'parallel', 'branches', j, 'command', 'hook'])));

    const state: CompiledState = {
      id: spec.id,
      isFinal: spec.isFinal,
      sideEffects,
      commands,
      outgoingTransitions,
      transitions: new Map([...routes].map(([event, list]) => [event, list[0] as CompiledTransition])),
      routes,
    };
    if (spec.onUnexpected !== undefined) state.onUnexpected = spec.onUnexpected.targetState;
    if (spec.description !== undefined) state.description = spec.description;
    if (spec.timeout !== undefined && !spec.isFinal) state.timeout = compileTimeout(spec.timeout);
    if (spec.parallel !== undefined) state.parallel = compileParallel(spec.parallel);
    if (spec.outputCommand !== undefined) state.outputCommand = spec.outputCommand;
    if (spec.businessStateId !== undefined) {
      state.businessStateId = spec.businessStateId;
      const description = businessStates.get(businessKey(spec.businessStateId))?.description;
      if (description !== undefined) state.businessStateDescription = description;
    }
    states.set(spec.id, state);
  }

  const settings = config.settings ?? {};
  return {
    config,
    machineDefinition: machine,
    initialState: machine.initialState,
    creationEvent: machine.creationEvent ?? DEFAULT_CREATION_EVENT,
    states,
    businessStates,
    businessEvents,
    protocols: new Map(config.communicationProtocols.map((p) => [p.id, p])),
    settings: {
      deepMergeMetadata: {
        enabled: settings.deepMergeMetadata?.enabled ?? false,
        merge: hooks.mergeWithCustomizer ?? hostMerge,
        ...(hooks.mergeWithCustomizer ? { hook: 'settings.deepMergeMetadata.hook' } : {}),
      },
      throwOnUnexpectedEvents: settings.throwOnUnexpectedEvents ?? false,
      duplicateWindow: settings.duplicateWindow ?? DEFAULT_DUPLICATE_WINDOW,
      ignoredEventsWindow: settings.ignoredEventsWindow ?? DEFAULT_IGNORED_EVENTS_WINDOW,
    },
    ...(machine.deadline ? { deadline: compileTimeout(machine.deadline) } : {}),
    startOn: new Set(machine.startOn ?? []),
    observed: observedTopics(config),
  };
}
