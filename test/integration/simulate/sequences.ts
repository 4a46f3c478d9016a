import { readFileSync } from 'node:fs';
import { Simulator } from '../../../src/cli/simulator.ts';
import { seededRandom } from '../../../src/cli/prng.ts';
import type { CompiledDefinition } from '../../../src/definition/compile.ts';
import { CANCEL_EVENT } from '../../../src/saga/cancel.ts';
import { DELIVERY_FAILED_EVENT } from '../../../src/saga/delivery-failure.ts';

/** One record of a generated run: its key (the sagaId, or none) and its value, an event envelope as JSON. */
export interface GeneratedRecord {
  /** 1-based position in the run: the simulate line number and the record's `x-diff-line` header. */
  line: number;
  /** Index of the generated saga the record belongs to (a keyless record too). */
  saga: number;
  key: string | null;
  value: Record<string, unknown>;
}

/** Payloads and creation metadata an example's events.jsonl uses, per label: realistic inputs for its schemas and hooks. */
export interface Harvest {
  payloads: Map<string, unknown[]>;
  metadata: Record<string, unknown>[];
}

export function harvest(eventsFile: string): Harvest {
  const payloads = new Map<string, unknown[]>();
  const metadata: Record<string, unknown>[] = [];
  for (const text of readFileSync(eventsFile, 'utf8').split('\n')) {
    if (text.trim() === '') continue;
    const line = JSON.parse(text) as { create?: { metadata?: Record<string, unknown> }; value?: Record<string, unknown>; messageLabel?: string; messagePayload?: unknown };
    if (line.create?.metadata) metadata.push(line.create.metadata);
    const message = (line.value ?? line) as { messageLabel?: string; messagePayload?: { metadata?: Record<string, unknown> } };
    if (typeof message.messageLabel !== 'string') continue;
    if (message.messageLabel === '__created__' && message.messagePayload?.metadata) metadata.push(message.messagePayload.metadata);
    else if (message.messagePayload !== undefined) payloads.set(message.messageLabel, [...(payloads.get(message.messageLabel) ?? []), message.messagePayload]);
  }
  if (metadata.length === 0) metadata.push({});
  return { payloads, metadata };
}

export interface GenerateOptions {
  seed: number;
  sagas: number;
  /** Prefix of the generated sagaIds (unique per run). */
  prefix: string;
  /** Records whose value no codec can encode (an eventId that is a number, an empty label) are only made for JSON flows. */
  undecodable: boolean;
}

/**
 * Seeded random event sequences for one definition: each saga gets a creation (sometimes a
 * bad one, or none at all) and a walk of 1 to 9 records chosen from what its current state
 * takes, events it does not take, duplicates of earlier eventIds, second creations, cancels,
 * failed-delivery reports, records without a key and (JSON only) values that do not decode;
 * a few sagas are never created. The walk follows a scratch simulation so that most events
 * are ones the saga takes and sagas reach their final states and get events after them. The
 * sagas' records are interleaved at random, each saga's in its order.
 */
export function generate(def: CompiledDefinition, inputs: Harvest, opts: GenerateOptions): { records: GeneratedRecord[]; bySaga: Map<string, number[]> } {
  const random = seededRandom(opts.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const chance = (p: number) => random() < p;
  const labels = [...new Set([...def.states.values()].flatMap((s) => s.outgoingTransitions.map((t) => t.inputEvent))), ...def.startOn, 'neverDeclared'];
  const scratch = new Simulator(def, { timestampOf: () => new Date(0).toISOString(), newSagaId: () => 'unused' });
  const perSaga: { key: string | null; value: Record<string, unknown> }[][] = [];
  let scratchLine = 0;

  const payloadFor = (label: string): unknown => {
    const known = inputs.payloads.get(label) ?? [];
    if (known.length > 0 && chance(0.8)) return pick(known);
    return pick([{}, { note: `n${Math.floor(random() * 100)}` }, { wrong: true }]);
  };

  for (let i = 0; i < opts.sagas; i += 1) {
    const sagaId = `${opts.prefix}-${i}`;
    const records: { key: string | null; value: Record<string, unknown> }[] = [];
    const eventIds: string[] = [];
    const push = (key: string | null, value: Record<string, unknown>) => {
      records.push({ key, value });
      scratchLine += 1;
      scratch.run(JSON.stringify(key === null ? value : { sagaId: key, ...value }), scratchLine);
    };
    const creation = (): Record<string, unknown> => ({ messageLabel: def.creationEvent, messagePayload: { associatedEntityId: `entity-${i}`, metadata: pick(inputs.metadata) } });

    const start = random();
    if (def.startOn.size > 0 && start >= 0.09 && chance(0.6)) {
      // A choreography: most sagas start with a startOn event (a few with a payload that cannot be metadata).
      const label = pick([...def.startOn]);
      push(sagaId, { messageLabel: label, messagePayload: chance(0.05) ? pick<unknown>(['x', [1], null]) : payloadFor(label) });
    } else if (start < 0.03) {
      // Never created: its events are for an unknown saga.
    } else if (start < 0.07) {
      const bad = pick<unknown>([{ associatedEntityId: `entity-${i}` }, { associatedEntityId: `entity-${i}`, metadata: [] }, { associatedEntityId: i, metadata: {} }, null, 'x']);
      push(sagaId, { messageLabel: def.creationEvent, messagePayload: bad });
    } else if (start < 0.09) {
      push(null, creation());
    } else {
      push(sagaId, creation());
    }
    const steps = 1 + Math.floor(random() * 9);
    for (let step = 0; step < steps; step += 1) {
      const saga = scratch.document(sagaId);
      const takes = saga ? (def.states.get(saga.currentState)?.outgoingTransitions.map((t) => t.inputEvent) ?? []) : [];
      const roll = random();
      const eventId = chance(0.5) ? `${sagaId}-e${step}` : undefined;
      const withId = (value: Record<string, unknown>) => {
        if (eventId !== undefined) eventIds.push(eventId);
        return eventId === undefined ? value : { ...value, eventId };
      };
      if (roll < 0.55 && takes.length > 0) {
        const label = pick(takes);
        push(sagaId, withId({ messageLabel: label, messagePayload: payloadFor(label) }));
      } else if (roll < 0.67) {
        const label = pick(labels);
        const value: Record<string, unknown> = chance(0.2) ? { messageLabel: label } : { messageLabel: label, messagePayload: payloadFor(label) };
        push(sagaId, withId(value));
      } else if (roll < 0.75 && eventIds.length > 0) {
        const label = pick([...takes, ...labels]);
        push(sagaId, { messageLabel: label, messagePayload: payloadFor(label), eventId: pick(eventIds) });
      } else if (roll < 0.79) {
        push(sagaId, creation());
      } else if (roll < 0.83) {
        const target = chance(0.3) ? { targetState: pick([...def.states.keys(), 'nowhere']) } : {};
        const payload = chance(0.8) ? { by: 'ops', reason: 'customer asked', ...target } : { by: 'ops' };
        push(sagaId, withId({ messageLabel: CANCEL_EVENT, messagePayload: payload }));
      } else if (roll < 0.88) {
        const report = chance(0.8) ? { channel: 'somewhere', label: 'someCommand', revision: 1 + Math.floor(random() * 3), status: 400, reason: 'answered 400' } : { channel: 'somewhere' };
        push(sagaId, withId({ messageLabel: DELIVERY_FAILED_EVENT, messagePayload: report }));
      } else if (roll < 0.91) {
        push(null, { messageLabel: pick(labels), messagePayload: {} });
      } else if (roll < 0.94 && opts.undecodable) {
        push(sagaId, pick<Record<string, unknown>>([{ messageLabel: pick(labels), messagePayload: {}, eventId: 7 }, { messageLabel: '', messagePayload: {} }, { messageLabel: 3 }]));
      } else {
        const label = pick(labels);
        push(sagaId, withId({ messageLabel: label, messagePayload: payloadFor(label) }));
      }
    }
    perSaga.push(records);
  }

  // Interleave: repeatedly take the next record of a random saga that has one left.
  const records: GeneratedRecord[] = [];
  const bySaga = new Map<string, number[]>();
  const cursors = perSaga.map(() => 0);
  const open = perSaga.map((_, i) => i).filter((i) => (perSaga[i]?.length ?? 0) > 0);
  while (open.length > 0) {
    const slot = Math.floor(random() * open.length);
    const sagaIndex = open[slot] as number;
    const list = perSaga[sagaIndex] ?? [];
    const record = list[cursors[sagaIndex] ?? 0];
    cursors[sagaIndex] = (cursors[sagaIndex] ?? 0) + 1;
    if ((cursors[sagaIndex] ?? 0) >= list.length) open.splice(slot, 1);
    if (!record) continue;
    const line = records.length + 1;
    records.push({ line, saga: sagaIndex, ...record });
    const owner = `${opts.prefix}-${sagaIndex}`;
    bySaga.set(owner, [...(bySaga.get(owner) ?? []), line]);
  }
  return { records, bySaga };
}

/** The simulate line a record stands for: its value, and its key as `sagaId`. */
export function simulateLine(record: GeneratedRecord): string {
  return JSON.stringify(record.key === null ? record.value : { sagaId: record.key, ...record.value });
}
