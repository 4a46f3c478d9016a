import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileDefinition } from '../../../src/definition/compile.ts';
import { parseSagaConfig } from '../../../src/definition/parse.ts';
import { fromFlowManager, importDecision, importRevision, isoTimestamp } from '../../../src/migration/flow-manager-document.ts';
import { transition } from '../../../src/saga/transition.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';

async function definition() {
  const raw = JSON.parse(readFileSync(new URL('../../../examples/reservation/saga.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  const parsed = parseSagaConfig(raw, { env: {}, readFile: () => '' });
  if (!parsed.config) throw new Error(JSON.stringify(parsed.errors));
  return compileDefinition(parsed.config);
}

const NOW = '2026-12-01T00:00:00.000Z';

function stored(over: Record<string, unknown> = {}) {
  return {
    _id: 'ignored',
    sagaId: 'fm-1',
    associatedEntityId: 'order-1',
    currentState: 'reservationValidated',
    isFinal: true,
    businessStateId: 9,
    latestEvent: 'validationOK',
    metadata: { a: 1, nested: { list: [1, 2] } },
    history: {
      states: [
        { state: 'reservationCreated', timestamp: new Date('2026-01-01T00:00:00Z'), businessStateId: 0 },
        { state: 'reservationValidated', timestamp: '2026-01-01T00:00:02Z', businessStateId: 0, businessStateDescription: 'In progress' },
      ],
      events: [
        { event: '__created__', timestamp: Date.parse('2026-01-01T00:00:00Z') },
        { event: 'validationOK', timestamp: '2026-01-01T00:00:01.500Z', businessEventId: 3, businessEventDescription: 'ok' },
      ],
    },
    ...over,
  };
}

function mapped(result: ReturnType<typeof fromFlowManager>): SagaDocument {
  if (!('saga' in result)) throw new Error(`refused: ${result.refused.reason}`);
  return result.saga;
}

describe('fromFlowManager', () => {
  it('keeps Flow Manager\'s fields, takes isFinal and the business state from the machine, gives sagaflow\'s fields defaults', async () => {
    const saga = mapped(fromFlowManager(stored(), await definition(), NOW));
    expect(saga).toEqual({
      sagaId: 'fm-1',
      associatedEntityId: 'order-1',
      currentState: 'reservationValidated',
      isFinal: false,
      businessStateId: 0,
      businessStateDescription: 'The reservation is in progress',
      latestEvent: 'validationOK',
      metadata: { a: 1, nested: { list: [1, 2] } },
      history: {
        states: [
          { state: 'reservationCreated', timestamp: '2026-01-01T00:00:00.000Z', businessStateId: 0 },
          { state: 'reservationValidated', timestamp: '2026-01-01T00:00:02.000Z', businessStateId: 0, businessStateDescription: 'In progress' },
        ],
        events: [
          { event: '__created__', timestamp: '2026-01-01T00:00:00.000Z' },
          { event: 'validationOK', timestamp: '2026-01-01T00:00:01.500Z', businessEventId: 3, businessEventDescription: 'ok' },
        ],
      },
      revision: 4,
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:02.000Z',
      commands: [],
      ignoredEvents: [],
      recentEventIds: [],
    });
  });

  it('a CRUD document\'s createdAt/updatedAt win; no history at all falls back to now, latestEvent to the creation event', async () => {
    const def = await definition();
    const crud = mapped(fromFlowManager(stored({ createdAt: '2025-12-31T23:00:00Z', updatedAt: new Date('2026-02-01T00:00:00Z') }), def, NOW));
    expect([crud.createdAt, crud.updatedAt]).toEqual(['2025-12-31T23:00:00.000Z', '2026-02-01T00:00:00.000Z']);
    const bare = mapped(fromFlowManager({ sagaId: 's', currentState: 'reservationCreated', associatedEntityId: 42 }, def, NOW));
    expect(bare).toMatchObject({ associatedEntityId: '42', metadata: {}, latestEvent: '__created__', createdAt: NOW, updatedAt: NOW, revision: 1, history: { states: [], events: [] } });
  });

  it('refuses what sagaflow could not move, saying why', async () => {
    const def = await definition();
    const reason = (raw: unknown) => {
      const r = fromFlowManager(raw, def, NOW);
      return 'refused' in r ? r.refused : undefined;
    };
    expect(reason('text')).toEqual({ sagaId: undefined, reason: 'not a JSON object' });
    expect(reason({ currentState: 'reservationCreated' })).toEqual({ sagaId: undefined, reason: 'no sagaId (a non-empty string)' });
    expect(reason(stored({ currentState: 'gone' }))).toEqual({ sagaId: 'fm-1', reason: 'currentState "gone" is not a state of this machine definition' });
    expect(reason(stored({ metadata: [1] }))?.reason).toBe('metadata is not an object');
    expect(reason(stored({ history: { states: [{ state: 'x', timestamp: 'yesterday' }], events: [] } }))?.reason).toBe('history.states[0] has no state or no valid timestamp');
    expect(reason(stored({ history: { states: [], events: [{ timestamp: NOW }] } }))?.reason).toBe('history.events[0] has no event or no valid timestamp');
  });

  it('isoTimestamp reads strings, dates and milliseconds', () => {
    expect(isoTimestamp('2026-01-01T00:00:00+01:00')).toBe('2025-12-31T23:00:00.000Z');
    expect(isoTimestamp(new Date(0))).toBe('1970-01-01T00:00:00.000Z');
    expect(isoTimestamp(1000)).toBe('1970-01-01T00:00:01.000Z');
    expect(isoTimestamp('soon')).toBeUndefined();
    expect(isoTimestamp(new Date('nope'))).toBeUndefined();
    expect(isoTimestamp(null)).toBeUndefined();
  });
});

describe('importDecision', () => {
  it('imports what the changelog lacks; a second import of the same document changes nothing', async () => {
    const def = await definition();
    const saga = mapped(fromFlowManager(stored(), def, NOW));
    expect(importDecision(undefined, saga)).toBe('import');
    const again = mapped(fromFlowManager(stored(), def, '2030-01-01T00:00:00.000Z'));
    expect(importDecision(saga, again)).toBe('unchanged');
  });

  it('updates an untouched import when Flow Manager\'s copy has moved on, never the other way', async () => {
    const def = await definition();
    const earlier = mapped(fromFlowManager(stored({ currentState: 'reservationCreated', history: { states: [{ state: 'reservationCreated', timestamp: NOW }], events: [{ event: '__created__', timestamp: NOW }] } }), def, NOW));
    const later = mapped(fromFlowManager(stored(), def, NOW));
    expect(later.revision).toBeGreaterThan(earlier.revision);
    expect(importDecision(earlier, later)).toBe('update');
    expect(importDecision(later, earlier)).toBe('kept');
    // Same history length, other content (metadata edited in the store): not newer, kept.
    expect(importDecision(later, mapped(fromFlowManager(stored({ metadata: { b: 2 } }), def, NOW)))).toBe('kept');
  });

  it('keeps a saga sagaflow changed after the import, and one sagaflow created', async () => {
    const def = await definition();
    const saga = mapped(fromFlowManager(stored(), def, NOW));
    const advanced = transition(def, saga, { kind: 'event', sagaId: 'fm-1', label: 'checkOK', payload: {}, timestamp: NOW });
    expect(advanced.outcome).toBe('applied');
    expect(importDecision(advanced.saga, saga)).toBe('kept');
    const ignored = transition(def, saga, { kind: 'event', sagaId: 'fm-1', label: 'nope', payload: {}, timestamp: NOW });
    expect(ignored.changed).toBe(true);
    expect(importDecision(ignored.saga, saga)).toBe('kept');
    const created = transition(def, undefined, { kind: 'create', sagaId: 'fm-1', associatedEntityId: 'a', metadata: {}, timestamp: NOW });
    expect(importRevision(created.saga as SagaDocument)).not.toBe(created.saga?.revision);
    expect(importDecision(created.saga, mapped(fromFlowManager(stored({ currentState: 'reservationCreated', history: { states: [], events: [] } }), def, NOW)))).toBe('kept');
  });
});
