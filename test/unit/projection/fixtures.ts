import type { SagaDocument } from '../../../src/saga/types.ts';

/** A saga document with every field set; `overrides` replace top-level fields. */
export function sagaDoc(overrides: Partial<SagaDocument> = {}): SagaDocument {
  return {
    sagaId: 'saga-1',
    associatedEntityId: 'entity-1',
    currentState: 'reservationCreated',
    businessStateId: 0,
    businessStateDescription: 'The reservation is in progress',
    isFinal: false,
    metadata: { reservationId: 1 },
    latestEvent: '__created__',
    history: {
      states: [{ state: 'reservationCreated', timestamp: '2024-01-01T00:00:00.000Z', businessStateId: 0, businessStateDescription: 'The reservation is in progress' }],
      events: [{ event: '__created__', timestamp: '2024-01-01T00:00:00.000Z' }],
    },
    revision: 1,
    createdAt: '2024-01-01T00:00:00.000Z',
    updatedAt: '2024-01-01T00:00:00.000Z',
    commands: [],
    ignoredEvents: [],
    recentEventIds: [],
    ...overrides,
  };
}
