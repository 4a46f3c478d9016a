import { describe, expect, it, onTestFinished } from 'vitest';
import { ENGINE_BASE_BYTES, MIN_EVALUATION_MS, SandboxCompileError, SandboxedHook } from '../../../src/definition/sandbox.ts';
import type { SandboxClock, SandboxLimits, SandboxOutcome } from '../../../src/definition/sandbox.ts';

const LIMITS: SandboxLimits = { timeoutMs: 100, memoryBytes: 8 * 1024 * 1024 };
const CLOCK: SandboxClock = { timestamp: '2024-05-06T07:08:09.000Z', seed: 'saga-1\u00002\u0000doWork' };
const ENTRY = '(function (hook, input) { return hook(input); })';

async function hook(source: string, limits: SandboxLimits = LIMITS): Promise<SandboxedHook> {
  const compiled = await SandboxedHook.create({ name: 'machineDefinition.states[0].outputCommand.hook', source, entry: ENTRY }, limits);
  onTestFinished(() => compiled.dispose());
  return compiled;
}

async function compileError(source: string, limits: SandboxLimits = LIMITS): Promise<string> {
  try {
    await hook(source, limits);
  } catch (error) {
    expect(error).toBeInstanceOf(SandboxCompileError);
    return (error as Error).message;
  }
  throw new Error('the module compiled');
}

function value(out: SandboxOutcome): unknown {
  if (!out.ok) throw new Error(`the hook failed: ${out.reason}`);
  return out.value;
}

function reason(out: SandboxOutcome): string {
  if (out.ok) throw new Error(`the hook succeeded: ${JSON.stringify(out)}`);
  return out.reason;
}

describe('sandboxed hook: running', () => {
  it('calls the default export with a JSON copy of the input and returns a JSON copy of its result', async () => {
    const h = await hook('export default ({ saga, messageLabel }) => ({ payload: { id: saga.sagaId, label: messageLabel, n: saga.metadata.n * 2 } })');
    const input = { saga: { sagaId: 's-1', metadata: { n: 21 } }, messageLabel: 'doWork' };
    expect(h.call(input, CLOCK)).toEqual({ ok: true, kind: 'object', value: { payload: { id: 's-1', label: 'doWork', n: 42 } } });
    // The same compiled module serves every run.
    expect(value(h.call({ saga: { sagaId: 's-2', metadata: { n: 1 } }, messageLabel: 'x' }, CLOCK))).toEqual({ payload: { id: 's-2', label: 'x', n: 2 } });
  });

  it('never shares objects with the host: changes to the input inside stay inside', async () => {
    const h = await hook('export default (input) => { input.saga.metadata.list.push(99); input.extra = true; return { payload: input.saga.metadata }; }');
    const input = { saga: { metadata: { list: [1] } } };
    expect(value(h.call(input, CLOCK))).toEqual({ payload: { list: [1, 99] } });
    expect(input).toEqual({ saga: { metadata: { list: [1] } } });
  });

  it('awaits an async default export and a module with top-level await', async () => {
    expect(value((await hook('export default async ({ n }) => ({ payload: { n: await Promise.resolve(n + 1) } })')).call({ n: 1 }, CLOCK))).toEqual({ payload: { n: 2 } });
    expect(value((await hook('const base = await Promise.resolve(10); export default ({ n }) => ({ payload: { n: base + n } })')).call({ n: 1 }, CLOCK))).toEqual({ payload: { n: 11 } });
  });

  it('reports what a hook returned, whatever it is', async () => {
    expect((await hook('export default () => [1, 2]')).call({}, CLOCK)).toEqual({ ok: true, kind: 'array', value: [1, 2] });
    expect((await hook('export default () => null')).call({}, CLOCK)).toEqual({ ok: true, kind: 'null', value: null });
    expect((await hook('export default () => "text"')).call({}, CLOCK)).toEqual({ ok: true, kind: 'string', value: 'text' });
    expect((await hook('export default () => undefined')).call({}, CLOCK)).toEqual({ ok: true, kind: 'undefined' });
    expect((await hook('export default () => () => 1')).call({}, CLOCK)).toEqual({ ok: true, kind: 'undefined' });
    // Values JSON drops inside objects are dropped, as they would be on the wire.
    expect(value((await hook('export default () => ({ payload: { f() {}, u: undefined, d: new Date(0) } })')).call({}, CLOCK))).toEqual({ payload: { d: '1970-01-01T00:00:00.000Z' } });
  });

  it('fails a run whose result is not JSON', async () => {
    expect(reason((await hook('export default () => ({ payload: { big: 10n } })')).call({}, CLOCK))).toMatch(/^threw TypeError: the returned value cannot be written as JSON: /);
    expect(reason((await hook('export default () => { const a = {}; a.self = a; return { payload: a }; }')).call({}, CLOCK))).toMatch(/^threw TypeError: the returned value cannot be written as JSON: /);
  });

  it('fails a run that throws, naming the error and where it was raised', async () => {
    const h = await hook('export default ({ saga }) => {\n  const total = saga.metadata.lines.length;\n  return { payload: { total } };\n}');
    expect(reason(h.call({ saga: { metadata: {} } }, CLOCK))).toBe("threw TypeError: cannot read property 'length' of undefined (line 2, column 36)");
    expect(reason((await hook('export default () => { throw new RangeError("no such customer"); }')).call({}, CLOCK))).toMatch(/^threw RangeError: no such customer \(line 1, column \d+\)$/);
    expect(reason((await hook('export default () => { throw "plain string"; }')).call({}, CLOCK))).toBe('threw Error: plain string');
    expect(reason((await hook('export default async () => { throw new Error("async boom"); }')).call({}, CLOCK))).toMatch(/^threw Error: async boom/);
    // A failed run leaves the hook usable.
    expect(value(h.call({ saga: { metadata: { lines: [1, 2] } } }, CLOCK))).toEqual({ payload: { total: 2 } });
  });

  it('stops a run that loops forever at the time limit, and the next run works', async () => {
    const h = await hook('export default ({ spin }) => { while (spin) {} return { payload: {} }; }', { ...LIMITS, timeoutMs: 50 });
    const started = performance.now();
    expect(reason(h.call({ spin: true }, CLOCK))).toBe('did not finish within 50 ms');
    expect(performance.now() - started).toBeLessThan(1000);
    expect(value(h.call({ spin: false }, CLOCK))).toEqual({ payload: {} });
  });

  it('stops a run that never settles its promise', async () => {
    expect(reason((await hook('export default () => new Promise(() => {})')).call({}, CLOCK))).toBe('returned a promise that never settles (nothing outside the hook can resolve it)');
  });

  it.each([
    ['arrays', 'const all = []; while (grow) all.push(new Array(4096).fill(all.length));'],
    ['objects', 'const all = []; while (grow) all.push({ i: all.length, s: "x" + all.length });'],
    ['strings', 'const all = []; while (grow) all.push("x".repeat(100000) + all.length);'],
    ['typed arrays', 'const all = []; while (grow) all.push(new Uint8Array(100000));'],
    ['one large allocation', 'const all = grow ? new Array(1e8).fill(0) : [];'],
  ])('stops a run that allocates more than the memory limit (%s); the engine stays within it and the next run works', async (_kind, body) => {
    const memoryBytes = 4 * 1024 * 1024;
    const h = await hook(`export default ({ grow }) => { ${body} return { payload: { n: all.length } }; }`, { timeoutMs: 10_000, memoryBytes });
    const started = performance.now();
    expect(reason(h.call({ grow: true }, CLOCK))).toMatch(/^(ran out of memory|threw null, or ran out of memory) \(limit 4 MiB\)$/);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(h.engineBytes()).toBeLessThanOrEqual(ENGINE_BASE_BYTES + memoryBytes);
    expect(value(h.call({ grow: false }, CLOCK))).toEqual({ payload: { n: 0 } });
  });

  it('stops a run that recurses too deep, inside the engine', async () => {
    const h = await hook('const down = (n) => down(n + 1) + 1; export default ({ deep }) => ({ payload: { n: deep ? down(0) : 0 } })');
    expect(reason(h.call({ deep: true }, CLOCK))).toBe('overflowed the stack (recursion too deep)');
    expect(value(h.call({ deep: false }, CLOCK))).toEqual({ payload: { n: 0 } });
  });

  it('cannot run once disposed', async () => {
    const h = await SandboxedHook.create({ name: 'h', source: 'export default () => ({ payload: {} })', entry: ENTRY }, LIMITS);
    h.dispose();
    expect(reason(h.call({}, CLOCK))).toMatch(/^cannot run/);
  });
});

describe('sandboxed hook: determinism', () => {
  const CLOCKS = 'export default () => ({ payload: { now: Date.now(), iso: new Date().toISOString(), text: Date(), parsed: new Date("2020-02-02T00:00:00Z").getTime(), utc: Date.UTC(2020, 1, 2), isDate: new Date() instanceof Date, ctor: new Date().constructor === Date } })';

  it('freezes the clock at the run\'s timestamp: Date.now(), new Date() and Date() read it; dates built from values work', async () => {
    const out = value((await hook(CLOCKS)).call({}, CLOCK)) as { payload: Record<string, unknown> };
    const at = Date.parse(CLOCK.timestamp);
    expect(out.payload).toEqual({
      now: at,
      iso: CLOCK.timestamp,
      text: expect.stringMatching(/^Mon May 06 2024 \d\d:\d\d:09 GMT/),
      parsed: Date.parse('2020-02-02T00:00:00Z'),
      utc: Date.UTC(2020, 1, 2),
      isDate: true,
      ctor: true,
    });
    const later = value((await hook(CLOCKS)).call({}, { ...CLOCK, timestamp: '2030-01-01T00:00:00.000Z' })) as { payload: { now: number } };
    expect(later.payload.now).toBe(Date.parse('2030-01-01T00:00:00.000Z'));
  });

  it('seeds Math.random from the run: the same seed gives the same numbers in any engine, another seed others', async () => {
    const source = 'export default () => ({ payload: { r: [Math.random(), Math.random(), Math.random()] } })';
    const first = value((await hook(source)).call({}, CLOCK)) as { payload: { r: number[] } };
    const again = value((await hook(source)).call({}, CLOCK)) as { payload: { r: number[] } };
    const other = value((await hook(source)).call({}, { ...CLOCK, seed: 'saga-2\u00002\u0000doWork' })) as { payload: { r: number[] } };
    expect(again).toEqual(first);
    expect(other.payload.r).not.toEqual(first.payload.r);
    for (const r of [...first.payload.r, ...other.payload.r]) {
      expect(r).toBeGreaterThanOrEqual(0);
      expect(r).toBeLessThan(1);
    }
    expect(new Set(first.payload.r).size).toBe(3);
    // The sequence restarts with each run: a replay of the same input sees the same numbers.
    const h = await hook(source);
    expect(h.call({}, CLOCK)).toEqual(h.call({}, CLOCK));
  });

  it('gives the hook no I/O, no host objects and no module loader', async () => {
    const probe = await hook(
      'export default () => ({ payload: Object.fromEntries(["require", "process", "fetch", "setTimeout", "setInterval", "console", "module", "std", "os", "Buffer", "XMLHttpRequest", "WebAssembly", "performance", "crypto"].map((k) => [k, typeof globalThis[k]])) })',
    );
    const seen = (value(probe.call({}, CLOCK)) as { payload: Record<string, string> }).payload;
    expect(Object.values(seen).every((type) => type === 'undefined')).toBe(true);
    expect(reason((await hook('export default async () => { await import("node:fs"); return { payload: {} }; }')).call({}, CLOCK))).toMatch(/could not load module/);
    expect(await compileError('import { readFileSync } from "node:fs"; export default () => ({ payload: {} })')).toMatch(/could not load module 'node:fs'/);
  });
});

describe('sandboxed hook: compiling', () => {
  it('refuses a module that does not parse, with the position', async () => {
    expect(await compileError('export default ({ saga }) => ({ payload: saga.metadata ')).toMatch(/^threw SyntaxError: .+ \(line 1, column \d+\)$/);
  });

  it('refuses a module without a default export function', async () => {
    expect(await compileError('export const hook = () => ({ payload: {} })')).toMatch(/^must be an ES module whose default export is a function \(its default export is missing\)/);
    expect(await compileError('export default { payload: {} }')).toMatch(/its default export is a object/);
    expect(await compileError('({ saga }) => ({ payload: saga })')).toMatch(/its default export is missing/);
  });

  it('refuses a module whose evaluation throws or does not end', async () => {
    expect(await compileError('throw new Error("not configured"); export default () => ({})')).toMatch(/^threw Error: not configured \(line 1/);
    const started = performance.now();
    expect(await compileError('while (true) {} export default () => ({})', { ...LIMITS, timeoutMs: 30 })).toBe(`did not finish within ${MIN_EVALUATION_MS} ms`);
    // The module's evaluation gets at least MIN_EVALUATION_MS, then stops.
    expect(performance.now() - started).toBeGreaterThanOrEqual(MIN_EVALUATION_MS);
    expect(performance.now() - started).toBeLessThan(MIN_EVALUATION_MS + 2000);
    expect(await compileError('await new Promise(() => {}); export default () => ({})')).toMatch(/never settles/);
  });
});
