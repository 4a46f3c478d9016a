import { RELEASE_SYNC, newQuickJSWASMModuleFromVariant, newVariant } from 'quickjs-emscripten';
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime, QuickJSWASMModule } from 'quickjs-emscripten';

// Code taken from saga.json (Flow Manager hooks) runs in QuickJS compiled to WebAssembly, one
// WebAssembly instance per hook. node:vm would share the process's heap, its prototypes and
// its event loop with the code: it is no security boundary. A QuickJS realm has no host objects
// at all: no require, no process, no fetch, no timers, no module loader (an `import` fails), no
// console. The only way in is a JSON string, the only way out another.
//
// Memory: QuickJS's own limit (setMemoryLimit) does not hold in this build. Emscripten gives it
// no malloc_usable_size, so it counts 8 bytes per allocation whatever the size, and a hook
// filling arrays reached 70 MB under a 4 MB limit here (quickjs-emscripten issues #255, #271).
// The bound is the WebAssembly memory itself: each hook's instance gets a memory that cannot
// grow past its base plus the limit, so malloc fails there and QuickJS throws "out of memory".

/** Limits of one hook's engine, applied to every run. */
export interface SandboxLimits {
  /** Wall-clock budget of one run, in milliseconds. */
  timeoutMs: number;
  /** What the engine's memory may grow by beyond its base (ENGINE_BASE_BYTES), in bytes. */
  memoryBytes: number;
}

/** The memory the QuickJS WebAssembly module declares as its minimum (code, static data, stack). */
export const ENGINE_BASE_BYTES = 16 * 1024 * 1024;
const WASM_PAGE_BYTES = 64 * 1024;

/**
 * What a run sees of the world: the clock is frozen at `timestamp` (Date.now(), new Date(),
 * Date()) and Math.random is a PRNG seeded from `seed`, so running the same input again gives
 * the same output.
 */
export interface SandboxClock {
  /** ISO-8601. */
  timestamp: string;
  seed: string;
}

export type SandboxOutcome =
  | {
      ok: true;
      /** `object`, `array`, `null`, `string`, `number`, `boolean` or `undefined` (functions, symbols). */
      kind: string;
      /** The JSON copy of what the entry returned; absent when kind is `undefined`. */
      value?: unknown;
    }
  | { ok: false; reason: string };

export interface SandboxModuleSpec {
  /** The hook's JSON path: the module's name in stack traces and messages. */
  name: string;
  /** An ES module whose default export is a function. */
  source: string;
  /** Global code evaluated first, in the realm; its completion value is the entry's third argument. */
  prelude?: string;
  /** Global code whose value is `(defaultExport, input, preludeValue) => result`. */
  entry: string;
}

/** The hook's module cannot be used: it does not parse, throws, or exports no function. */
export class SandboxCompileError extends Error {}

// Node has WebAssembly; TypeScript declares it only in its DOM and worker libs, which this
// project does not load. The part used here:
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
const { Memory } = (globalThis as unknown as { WebAssembly: { Memory: new (descriptor: { initial: number; maximum: number }) => WasmMemory } }).WebAssembly;

interface Engine {
  quickjs: QuickJSWASMModule;
  memory: WasmMemory;
}

/** A QuickJS WebAssembly instance of its own, whose memory cannot grow past base + memoryBytes (10-20 ms). */
async function newEngine(memoryBytes: number): Promise<Engine> {
  const memory = new Memory({
    initial: ENGINE_BASE_BYTES / WASM_PAGE_BYTES,
    maximum: Math.ceil((ENGINE_BASE_BYTES + memoryBytes) / WASM_PAGE_BYTES),
  });
  const variant = newVariant(RELEASE_SYNC, { wasmMemory: memory as Parameters<typeof newVariant>[1]['wasmMemory'] });
  return { quickjs: await newQuickJSWASMModuleFromVariant(variant), memory };
}

// A real recursion limit inside the engine, well below what the WebAssembly stack holds, so
// deep recursion is a catchable "stack overflow" in the hook and never a trap of the module.
const MAX_STACK_BYTES = 256 * 1024;

/** Time the first evaluation of a hook's module gets at the least, in milliseconds. */
export const MIN_EVALUATION_MS = 1000;

// Runs in the realm before the hook's module. Captures the intrinsics it needs first, so a hook
// that replaces JSON or Reflect breaks only itself.
const RUNNER = String.raw`(function (preludeValue) {
  'use strict';
  var RealDate = Date, parse = JSON.parse, stringify = JSON.stringify, construct = Reflect.construct,
    defineProperty = Object.defineProperty, isArray = Array.isArray, imul = Math.imul, PromiseType = Promise;
  var now = 0, state = 0;
  function SandboxDate() {
    if (new.target === undefined) return new RealDate(now).toString();
    var args = [];
    for (var i = 0; i < arguments.length; i += 1) args[i] = arguments[i];
    return construct(RealDate, args.length === 0 ? [now] : args, new.target);
  }
  defineProperty(SandboxDate, 'name', { value: 'Date' });
  defineProperty(SandboxDate, 'prototype', { value: RealDate.prototype, writable: false });
  defineProperty(SandboxDate, 'now', { value: function () { return now; }, writable: true, configurable: true });
  defineProperty(SandboxDate, 'parse', { value: RealDate.parse, writable: true, configurable: true });
  defineProperty(SandboxDate, 'UTC', { value: RealDate.UTC, writable: true, configurable: true });
  defineProperty(RealDate.prototype, 'constructor', { value: SandboxDate, writable: true, configurable: true });
  defineProperty(globalThis, 'Date', { value: SandboxDate, writable: true, configurable: true });
  // mulberry32: small, fast, and the same sequence for the same seed on every engine.
  defineProperty(Math, 'random', {
    value: function random() {
      state = (state + 0x6d2b79f5) | 0;
      var t = imul(state ^ (state >>> 15), 1 | state);
      t = (t + imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
    writable: true,
    configurable: true,
  });
  function kind(value) {
    return value === null ? 'null' : isArray(value) ? 'array' : typeof value === 'function' || typeof value === 'symbol' ? 'undefined' : typeof value;
  }
  function encode(value) {
    try {
      return stringify({ kind: kind(value), value: value });
    } catch (error) {
      throw new TypeError('the returned value cannot be written as JSON: ' + (error && error.message));
    }
  }
  return {
    begin: function (timestamp, seed) { now = timestamp; state = seed | 0; },
    run: function (entry, target, json) {
      var out = entry(target, parse(json), preludeValue);
      return out instanceof PromiseType ? out.then(encode) : encode(out);
    },
  };
})`;

interface ErrorDump {
  name?: unknown;
  message?: unknown;
  stack?: unknown;
  lineNumber?: unknown;
}

/** Why a run or an evaluation failed, and whether the engine must be rebuilt. */
interface Failure {
  reason: string;
  /** Interrupted, out of memory or out of stack: the realm may be half-way through anything. */
  fatal: boolean;
}

/** One engine instance holding one hook, ready to run. */
class Realm {
  private readonly runtime: QuickJSRuntime;
  private readonly context: QuickJSContext;
  private readonly handles: QuickJSHandle[] = [];
  private readonly begin: QuickJSHandle;
  private readonly run: QuickJSHandle;
  private readonly entry: QuickJSHandle;
  private readonly target: QuickJSHandle;
  private readonly spec: SandboxModuleSpec;
  private readonly limits: SandboxLimits;
  private deadline = 0;
  /** What `deadline` was set from, for the message when it passes. */
  private budgetMs = 0;

  constructor(quickjs: QuickJSWASMModule, spec: SandboxModuleSpec, limits: SandboxLimits) {
    this.spec = spec;
    this.limits = limits;
    this.runtime = quickjs.newRuntime();
    this.runtime.setMemoryLimit(limits.memoryBytes);
    this.runtime.setMaxStackSize(MAX_STACK_BYTES);
    this.runtime.setInterruptHandler(() => Date.now() > this.deadline);
    try {
      this.context = this.runtime.newContext();
    } catch (error) {
      this.runtime.dispose();
      throw new SandboxCompileError(`the engine cannot start within the memory limit (${formatBytes(limits.memoryBytes)}): ${(error as Error).message}`);
    }
    try {
      // The prelude and the runner are sagaflow's own code: no deadline while they load.
      this.deadline = Number.POSITIVE_INFINITY;
      // lodash and other library code is sloppy-mode code: evaluated as written.
      const prelude = spec.prelude === undefined ? this.context.undefined : this.keep(this.evaluate(spec.prelude, `${spec.name} (prelude)`, false));
      const runnerFactory = this.keep(this.evaluate(RUNNER, `${spec.name} (runner)`, true));
      const runner = this.keep(this.unwrap(this.context.callFunction(runnerFactory, this.context.undefined, prelude), 'the sandbox runner'));
      this.begin = this.keep(this.context.getProp(runner, 'begin'));
      this.run = this.keep(this.context.getProp(runner, 'run'));
      this.entry = this.keep(this.evaluate(spec.entry, `${spec.name} (entry)`, true));
      // Parsing and evaluating the module happens once, at start, on a machine that may be
      // busy starting everything else: it gets at least a second, whatever the run limit.
      this.arm(Math.max(limits.timeoutMs, MIN_EVALUATION_MS));
      this.target = this.keep(this.loadDefaultExport());
    } catch (error) {
      this.dispose();
      throw error;
    }
  }

  /** Runs the entry on `input` (JSON text). */
  call(inputJson: string, clock: SandboxClock): { ok: true; json: string } | ({ ok: false } & Failure) {
    const ctx = this.context;
    this.arm(this.limits.timeoutMs);
    const scope: QuickJSHandle[] = [];
    try {
      const at = Date.parse(clock.timestamp);
      scope.push(ctx.newNumber(Number.isFinite(at) ? at : 0), ctx.newNumber(fnv1a(clock.seed)));
      const began = ctx.callFunction(this.begin, ctx.undefined, scope[0] as QuickJSHandle, scope[1] as QuickJSHandle);
      if (began.error) return { ok: false, ...this.failure(began.error) };
      began.value.dispose();
      const json = ctx.newString(inputJson);
      scope.push(json);
      const result = ctx.callFunction(this.run, ctx.undefined, this.entry, this.target, json);
      if (result.error) return { ok: false, ...this.failure(result.error) };
      scope.push(result.value);
      const settled = this.settle(result.value);
      if (!settled.ok) return settled;
      scope.push(settled.handle);
      return { ok: true, json: ctx.getString(settled.handle) };
    } finally {
      for (const handle of scope) if (handle.alive) handle.dispose();
    }
  }

  dispose(): void {
    for (const handle of this.handles.splice(0).reverse()) if (handle.alive) handle.dispose();
    if (this.context.alive) this.context.dispose();
    if (this.runtime.alive) this.runtime.dispose();
  }

  private arm(budgetMs: number): void {
    this.budgetMs = budgetMs;
    this.deadline = Date.now() + budgetMs;
  }

  private keep(handle: QuickJSHandle): QuickJSHandle {
    this.handles.push(handle);
    return handle;
  }

  private evaluate(code: string, name: string, strict: boolean): QuickJSHandle {
    return this.unwrap(this.context.evalCode(code, name, { type: 'global', strict }), name);
  }

  private unwrap(result: { error?: QuickJSHandle; value?: QuickJSHandle }, what: string): QuickJSHandle {
    if (result.error) throw new SandboxCompileError(`${what}: ${this.failure(result.error).reason}`);
    return result.value as QuickJSHandle;
  }

  private loadDefaultExport(): QuickJSHandle {
    const ctx = this.context;
    const evaluated = ctx.evalCode(this.spec.source, this.spec.name, { type: 'module' });
    if (evaluated.error) throw new SandboxCompileError(this.failure(evaluated.error).reason);
    // With top-level await the evaluation is a promise of the namespace.
    const settled = this.settle(evaluated.value);
    if (evaluated.value.alive && (!settled.ok || settled.handle !== evaluated.value)) evaluated.value.dispose();
    if (!settled.ok) throw new SandboxCompileError(settled.reason);
    const namespace = settled.handle;
    try {
      const exported = ctx.getProp(namespace, 'default');
      const type = ctx.typeof(exported);
      if (type !== 'function') {
        exported.dispose();
        throw new SandboxCompileError(
          `must be an ES module whose default export is a function (its default export is ${type === 'undefined' ? 'missing' : `a ${type}`}); e.g. export default ({ saga, messageLabel }) => ({ payload: saga.metadata })`,
        );
      }
      return exported;
    } finally {
      if (namespace.alive) namespace.dispose();
    }
  }

  /** The value of a promise once the realm's jobs ran, or the value itself. */
  private settle(handle: QuickJSHandle): { ok: true; handle: QuickJSHandle } | ({ ok: false } & Failure) {
    const ctx = this.context;
    let state = ctx.getPromiseState(handle);
    if (state.type === 'fulfilled' && state.notAPromise === true) return { ok: true, handle };
    if (state.type === 'pending') {
      const jobs = this.runtime.executePendingJobs();
      if (jobs.error) return { ok: false, ...this.failure(jobs.error) };
      state = ctx.getPromiseState(handle);
    }
    if (state.type === 'fulfilled') return { ok: true, handle: state.value };
    if (state.type === 'rejected') return { ok: false, ...this.failure(state.error) };
    return { ok: false, reason: 'returned a promise that never settles (nothing outside the hook can resolve it)', fatal: false };
  }

  /** Describes a thrown value (and disposes its handle). */
  private failure(error: QuickJSHandle): Failure {
    let dump: unknown;
    try {
      dump = this.context.dump(error);
    } catch {
      dump = undefined;
    } finally {
      if (error.alive) error.dispose();
    }
    const memory = `limit ${formatBytes(this.limits.memoryBytes)}`;
    // QuickJS throws null when it runs out of memory while throwing "out of memory".
    if (dump === null || dump === undefined) return { reason: `threw ${String(dump)}, or ran out of memory (${memory})`, fatal: true };
    const e: ErrorDump = typeof dump === 'object' ? (dump as ErrorDump) : { message: dump };
    const name = typeof e.name === 'string' ? e.name : 'Error';
    const message = typeof e.message === 'string' ? e.message : JSON.stringify(e.message) ?? String(e.message);
    if (name === 'InternalError' && message === 'interrupted') {
      return { reason: `did not finish within ${this.budgetMs} ms`, fatal: true };
    }
    // Short of memory, the engine may only manage to give the error as a string.
    if ((name === 'InternalError' && message === 'out of memory') || message === 'InternalError: out of memory') {
      return { reason: `ran out of memory (${memory})`, fatal: true };
    }
    if (name === 'InternalError' && message === 'stack overflow') {
      return { reason: 'overflowed the stack (recursion too deep)', fatal: true };
    }
    return { reason: `threw ${name}: ${message}${location(e, this.spec.name)}`, fatal: false };
  }
}

/** ` (line 3, column 7)`: where in the hook's own source the error was raised, when known. */
function location(error: ErrorDump, name: string): string {
  const stack = typeof error.stack === 'string' ? error.stack : '';
  for (const line of stack.split('\n')) {
    const at = line.lastIndexOf(`${name}:`);
    if (at < 0) continue;
    const match = /^(\d+):(\d+)/.exec(line.slice(at + name.length + 1));
    if (match) return ` (line ${match[1]}, column ${match[2]})`;
  }
  return typeof error.lineNumber === 'number' ? ` (line ${error.lineNumber})` : '';
}

function formatBytes(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} bytes`;
}

/** FNV-1a, 32 bits: a stable seed from a string. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash | 0;
}

// A compiled definition has no close(): engines whose hooks are no longer referenced are freed
// when the garbage collector finds them (tests compile many definitions).
const finalizer = new FinalizationRegistry<{ realm: Realm | undefined }>((box) => box.realm?.dispose());

/**
 * A hook compiled into its own QuickJS engine. `call` is synchronous and deterministic for a
 * given input and clock (up to the time limit), so the pure transition core can call it.
 */
export class SandboxedHook {
  private readonly box: { realm: Realm | undefined };
  /** Why the engine could not be rebuilt after a fatal run; every later run fails with it. */
  private broken: string | undefined;
  private readonly engine: Engine;
  private readonly spec: SandboxModuleSpec;
  private readonly limits: SandboxLimits;

  /**
   * Loads an engine of its own and evaluates the hook's module in it, once.
   * @throws SandboxCompileError when the module does not evaluate or exports no function.
   */
  static async create(spec: SandboxModuleSpec, limits: SandboxLimits): Promise<SandboxedHook> {
    return new SandboxedHook(await newEngine(limits.memoryBytes), spec, limits);
  }

  private constructor(engine: Engine, spec: SandboxModuleSpec, limits: SandboxLimits) {
    this.engine = engine;
    this.spec = spec;
    this.limits = limits;
    this.box = { realm: new Realm(engine.quickjs, spec, limits) };
    finalizer.register(this, this.box, this);
  }

  /** Size of the engine's WebAssembly memory, in bytes: at most ENGINE_BASE_BYTES + the memory limit. */
  engineBytes(): number {
    return this.engine.memory.buffer.byteLength;
  }

  /** Runs the hook on a copy of `input` (as JSON) and returns a JSON copy of its result. */
  call(input: unknown, clock: SandboxClock): SandboxOutcome {
    let json: string;
    try {
      json = JSON.stringify(input);
    } catch (error) {
      return { ok: false, reason: `cannot pass its input: ${(error as Error).message}` };
    }
    const realm = this.box.realm;
    if (realm === undefined) return { ok: false, reason: `cannot run: its engine could not be restarted after an earlier run was cut short (${this.broken ?? 'unknown'})` };
    const out = realm.call(json, clock);
    if (!out.ok) {
      // A run cut short may leave the engine anywhere (a half-built object, an allocator at
      // its limit): the next run starts from a fresh runtime and module instead.
      if (out.fatal) this.rebuild();
      return { ok: false, reason: out.reason };
    }
    const parsed = JSON.parse(out.json) as { kind: string; value?: unknown };
    return 'value' in parsed ? { ok: true, kind: parsed.kind, value: parsed.value } : { ok: true, kind: parsed.kind };
  }

  /** Frees the engine now instead of when the hook is garbage collected. */
  dispose(): void {
    finalizer.unregister(this);
    this.box.realm?.dispose();
    this.box.realm = undefined;
    this.broken = 'disposed';
  }

  private rebuild(): void {
    this.box.realm?.dispose();
    this.box.realm = undefined;
    try {
      this.box.realm = new Realm(this.engine.quickjs, this.spec, this.limits);
    } catch (error) {
      this.broken = (error as Error).message;
    }
  }
}
