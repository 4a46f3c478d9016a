import { describe, expect, it } from 'vitest';
import { DEFAULT_DUPLICATE_WINDOW, DEFAULT_IGNORED_EVENTS_WINDOW, businessKey, compileDefinition } from '../../../src/definition/compile.ts';
import type { SagaConfig } from '../../../src/definition/types.ts';
import { isSagaflowError } from '../../../src/errors.ts';
import { TUTORIAL_SAGA, parse, readJson, remove, set, validConfig } from './fixtures.ts';

describe('compileDefinition', async () => {
  it('builds the state map with commands in order, transitions by event and business descriptions', async () => {
    const def = await compileDefinition(validConfig());
    expect(def.initialState).toBe('created');
    expect(def.creationEvent).toBe('__created__');
    expect([...def.states.keys()]).toEqual(['created', 'done', 'failed']);
    const created = def.states.get('created');
    expect(created?.commands).toEqual([
      { label: 'doWork', channel: 'bus', kind: 'main' },
      { label: 'audit', channel: 'hook', kind: 'sideEffect' },
    ]);
    expect(created?.businessStateId).toBe(0);
    expect(created?.businessStateDescription).toBe('in progress');
    expect(created?.transitions.get('workFailed')).toMatchObject({
      targetState: 'failed',
      businessEventId: 1,
      businessEventDescription: 'failure',
    });
    expect(def.states.get('done')).toMatchObject({ isFinal: true, commands: [], outgoingTransitions: [] });
    expect(def.businessStates.get(businessKey(2))?.description).toBe('ko');
    expect(def.businessEvents.get(businessKey(0))?.description).toBe('success');
    expect([...def.protocols.keys()]).toEqual(['bus', 'hook']);
  });

  it('applies the settings defaults', async () => {
    const def = await compileDefinition(validConfig());
    expect(def.settings).toEqual({
      deepMergeMetadata: { enabled: false, merge: expect.any(Function) },
      throwOnUnexpectedEvents: false,
      duplicateWindow: DEFAULT_DUPLICATE_WINDOW,
      ignoredEventsWindow: DEFAULT_IGNORED_EVENTS_WINDOW,
    });
    expect(DEFAULT_DUPLICATE_WINDOW).toBe(100);
    expect(DEFAULT_IGNORED_EVENTS_WINDOW).toBe(100);
  });

  it('keeps the configured settings', async () => {
    const def = await compileDefinition(
      validConfig((r) => set(r, 'settings', { deepMergeMetadata: { enabled: true }, throwOnUnexpectedEvents: true, duplicateWindow: 3, ignoredEventsWindow: 0 })),
    );
    expect(def.settings).toEqual({ deepMergeMetadata: { enabled: true, merge: expect.any(Function) }, throwOnUnexpectedEvents: true, duplicateWindow: 3, ignoredEventsWindow: 0 });
  });

  it('defaults the creation event to __created__', async () => {
    expect((await compileDefinition(validConfig((r) => remove(r, 'machineDefinition.creationEvent')))).creationEvent).toBe('__created__');
    expect((await compileDefinition(validConfig((r) => set(r, 'machineDefinition.creationEvent', 'born')))).creationEvent).toBe('born');
  });

  it('compiles payload validators that list the problems', async () => {
    const def = await compileDefinition(
      validConfig((r) =>
        set(r, 'machineDefinition.states[0].outgoingTransitions[0].payloadValidationSchema', {
          type: 'object',
          required: ['id'],
          properties: { id: { type: 'string' }, items: { type: 'array', items: { type: 'integer' } } },
          additionalProperties: false,
        }),
      ),
    );
    const validate = def.states.get('created')?.transitions.get('workDone')?.validatePayload;
    expect(validate?.({ id: 'x' })).toEqual([]);
    expect(validate?.({ items: [1, 'two'], extra: true })).toEqual([
      'payload is missing required property "id"',
      'payload has unknown property "extra"',
      'payload.items[1] must be integer',
    ]);
    expect(def.states.get('created')?.transitions.get('workFailed')?.validatePayload).toBeUndefined();
  });

  it('compiles the tutorial', async () => {
    const config = parse(readJson(TUTORIAL_SAGA)).config as SagaConfig;
    const def = await compileDefinition(config);
    expect(def.states.get('reservationValidated')?.transitions.get('checkOK')?.businessEventDescription).toBe('Reservation confirmed');
  });

  it('refuses a configuration whose references do not hold', async () => {
    const config = structuredClone(validConfig()) as SagaConfig;
    config.machineDefinition.initialState = 'nope';
    let error: unknown;
    try {
      await compileDefinition(config);
    } catch (e) {
      error = e;
    }
    expect(isSagaflowError(error, 'SAGAFLOW_DEFINITION_INVALID')).toBe(true);
  });
});
