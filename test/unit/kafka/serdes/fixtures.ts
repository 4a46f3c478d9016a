import type { SagaDocument } from '../../../../src/saga/types.ts';

/** A saga document with every optional field set. */
export function fullSaga(): SagaDocument {
  return {
    sagaId: 'saga-1',
    associatedEntityId: 'order-42',
    currentState: 'PAYMENT_PENDING',
    businessStateId: 2,
    businessStateDescription: 'Waiting for payment',
    isFinal: false,
    metadata: { amount: 12.5, items: [{ sku: 'a', qty: 2 }], note: null, unicode: 'é\u{1F600}' },
    latestEvent: 'ORDER_VALIDATED',
    history: {
      states: [
        { state: 'CREATED', timestamp: '2025-01-01T00:00:00.000Z', businessStateId: 'created', businessStateDescription: 'Created' },
        { state: 'PAYMENT_PENDING', timestamp: '2025-01-01T00:00:01.000Z', businessStateId: 2 },
        { state: 'NO_BUSINESS', timestamp: '2025-01-01T00:00:01.500Z' },
      ],
      events: [
        { event: '__created__', timestamp: '2025-01-01T00:00:00.000Z' },
        {
          event: 'ORDER_VALIDATED',
          timestamp: '2025-01-01T00:00:01.000Z',
          businessEventId: 7,
          businessEventDescription: 'Validated',
          eventId: 'evt-1',
        },
        { event: '__cancel__', timestamp: '2025-01-01T00:00:01.500Z', by: 'operator@example.com', reason: 'customer withdrew' },
      ],
    },
    revision: 3,
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:01.000Z',
    commands: [
      { label: 'VALIDATE', channel: 'kafka', kind: 'main', state: 'CREATED', timestamp: '2025-01-01T00:00:00.000Z', revision: 1 },
      { label: 'AUDIT', channel: 'kafka', kind: 'sideEffect', state: 'CREATED', timestamp: '2025-01-01T00:00:00.000Z', revision: 1 },
      { label: 'RESERVE', channel: 'kafka', kind: 'branch', state: 'PAYMENT_PENDING', timestamp: '2025-01-01T00:00:01.000Z', revision: 2 },
    ],
    ignoredEvents: [
      { event: 'PAID', timestamp: '2025-01-01T00:00:00.500Z', eventId: 'evt-0', outcome: 'unexpected', reason: 'not accepted in CREATED', state: 'CREATED' },
      { event: 'BAD', timestamp: '2025-01-01T00:00:00.600Z', outcome: 'already-final', reason: 'final', state: 'CREATED' },
    ],
    recentEventIds: ['evt-1'],
    deliveryFailures: [
      { channel: 'crm', label: 'AUDIT', revision: 1, status: 400, reason: 'answered 400 Bad Request', state: 'CREATED', timestamp: '2025-01-01T00:00:00.700Z' },
      { channel: 'crm', label: 'VALIDATE', revision: 1, attempt: 2, reason: 'retries exhausted: timed out', state: 'PAYMENT_PENDING', timestamp: '2025-01-01T00:00:01.200Z' },
    ],
    serviceSummary: [
      {
        state: 'PAYMENT_PENDING',
        entry: 1,
        branch: 0,
        label: 'RESERVE',
        channel: 'kafka',
        revision: 2,
        sentAt: '2025-01-01T00:00:01.000Z',
        answeredAt: '2025-01-01T00:00:01.250Z',
        answer: 'RESERVED',
        answerEventId: 'evt-2',
        durationMs: 250,
        late: true,
        ignoredAnswers: [{ event: 'RESERVED', timestamp: '2025-01-01T00:00:01.300Z', eventId: 'evt-3' }],
      },
    ],
  };
}

/** A saga document with only the required fields. */
export function minimalSaga(): SagaDocument {
  return {
    sagaId: 'saga-2',
    associatedEntityId: 'order-43',
    currentState: 'CREATED',
    isFinal: false,
    metadata: {},
    latestEvent: '__created__',
    history: { states: [], events: [] },
    revision: 1,
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
    commands: [],
    ignoredEvents: [],
    recentEventIds: [],
  };
}
