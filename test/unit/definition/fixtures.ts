import { readFileSync } from 'node:fs';
import { parseSagaConfig } from '../../../src/definition/parse.ts';
import type { ParseOptions, ParseResult } from '../../../src/definition/parse.ts';
import type { SagaConfig } from '../../../src/definition/types.ts';

type Json = Record<string, unknown>;

export const TUTORIAL_SAGA = new URL('../../../examples/reservation/saga.json', import.meta.url);

export function readJson(url: URL): unknown {
  return JSON.parse(readFileSync(url, 'utf8'));
}

/** A small valid saga.json (as raw JSON) exercising commands, side effects and business ids. */
export function validRaw(): Json {
  return {
    machineDefinition: {
      initialState: 'created',
      creationEvent: '__created__',
      states: [
        {
          id: 'created',
          description: 'start',
          isFinal: false,
          businessStateId: 0,
          outputCommand: { label: 'doWork', channel: 'bus' },
          sideEffects: [{ label: 'audit', channel: 'hook' }],
          outgoingTransitions: [
            { inputEvent: 'workDone', targetState: 'done', businessEventId: 0 },
            { inputEvent: 'workFailed', targetState: 'failed', businessEventId: 1 },
          ],
        },
        { id: 'done', isFinal: true, businessStateId: 1 },
        { id: 'failed', isFinal: true, businessStateId: 2 },
      ],
      businessStates: [
        { id: 0, description: 'in progress' },
        { id: 1, description: 'ok' },
        { id: 2, description: 'ko' },
      ],
      businessEvents: [
        { id: 0, description: 'success' },
        { id: 1, description: 'failure' },
      ],
    },
    communicationProtocols: [
      {
        id: 'bus',
        type: 'kafka',
        configurations: { brokers: ['localhost:9092'], inputTopics: ['events'], outputTopics: ['commands'], consumerGroup: 'g' },
      },
      { id: 'hook', type: 'rest', configurations: { endpoint: 'audit-service' } },
    ],
    persistencyManagement: {},
  };
}

/** Applies `edit` to a fresh valid config (raw JSON) and parses it. */
export function parseEdited(edit: (raw: Json) => void, opts: Partial<ParseOptions> = {}): ParseResult {
  const raw = validRaw();
  edit(raw);
  return parse(raw, opts);
}

export function parse(raw: unknown, opts: Partial<ParseOptions> = {}): ParseResult {
  return parseSagaConfig(raw, {
    env: {},
    readFile: () => {
      throw Object.assign(new Error('no files in this test'), { code: 'ENOENT' });
    },
    ...opts,
  });
}

export function validConfig(edit: (raw: Json) => void = () => {}): SagaConfig {
  const result = parseEdited(edit);
  if (result.config === undefined) throw new Error(`fixture is invalid: ${JSON.stringify(result.errors)}`);
  return result.config;
}

function segments(path: string): (string | number)[] {
  return path
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .filter((s) => s !== '')
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** The value at a dotted path (`a.b[2].c`) of raw JSON. */
export function get(raw: unknown, path: string): unknown {
  let node: unknown = raw;
  for (const segment of segments(path)) node = (node as Json)[segment as string];
  return node;
}

/** Sets the value at a dotted path; the parent must exist. */
export function set(raw: unknown, path: string, value: unknown): void {
  const parts = segments(path);
  const last = parts.pop();
  const parent = parts.reduce<unknown>((node, segment) => (node as Json)[segment as string], raw);
  (parent as Json)[last as string] = value;
}

export function remove(raw: unknown, path: string): void {
  const parts = segments(path);
  const last = parts.pop();
  const parent = parts.reduce<unknown>((node, segment) => (node as Json)[segment as string], raw);
  Reflect.deleteProperty(parent as Json, last as string);
}

export function push(raw: unknown, path: string, value: unknown): void {
  (get(raw, path) as unknown[]).push(value);
}
