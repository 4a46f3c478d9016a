import { describe, expect, it } from 'vitest';
import { compileDefinition } from '../../../src/definition/compile.ts';
import type { CompiledDefinition } from '../../../src/definition/compile.ts';
import { DEFAULT_HOOK_MEMORY_MB, DEFAULT_HOOK_TIMEOUT_MS, decodeHookSource, findHooks, hookLimits } from '../../../src/definition/hooks.ts';
import type { DefinitionIssue } from '../../../src/definition/issues.ts';
import { isSagaflowError } from '../../../src/errors.ts';
import { parseEdited, set, validConfig } from './fixtures.ts';

const MAIN = 'machineDefinition.states[0].outputCommand.hook';
const SIDE = 'machineDefinition.states[0].sideEffects[0].hook';
const MERGE = 'settings.deepMergeMetadata.hook';
const CLOCK = { timestamp: '2024-01-01T00:00:00.000Z', seed: 's' };

const plain = (content: string) => ({ type: 'file', encoding: 'plain', content });
const base64 = (content: string) => ({ type: 'file', encoding: 'base64', content: Buffer.from(content).toString('base64') });

/** The issues compileDefinition refuses a configuration with. */
async function compileIssues(edit: (raw: Record<string, unknown>) => void): Promise<DefinitionIssue[]> {
  try {
    await compileDefinition(validConfig(edit));
  } catch (error) {
    if (isSagaflowError(error, 'SAGAFLOW_DEFINITION_INVALID')) return error.details as DefinitionIssue[];
    throw error;
  }
  return [];
}

function mainHook(def: CompiledDefinition) {
  const command = def.states.get('created')?.commands[0];
  if (command?.hook === undefined) throw new Error('no hook on the main command');
  return command.hook;
}

describe('hook sources', () => {
  it('are taken as written (plain, the default) or decoded from base64', () => {
    const source = 'export default ({ saga }) => ({ payload: { id: saga.sagaId, note: "été" } })';
    expect(decodeHookSource({ type: 'file', content: source })).toEqual({ ok: true, source });
    expect(decodeHookSource({ type: 'file', encoding: 'plain', content: source })).toEqual({ ok: true, source });
    expect(decodeHookSource({ type: 'file', encoding: 'base64', content: Buffer.from(source).toString('base64') })).toEqual({ ok: true, source });
    // Wrapped at 76 columns, as `base64` writes it by default, and the URL-safe alphabet.
    const wrapped = Buffer.from(source).toString('base64').replace(/.{76}/g, '$&\n');
    expect(decodeHookSource({ type: 'file', encoding: 'base64', content: wrapped })).toEqual({ ok: true, source });
    expect(decodeHookSource({ type: 'file', encoding: 'base64', content: Buffer.from(source).toString('base64url') })).toEqual({ ok: true, source });
  });

  it('refuse base64 that is not, bytes that are not UTF-8, and empty content', () => {
    expect(decodeHookSource({ type: 'file', encoding: 'base64', content: 'export default () => 1' })).toMatchObject({ ok: false, message: expect.stringMatching(/^is not valid base64/) });
    expect(decodeHookSource({ type: 'file', encoding: 'base64', content: 'abcde' })).toMatchObject({ ok: false, message: expect.stringMatching(/^is not valid base64/) });
    expect(decodeHookSource({ type: 'file', encoding: 'base64', content: Buffer.from([0xff, 0xfe, 0x00]).toString('base64') })).toMatchObject({ ok: false, message: expect.stringMatching(/not UTF-8/) });
    expect(decodeHookSource({ type: 'file', content: '  \n' })).toMatchObject({ ok: false, message: expect.stringMatching(/^is empty/) });
  });

  it('are found on main commands, side effects and the merge customizer, in file order', () => {
    const config = validConfig((raw) => {
      set(raw, 'machineDefinition.states[0].outputCommand.hook', plain('export default () => ({ payload: {} })'));
      set(raw, 'machineDefinition.states[0].sideEffects[0].hook', plain('export default () => ({ payload: {} })'));
      set(raw, 'settings', { deepMergeMetadata: { enabled: true, hook: plain('export default () => undefined') } });
    });
    expect(findHooks(config).map((h) => [h.path.join('.'), h.kind])).toEqual([
      ['machineDefinition.states.0.outputCommand.hook', 'command'],
      ['machineDefinition.states.0.sideEffects.0.hook', 'command'],
      ['settings.deepMergeMetadata.hook', 'merge'],
    ]);
  });
});

describe('compiling hooks', () => {
  it('refuses every hook that cannot be used, each at its content path with SAGAFLOW_HOOK_INVALID', async () => {
    const issues = await compileIssues((raw) => {
      set(raw, 'machineDefinition.states[0].outputCommand.hook', plain('export default ({ saga }) => ({ payload: saga.metadata '));
      set(raw, 'machineDefinition.states[0].sideEffects[0].hook', { type: 'file', encoding: 'base64', content: '%%%' });
      set(raw, 'settings', { deepMergeMetadata: { enabled: true, hook: plain('export default 42') } });
    });
    expect(issues.map((i) => [i.code, i.path])).toEqual([
      ['SAGAFLOW_HOOK_INVALID', `${MAIN}.content`],
      ['SAGAFLOW_HOOK_INVALID', `${SIDE}.content`],
      ['SAGAFLOW_HOOK_INVALID', `${MERGE}.content`],
    ]);
    expect(issues[0]?.message).toMatch(/^does not compile: threw SyntaxError: .+ \(line 1, column \d+\)$/);
    expect(issues[2]?.message).toBe(
      'does not compile: must be an ES module whose default export is a function (its default export is a number); e.g. export default ({ saga, messageLabel }) => ({ payload: saga.metadata })',
    );
  });

  it('names the file and path in the error message start prints', async () => {
    let error: unknown;
    try {
      await compileDefinition(validConfig((raw) => set(raw, 'machineDefinition.states[0].outputCommand.hook', plain('throw new Error("boom")'))));
    } catch (e) {
      error = e;
    }
    expect(isSagaflowError(error, 'SAGAFLOW_DEFINITION_INVALID')).toBe(true);
    expect((error as Error).message).toMatch(/^saga definition is invalid: machineDefinition\.states\[0\]\.outputCommand\.hook\.content: does not compile: threw Error: boom/);
  });

  it('compiles valid hooks once, onto the commands that have them', async () => {
    const def = await compileDefinition(
      validConfig((raw) => {
        set(raw, 'machineDefinition.states[0].outputCommand.hook', base64('export default ({ saga, messageLabel }) => ({ payload: { id: saga.sagaId, label: messageLabel } })'));
      }),
    );
    const created = def.states.get('created');
    expect(created?.commands.map((c) => [c.label, c.hook?.path])).toEqual([
      ['doWork', MAIN],
      ['audit', undefined],
    ]);
    expect(mainHook(def).run({ saga: { sagaId: 's-1' }, messageLabel: 'doWork' }, CLOCK)).toEqual({ ok: true, value: { id: 's-1', label: 'doWork' } });
    expect(def.settings.deepMergeMetadata.hook).toBeUndefined();
  });

  it('warns that a customizer is unused when deep merge is off, and still checks it', async () => {
    const result = parseEdited((raw) => set(raw, 'settings', { deepMergeMetadata: { enabled: false, hook: plain('export default () => undefined') } }));
    expect(result.warnings).toEqual([
      { path: MERGE, message: 'is not used: deepMergeMetadata.enabled is false, so payloads merge shallowly; set enabled to true to merge with it' },
    ]);
    const issues = await compileIssues((raw) => set(raw, 'settings', { deepMergeMetadata: { enabled: false, hook: plain('export default "no"') } }));
    expect(issues.map((i) => i.path)).toEqual([`${MERGE}.content`]);
  });

  it('loads no sandbox for a configuration without hooks', async () => {
    const def = await compileDefinition(validConfig());
    expect([...def.states.values()].flatMap((s) => s.commands).every((c) => c.hook === undefined)).toBe(true);
  });
});

describe('command hook results', () => {
  async function run(source: string) {
    const def = await compileDefinition(validConfig((raw) => set(raw, 'machineDefinition.states[0].outputCommand.hook', plain(source))));
    return mainHook(def).run({ saga: { sagaId: 's-1', metadata: { a: 1 } }, messageLabel: 'doWork' }, CLOCK);
  }

  it('accepts {payload: object} and ignores other keys', async () => {
    expect(await run('export default ({ saga }) => ({ payload: saga.metadata, extra: true })')).toEqual({ ok: true, value: { a: 1 } });
  });

  it('refuses anything else, saying what came back', async () => {
    const must = '; a command hook must return {payload: object}';
    expect(await run('export default () => ({ payload: [1] })')).toEqual({ ok: false, reason: `hook ${MAIN} returned {payload: array}${must}` });
    expect(await run('export default () => ({ payload: null })')).toEqual({ ok: false, reason: `hook ${MAIN} returned {payload: null}${must}` });
    expect(await run('export default () => ({ payload: "text" })')).toEqual({ ok: false, reason: `hook ${MAIN} returned {payload: string}${must}` });
    expect(await run('export default ({ saga }) => saga.metadata')).toEqual({ ok: false, reason: `hook ${MAIN} returned an object without "payload" (keys: a)${must}` });
    expect(await run('export default () => {}')).toEqual({ ok: false, reason: `hook ${MAIN} returned undefined${must}` });
    expect(await run('export default () => 42')).toEqual({ ok: false, reason: `hook ${MAIN} returned number${must}` });
  });

  it('names the hook in the reason of a run that fails', async () => {
    expect(await run('export default () => { throw new TypeError("no customer"); }')).toEqual({ ok: false, reason: `hook ${MAIN} threw TypeError: no customer (line 1, column 43)` });
  });
});

describe('hook limits', () => {
  it('default to 1 s and 32 MiB, and follow settings.hookLimits', async () => {
    expect(hookLimits(undefined)).toEqual({ timeoutMs: DEFAULT_HOOK_TIMEOUT_MS, memoryBytes: DEFAULT_HOOK_MEMORY_MB * 1024 * 1024 });
    expect([DEFAULT_HOOK_TIMEOUT_MS, DEFAULT_HOOK_MEMORY_MB]).toEqual([1000, 32]);
    expect(hookLimits({ hookLimits: { timeoutMs: 20, memoryMb: 2 } })).toEqual({ timeoutMs: 20, memoryBytes: 2 * 1024 * 1024 });
    const def = await compileDefinition(
      validConfig((raw) => {
        set(raw, 'machineDefinition.states[0].outputCommand.hook', plain('export default ({ saga }) => { while (saga.spin) {} return { payload: {} }; }'));
        set(raw, 'settings', { hookLimits: { timeoutMs: 20 } });
      }),
    );
    expect(mainHook(def).run({ saga: { spin: true }, messageLabel: 'doWork' }, CLOCK)).toEqual({ ok: false, reason: `hook ${MAIN} did not finish within 20 ms` });
  });

  it('are checked by the schema', () => {
    const result = parseEdited((raw) => set(raw, 'settings', { hookLimits: { timeoutMs: 0, memoryMb: 4096, other: 1 } }));
    expect(result.errors).toEqual([
      { path: 'settings.hookLimits.timeoutMs', message: 'must be >= 1' },
      { path: 'settings.hookLimits.memoryMb', message: 'must be <= 1024' },
    ]);
  });
});
