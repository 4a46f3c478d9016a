import { formatPath } from './issues.ts';
import type { IssueList, PathSegment } from './issues.ts';
import { lodashMergeWithScript } from './metadata-merge.ts';
import { SandboxCompileError, SandboxedHook } from './sandbox.ts';
import type { SandboxClock, SandboxLimits, SandboxOutcome } from './sandbox.ts';
import type { HookSpec, SagaConfig, Settings } from './types.ts';

export type HookResult<T> = { ok: true; value: T } | { ok: false; reason: string };

/** The clock and seed a hook run sees: the transition's timestamp, and a seed unique to the run. */
export type HookClock = SandboxClock;

/** What a command hook receives, as Flow Manager documents it. */
export interface CommandHookInput {
  /** The saga after the transition that sends the command. */
  saga: Record<string, unknown>;
  /** The label of the command being built. */
  messageLabel: string;
}

/** A compiled `outputCommand.hook`: the payload of the command, or why there is none. */
export type CommandPayloadHook = (input: CommandHookInput, clock: HookClock) => HookResult<Record<string, unknown>>;

/** Merges an event payload into saga metadata; fails only when a customizer hook fails. */
export type MetadataMerge = (metadata: Record<string, unknown>, payload: Record<string, unknown>, clock: HookClock) => HookResult<Record<string, unknown>>;

// A run is a few hundred microseconds; the limit is there for a hook that never ends, and is
// wall-clock time, so it must not catch an honest hook on a busy machine.
export const DEFAULT_HOOK_TIMEOUT_MS = 1000;
export const DEFAULT_HOOK_MEMORY_MB = 32;

export function hookLimits(settings: Settings | undefined): SandboxLimits {
  return {
    timeoutMs: settings?.hookLimits?.timeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS,
    memoryBytes: (settings?.hookLimits?.memoryMb ?? DEFAULT_HOOK_MEMORY_MB) * 1024 * 1024,
  };
}

interface FoundHook {
  path: PathSegment[];
  spec: HookSpec;
  kind: 'command' | 'merge';
}

/** Every hook of a configuration, with its JSON path, in file order. */
export function findHooks(config: SagaConfig): FoundHook[] {
  const found: FoundHook[] = [];
  config.machineDefinition.states.forEach((state, i) => {
    const base: PathSegment[] = ['machineDefinition', 'states', i];
    if (state.outputCommand?.hook) found.push({ path: [...base, 'outputCommand', 'hook'], spec: state.outputCommand.hook, kind: 'command' });
    state.sideEffects?.forEach((effect, j) => {
      if (effect.hook) found.push({ path: [...base, 'sideEffects', j, 'hook'], spec: effect.hook, kind: 'command' });
    });
    state.parallel?.branches.forEach((branch, j) => {
      if (branch.command.hook) found.push({ path: [...base, 'parallel', 'branches', j, 'command', 'hook'], spec: branch.command.hook, kind: 'command' });
    });
  });
  const merge = config.settings?.deepMergeMetadata?.hook;
  if (merge) found.push({ path: ['settings', 'deepMergeMetadata', 'hook'], spec: merge, kind: 'merge' });
  return found;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;
const BASE64_URL = /^[A-Za-z0-9_-]*$/;

/** The JavaScript of a hook, decoded as its `encoding` says. */
export function decodeHookSource(spec: HookSpec): { ok: true; source: string } | { ok: false; message: string } {
  let source = spec.content;
  if (spec.encoding === 'base64') {
    // Encoders wrap long base64 at 76 columns; the line breaks are not part of the data.
    const text = spec.content.replace(/\s+/g, '');
    if (!BASE64.test(text) && !(BASE64_URL.test(text) && text.length % 4 !== 1)) {
      return { ok: false, message: 'is not valid base64 (encoding is "base64"): encode the module with e.g. `base64 -w0 hook.mjs`, or set encoding to "plain"' };
    }
    try {
      source = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64'));
    } catch {
      return { ok: false, message: 'is base64 of bytes that are not UTF-8 text: encode the module\'s UTF-8 source' };
    }
  }
  if (source.trim() === '') return { ok: false, message: 'is empty: give the hook\'s ES module, e.g. "export default ({ saga }) => ({ payload: saga.metadata })"' };
  return { ok: true, source };
}

export interface CompiledHooks {
  /** Command hooks by the formatted JSON path of the hook, e.g. `machineDefinition.states[0].outputCommand.hook`. */
  commands: Map<string, CommandPayloadHook>;
  /** The deep merge with `settings.deepMergeMetadata.hook` as lodash customizer. */
  mergeWithCustomizer?: MetadataMerge;
}

const COMMAND_ENTRY = '(function (hook, input) { return hook(input); })';
const MERGE_ENTRY = '(function (customizer, input, mergeWith) { return mergeWith(input.metadata, input.payload, customizer); })';

/**
 * Compiles every hook of the configuration into its own sandbox, once. A hook that cannot be
 * decoded or evaluated, or exports no function, is an error at `<hook path>.content`, coded
 * SAGAFLOW_HOOK_INVALID. Each hook gets an engine of its own (none without hooks).
 */
export async function compileHooks(config: SagaConfig, issues: IssueList): Promise<CompiledHooks> {
  const compiled: CompiledHooks = { commands: new Map() };
  const found = findHooks(config);
  if (found.length === 0) return compiled;
  const limits = hookLimits(config.settings);
  for (const hook of found) {
    const name = formatPath(hook.path);
    const decoded = decodeHookSource(hook.spec);
    if (!decoded.ok) {
      issues.error([...hook.path, 'content'], decoded.message, 'SAGAFLOW_HOOK_INVALID');
      continue;
    }
    let sandbox: SandboxedHook;
    try {
      sandbox = await SandboxedHook.create(
        hook.kind === 'merge'
          ? { name, source: decoded.source, prelude: lodashMergeWithScript(), entry: MERGE_ENTRY }
          : { name, source: decoded.source, entry: COMMAND_ENTRY },
        limits,
      );
    } catch (error) {
      if (!(error instanceof SandboxCompileError)) throw error;
      issues.error([...hook.path, 'content'], `does not compile: ${error.message}`, 'SAGAFLOW_HOOK_INVALID');
      continue;
    }
    if (hook.kind === 'merge') compiled.mergeWithCustomizer = mergeHook(name, sandbox);
    else compiled.commands.set(name, commandHook(name, sandbox));
  }
  return compiled;
}

function commandHook(name: string, sandbox: SandboxedHook): CommandPayloadHook {
  return (input, clock) => {
    const out = sandbox.call(input, clock);
    if (!out.ok) return { ok: false, reason: `hook ${name} ${out.reason}` };
    const payload = isRecord(out.value) ? out.value.payload : undefined;
    if (!isRecord(payload)) {
      return { ok: false, reason: `hook ${name} returned ${describeReturned(out)}; a command hook must return {payload: object}` };
    }
    return { ok: true, value: payload };
  };
}

function mergeHook(name: string, sandbox: SandboxedHook): MetadataMerge {
  return (metadata, payload, clock) => {
    const out = sandbox.call({ metadata, payload }, clock);
    if (!out.ok) return { ok: false, reason: `hook ${name} ${out.reason}` };
    // mergeWith returns its first argument, an object, whatever the customizer answers.
    if (!isRecord(out.value)) return { ok: false, reason: `hook ${name}: the merge gave ${out.kind}, not an object` };
    return { ok: true, value: out.value };
  };
}

function describeReturned(out: Extract<SandboxOutcome, { ok: true }>): string {
  if (out.kind !== 'object' || !isRecord(out.value)) return out.kind;
  if (!('payload' in out.value)) return `an object without "payload" (keys: ${Object.keys(out.value).slice(0, 5).join(', ') || 'none'})`;
  const payload = out.value.payload;
  return `{payload: ${payload === null ? 'null' : Array.isArray(payload) ? 'array' : typeof payload}}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
