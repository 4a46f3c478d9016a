import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ServiceInvocation } from '../../../src/saga/types.ts';
import { ROOT, runCli } from './run-cli.ts';

interface Summary {
  summary: true;
  sagaId: string;
  state: string;
  isFinal: boolean;
  revision: number;
  path: string[];
  ignoredEvents: number;
  metadata: Record<string, unknown>;
  serviceSummary?: ServiceInvocation[];
}

interface Result {
  line: number;
  sagaId?: string;
  outcome: string;
  deadLetter?: string;
  reason?: string;
}

/**
 * Written by hand, not from expected.jsonl: each saga's state, revision and number of
 * ignored events, so regenerating expected.jsonl cannot quietly redefine them.
 */
function sagaTable(summaries: Map<string, Summary>): [string, string, number, number][] {
  return [...summaries.values()].map((s) => [s.sagaId, s.state, s.revision, s.ignoredEvents]);
}

/** Every input line that did not simply apply: line, saga, outcome, dead-letter code, reason. */
function notApplied(lines: string[]): [number, string | undefined, string, string | undefined, string | undefined][] {
  return lines
    .map((l) => JSON.parse(l) as Partial<Result> & { summary?: true; timer?: unknown })
    .filter((r): r is Result => r.summary !== true && r.timer === undefined && !['applied', 'created'].includes(r.outcome ?? ''))
    .map((r) => [r.line, r.sagaId, r.outcome, r.deadLetter, r.reason]);
}

function expected(example: string): string[] {
  return readFileSync(join(ROOT, 'examples', example, 'expected.jsonl'), 'utf8').trimEnd().split('\n');
}

async function simulate(example: string): Promise<{ lines: string[]; summaries: Map<string, Summary> }> {
  const run = await runCli(['simulate', `examples/${example}/saga.json`, '--events', `examples/${example}/events.jsonl`, '--seed', '7']);
  expect(run.stderr).toEqual([]);
  expect(run.code).toBe(0);
  const summaries = new Map<string, Summary>();
  for (const line of run.stdout) {
    const parsed = JSON.parse(line) as Partial<Summary>;
    if (parsed.summary === true) summaries.set(parsed.sagaId ?? '', parsed as Summary);
  }
  return { lines: run.stdout, summaries };
}

describe('sagaflow simulate on the examples', () => {
  it('reservation (the tutorial): matches expected.jsonl and reaches the final states', async () => {
    const { lines, summaries } = await simulate('reservation');
    expect(lines).toEqual(expected('reservation'));
    expect([...summaries.values()].map((s) => [s.sagaId, s.state, s.isFinal])).toEqual([
      ['reservation-1', 'reservationConfirmed', true],
      ['reservation-2', 'reservationFailed', true],
      ['reservation-3', 'reservationFailed', true],
    ]);
    const outcomes = lines.slice(0, 12).map((l) => (JSON.parse(l) as { outcome: string }).outcome);
    expect(outcomes).toEqual([
      'created', 'applied', 'duplicate', 'unexpected', 'applied', 'already-final',
      'created', 'applied', 'created', 'applied', 'applied', 'unknown-saga',
    ]);
    expect(sagaTable(summaries)).toEqual([
      // created, validationOK, (duplicate: no change), validationKO ignored, checkOK, checkKO ignored
      ['reservation-1', 'reservationConfirmed', 5, 2],
      ['reservation-2', 'reservationFailed', 2, 0],
      ['reservation-3', 'reservationFailed', 3, 0],
    ]);
    expect(notApplied(lines)).toEqual([
      [3, 'reservation-1', 'duplicate', 'SAGAFLOW_DUPLICATE_EVENT', 'event "validationOK" with eventId "evt-1" was already processed'],
      [4, 'reservation-1', 'unexpected', undefined, 'state "reservationValidated" has no transition for event "validationKO" (it accepts "checkOK", "checkKO")'],
      [6, 'reservation-1', 'already-final', undefined, 'saga is in final state "reservationConfirmed", which accepts no events'],
      [12, 'reservation-404', 'unknown-saga', 'SAGAFLOW_UNKNOWN_SAGA', 'saga "reservation-404" does not exist'],
    ]);
  });

  it('order: happy path, refund and release compensations, validation rejections; deep-merged metadata', async () => {
    const { lines, summaries } = await simulate('order');
    expect(lines).toEqual(expected('order'));
    expect(summaries.get('order-1001')?.path).toEqual(['orderCreated', 'stockReserved', 'shipping', 'orderCompleted']);
    expect(summaries.get('order-1002')?.path).toEqual(['orderCreated', 'stockReserved', 'shipping', 'refundingPayment', 'releasingStock', 'orderCancelled']);
    expect(summaries.get('order-1003')?.path).toEqual(['orderCreated', 'stockReserved', 'releasingStock', 'orderCancelled']);
    expect(summaries.get('order-1004')?.state).toBe('orderRejected');
    expect(summaries.get('order-1001')?.metadata.order).toEqual({ id: '1001', items: [{ sku: 'BOOK-1', qty: 2 }], total: 39.8, deliveredAt: '2024-01-03' });
    const rejected = lines.map((l) => JSON.parse(l) as { outcome?: string; line?: number }).filter((r) => r.outcome === 'rejected');
    expect(rejected.map((r) => r.line)).toEqual([3, 14]);
    expect(sagaTable(summaries)).toEqual([
      ['order-1001', 'orderCompleted', 5, 1],
      ['order-1002', 'orderCancelled', 6, 0],
      ['order-1003', 'orderCancelled', 5, 1],
      ['order-1004', 'orderRejected', 3, 1],
    ]);
    expect(notApplied(lines).map(([line, sagaId, outcome, deadLetter, reason]) => [line, sagaId, outcome, deadLetter, reason?.split(':')[0]])).toEqual([
      [3, 'order-1001', 'rejected', undefined, 'payload of event "paymentCharged" does not match the payloadValidationSchema of the transition "stockReserved" -> "shipping"'],
      [5, 'order-1001', 'duplicate', 'SAGAFLOW_DUPLICATE_EVENT', 'event "paymentCharged" with eventId "1001-c" was already processed'],
      [14, 'order-1003', 'rejected', undefined, 'payload of event "stockReserved" does not match the payloadValidationSchema of the transition "orderCreated" -> "stockReserved"'],
      [20, 'order-1004', 'already-final', undefined, 'saga is in final state "orderRejected", which accepts no events'],
    ]);
  });

  it('car-dealer: 13 states, negotiation loop, factory order, compensation, a generated sagaId', async () => {
    const { lines, summaries } = await simulate('car-dealer');
    expect(lines).toEqual(expected('car-dealer'));
    expect(summaries.get('deal-1')?.state).toBe('saleCompleted');
    expect(summaries.get('deal-1')?.path).toContain('factoryOrder');
    expect(summaries.get('deal-2')?.state).toBe('requestCancelled');
    expect(summaries.get('deal-3')?.path.slice(-2)).toEqual(['contractCancellation', 'requestCancelled']);
    const generated = [...summaries.values()].find((s) => s.sagaId.startsWith('saga-'));
    expect(generated?.state).toBe('requestCancelled');
    expect(summaries.size).toBe(4);
    expect(sagaTable(summaries).map(([id, ...rest]) => [id.startsWith('saga-') ? 'generated' : id, ...rest])).toEqual([
      ['deal-1', 'saleCompleted', 15, 1],
      ['deal-2', 'requestCancelled', 7, 1],
      ['deal-3', 'requestCancelled', 10, 1],
      ['generated', 'requestCancelled', 3, 0],
    ]);
    expect(notApplied(lines).map(([line, sagaId, outcome, deadLetter, reason]) => [line, sagaId, outcome, deadLetter, reason?.split(':')[0]])).toEqual([
      [7, 'deal-1', 'rejected', undefined, 'payload of event "quoteReady" does not match the payloadValidationSchema of the transition "quotePreparation" -> "quoteSent"'],
      [21, 'deal-2', 'rejected', undefined, 'payload of event "financingApproved" does not match the payloadValidationSchema of the transition "financingCheck" -> "contractSigning"'],
      [30, 'deal-3', 'duplicate', 'SAGAFLOW_DUPLICATE_EVENT', 'event "contractSigned" with eventId "d3-6" was already processed'],
      [32, 'deal-3', 'unexpected', undefined, 'state "contractCancellation" has no transition for event "carHandedOver" (it accepts "contractCancelled")'],
    ]);
  });

  it('marketplace-order: a choreography observed on three topics with random keys, started by orderPlaced, routed on the amount, a catch-all', async () => {
    const { lines, summaries } = await simulate('marketplace-order');
    expect(lines).toEqual(expected('marketplace-order'));
    expect(summaries.get('mp-1')?.path).toEqual(['awaitingPayment', 'awaitingStock', 'awaitingShipment', 'inTransit', 'orderCompleted']);
    // 2500 is over 1000: the first paymentAuthorized transition (its when) sends it to review.
    expect(summaries.get('mp-2')?.path).toEqual(['awaitingPayment', 'fraudReview', 'awaitingStock', 'unexpectedTransition']);
    expect(summaries.get('mp-3')?.path).toEqual(['awaitingPayment', 'orderCancelled']);
    // The start event's payload is the metadata; the sagaId is the associatedEntityId.
    expect(summaries.get('mp-3')).toMatchObject({ associatedEntityId: 'mp-3', metadata: { orderId: 'mp-3', customerId: 'cust-3', amount: 42, reason: 'insufficient funds' } });
    expect(sagaTable(summaries)).toEqual([
      ['mp-1', 'orderCompleted', 5, 0],
      ['mp-2', 'unexpectedTransition', 5, 1],
      ['mp-3', 'orderCancelled', 2, 0],
    ]);
    expect(notApplied(lines)).toEqual([
      [4, 'mp-1', 'duplicate', 'SAGAFLOW_DUPLICATE_EVENT', 'event "orderPlaced" with eventId "o-1" was already processed'],
      [10, 'mp-2', 'unexpected-transition', undefined, 'state "awaitingStock" has no transition for event "orderShipped" (it accepts "stockReserved", "stockUnavailable")'],
      [11, 'mp-2', 'already-final', undefined, 'saga is in final state "unexpectedTransition", which accepts no events'],
      [14, 'mp-4', 'unknown-saga', 'SAGAFLOW_UNKNOWN_SAGA', 'saga "mp-4" does not exist'],
      [15, undefined, 'dead-letter', 'SAGAFLOW_CORRELATION_MISSING', 'the event "paymentAuthorized" of observed topic "marketplace-payments" has nothing at "/messagePayload/orderId" (correlation.sagaId of channel "domainEvents"), where its saga id must be a non-empty string'],
      [16, undefined, 'dead-letter', 'SAGAFLOW_CORRELATION_MISSING', 'the event "orderPlaced" of observed topic "marketplace-orders" has a number at "/messagePayload/orderId" (correlation.sagaId of channel "domainEvents"), where its saga id must be a non-empty string'],
      [17, undefined, 'dead-letter', 'SAGAFLOW_CORRELATION_MISSING', 'the event "orderPlaced" of observed topic "marketplace-orders" has nothing at "/messagePayload/orderId" (correlation.sagaId of channel "domainEvents"), where its saga id must be a non-empty string'],
    ]);
  });

  it('used-car-dealer: a choreography keyed by VIN (a nested pointer), routed on the offer and on the inspection result, a catch-all', async () => {
    const { lines, summaries } = await simulate('used-car-dealer');
    expect(lines).toEqual(expected('used-car-dealer'));
    expect(summaries.get('WVWZZZ1JZXW000001')?.path).toEqual(['appraisalRequested', 'offerMade', 'inspection', 'reconditioning', 'listedForSale', 'sold']);
    // 31000 needs the manager; a repair of 8000 is over the reconditioning limit: no when matches, the last transition takes it.
    expect(summaries.get('ZFA31200000000002')?.path).toEqual(['appraisalRequested', 'managerApproval', 'offerMade', 'inspection', 'sentToAuction']);
    expect(summaries.get('VF1RFB00000000003')?.path).toEqual(['appraisalRequested', 'outOfProcess']);
    expect(sagaTable(summaries)).toEqual([
      ['WVWZZZ1JZXW000001', 'sold', 6, 0],
      ['ZFA31200000000002', 'sentToAuction', 5, 0],
      ['VF1RFB00000000003', 'outOfProcess', 3, 1],
    ]);
    expect(notApplied(lines).map(([line, sagaId, outcome, deadLetter]) => [line, sagaId, outcome, deadLetter])).toEqual([
      [13, 'VF1RFB00000000003', 'unexpected-transition', undefined],
      [14, 'VF1RFB00000000003', 'already-final', undefined],
      [15, undefined, 'dead-letter', 'SAGAFLOW_CORRELATION_MISSING'],
      [16, 'UNKNOWN0000000004', 'unknown-saga', 'SAGAFLOW_UNKNOWN_SAGA'],
    ]);
  });

  it('invoice: hooks in plain and base64 shape the commands, a lodash customizer appends arrays, failing hooks hold the saga', async () => {
    const { lines, summaries } = await simulate('invoice');
    expect(lines).toEqual(expected('invoice'));
    const results = lines.map((l) => JSON.parse(l) as { line?: number; outcome?: string; state?: string; reason?: string; commands?: { label: string; payload?: Record<string, unknown> }[] });
    // Line 1: the plain hook built issueInvoice, the base64 hook notifyAccounting; the clock is the line's.
    expect(results[0]?.commands?.[0]?.payload).toEqual({
      invoiceId: 'inv-order-1',
      customerId: 'c-7',
      lines: [{ sku: 'BOOK-1', qty: 2, unitPrice: 12.5 }, { sku: 'PEN-3', qty: 1, unitPrice: 3 }],
      total: 28,
      command: 'issueInvoice',
      requestedAt: '2024-01-01T00:00:00.000Z',
    });
    expect(results[0]?.commands?.[1]?.payload).toMatchObject({ sagaId: 'invoice-1', state: 'invoiceRequested', after: '__created__', label: 'notifyAccounting' });
    // A command without a hook carries the metadata, as in Flow Manager.
    expect(results[1]?.commands).toEqual([{ label: 'requestPayment', channel: 'billing', kind: 'main' }]);
    expect(results[4]?.commands?.[0]?.payload).toEqual({ invoice: 'F-2024-001', amount: '28.00', failedAttempts: 2, paidAt: '2024-01-01T00:00:04.000Z' });
    expect(summaries.get('invoice-1')?.metadata.attempts).toEqual([{ reason: 'card declined' }, { reason: 'insufficient funds' }]);
    // A creation whose hook throws creates nothing; an event whose hook throws leaves the saga in its state.
    expect(results[5]).toMatchObject({ line: 6, outcome: 'hook-failed', reason: 'hook machineDefinition.states[0].outputCommand.hook threw Error: an invoice needs at least one line (line 3, column 42)' });
    expect(summaries.has('invoice-2')).toBe(false);
    expect(results[8]).toMatchObject({ line: 9, outcome: 'hook-failed', state: 'awaitingPayment', commands: [] });
    expect(results[8]?.reason).toMatch(/^hook machineDefinition\.states\[2\]\.sideEffects\[0\]\.hook threw TypeError: /);
    // The failed event's eventId is not remembered: sent again with a good payload, it applies.
    expect(results[9]).toMatchObject({ line: 10, outcome: 'applied', state: 'invoicePaid' });
    expect(summaries.get('invoice-3')).toMatchObject({ state: 'invoicePaid', ignoredEvents: 1, metadata: { payment: { amount: 15 } } });
    expect(sagaTable(summaries)).toEqual([
      ['invoice-1', 'invoicePaid', 5, 0],
      ['invoice-3', 'invoicePaid', 4, 1],
    ]);
    // The creation whose hook failed is the engine's dead letter; the event whose hook failed is recorded in the saga.
    expect(notApplied(lines).map(([line, sagaId, outcome, deadLetter]) => [line, sagaId, outcome, deadLetter])).toEqual([
      [6, 'invoice-2', 'hook-failed', 'SAGAFLOW_HOOK_FAILED'],
      [9, 'invoice-3', 'hook-failed', undefined],
    ]);
  });

  it('payment: command retries with backoff, a state timeout, a timeout that re-enters its state, and the saga deadline, in virtual time', async () => {
    const { lines, summaries } = await simulate('payment');
    expect(lines).toEqual(expected('payment'));
    const results = lines.map((l) => JSON.parse(l) as { line?: number; sagaId?: string; event?: string; outcome?: string; timer?: { kind: string; dueAt: string }; commands?: { label: string; attempt?: number }[] });
    const fired = results.filter((r) => r.timer !== undefined);
    // pay-2 never hears back: chargeCard sent three times (10 s, then 20 s later), then the 2 m timeout.
    expect(fired.filter((r) => r.sagaId === 'pay-2').map((r) => [r.timer?.kind, r.timer?.dueAt, r.commands?.map((c) => c.attempt)])).toEqual([
      ['retry', '2024-01-01T00:00:13.000Z', [2]],
      ['retry', '2024-01-01T00:00:33.000Z', [3]],
      ['timeout', '2024-01-01T00:02:03.000Z', []],
    ]);
    expect(summaries.get('pay-2')).toMatchObject({ state: 'paymentFailed', metadata: { timeout: { state: 'paymentRequested', after: '2m', dueAt: '2024-01-01T00:02:03.000Z' } } });
    // pay-1 finished before any timer came due: none fires for it.
    expect(fired.filter((r) => r.sagaId === 'pay-1')).toEqual([]);
    // pay-3: charged after its third send; shipment late twice (each re-entry sends shipOrder
    // again and arms a new timeout), then the deadline, a day after creation, refunds it.
    expect(fired.filter((r) => r.sagaId === 'pay-3').map((r) => r.event)).toEqual(['chargeCard', 'chargeCard', 'notifyCustomer', 'shipmentLate', 'notifyCustomer', 'shipmentLate', 'notifyCustomer', 'orderExpired']);
    expect(results.find((r) => r.event === 'orderExpired')).toMatchObject({ timer: { kind: 'deadline', dueAt: '2024-01-02T00:00:04.000Z' }, outcome: 'applied', commands: [{ label: 'refundPayment' }] });
    expect(summaries.get('pay-3')?.path).toEqual(['paymentRequested', 'awaitingShipment', 'awaitingShipment', 'awaitingShipment', 'orderExpired']);
    expect(results.at(-4)).toMatchObject({ line: 12, outcome: 'already-final' });
    // Every fired timer is a revision: pay-3 has 8 of them besides its 3 input lines.
    expect(sagaTable(summaries)).toEqual([
      ['pay-1', 'orderShipped', 3, 0],
      ['pay-2', 'paymentFailed', 4, 0],
      ['pay-3', 'orderExpired', 11, 1],
    ]);
    expect(notApplied(lines)).toEqual([[12, 'pay-3', 'already-final', undefined, 'saga is in final state "orderExpired", which accepts no events']]);
  });

  it('user-provisioning: parallel branches joined, a repeated answer, a timeout over a branch that never answered, its late answer, the service summary', async () => {
    const { lines, summaries } = await simulate('user-provisioning');
    expect(lines).toEqual(expected('user-provisioning'));
    const generated = [...summaries.keys()][2] ?? '';
    expect(sagaTable(summaries)).toEqual([
      // created, userCreated, mailboxReady, mailboxFailed (recorded), groupsAdded, homeFolderCreated (join)
      ['user-1', 'provisioned', 6, 0],
      // created, userCreated, homeFolderCreated, retry, groupsAdded, groupsAdded (recorded), timeout, mailboxReady (late), helpdeskResolved
      ['user-2', 'provisioned', 9, 0],
      [generated, 'userRejected', 3, 1],
    ]);
    expect(summaries.get('user-1')?.path).toEqual(['creatingUser', 'provisioning', 'provisioned']);
    expect(summaries.get('user-2')?.path).toEqual(['creatingUser', 'provisioning', 'awaitingHelpdesk', 'provisioned']);
    const services = (sagaId: string) => summaries.get(sagaId)?.serviceSummary?.map((i) => [i.label, i.answer ?? null, i.durationMs ?? null, i.late ?? false, (i.ignoredAnswers ?? []).map((a) => a.event)]);
    expect(services('user-1')).toEqual([
      ['addToGroups', 'groupsAdded', 4000, false, []],
      ['provisionMailbox', 'mailboxReady', 2000, false, ['mailboxFailed']],
      ['createHomeFolder', 'homeFolderCreated', 5000, false, []],
    ]);
    expect(services('user-2')).toEqual([
      ['addToGroups', 'groupsAdded', 67_000, false, ['groupsAdded']],
      ['provisionMailbox', 'mailboxReady', 670_000, true, []],
      ['createHomeFolder', 'homeFolderCreated', 5000, false, []],
    ]);
    expect(summaries.get(generated)?.serviceSummary).toBeUndefined();
    expect(notApplied(lines).map(([line, sagaId, outcome, deadLetter, reason]) => [line, sagaId, outcome, deadLetter, reason?.split(':')[0]])).toEqual([
      [5, 'user-1', 'branch-done', undefined, '"mailboxReady" answers "provisionMailbox" (branch 1 of state "provisioning", entered at revision 2)'],
      [6, 'user-1', 'answer-recorded', undefined, '"mailboxFailed" answers "provisionMailbox" (branch 1 of state "provisioning", entered at revision 2), but the branch was already complete (by "mailboxReady" at 2024-01-01T00'],
      [7, 'user-1', 'branch-done', undefined, '"groupsAdded" answers "addToGroups" (branch 0 of state "provisioning", entered at revision 2)'],
      [9, 'user-2', 'branch-done', undefined, '"homeFolderCreated" answers "createHomeFolder" (branch 2 of state "provisioning", entered at revision 2)'],
      [11, 'user-2', 'branch-done', undefined, '"groupsAdded" answers "addToGroups" (branch 0 of state "provisioning", entered at revision 2)'],
      [12, 'user-2', 'answer-recorded', undefined, '"groupsAdded" answers "addToGroups" (branch 0 of state "provisioning", entered at revision 2), but the branch was already complete (by "groupsAdded" at 2024-01-01T00'],
      [14, 'user-2', 'answer-recorded', undefined, '"mailboxReady" answers "provisionMailbox" (branch 1 of state "provisioning", entered at revision 2), but the saga has left that state entry'],
      [18, generated, 'already-final', undefined, 'saga is in final state "userRejected", which accepts no events'],
    ]);
  });

  it('is reproducible with --seed and takes random ids without it', async () => {
    const input = '{"create": {"associatedEntityId": "a", "metadata": {}}}\n{"associatedEntityId": "a", "messageLabel": "validationKO"}\n';
    const first = await runCli(['simulate', 'examples/reservation/saga.json', '--seed', '3'], { stdin: input });
    const second = await runCli(['simulate', 'examples/reservation/saga.json', '--seed', '3'], { stdin: input });
    expect(first.stdout).toEqual(second.stdout);
    const other = await runCli(['simulate', 'examples/reservation/saga.json', '--seed', '4'], { stdin: input });
    expect(other.stdout).not.toEqual(first.stdout);
    const random = await runCli(['simulate', 'examples/reservation/saga.json'], { stdin: input, randomIds: ['r-1'] });
    expect(JSON.parse(random.stdout[0] ?? '')).toMatchObject({ sagaId: 'r-1', outcome: 'created' });
    expect(JSON.parse(random.stdout[1] ?? '')).toMatchObject({ sagaId: 'r-1', outcome: 'applied', state: 'reservationFailed' });
  });

  it('reads stdin, skips blank lines, reports lines it cannot understand and exits 1', async () => {
    const input = ['{"create": {"sagaId": "s", "associatedEntityId": "a", "metadata": {}}}', '', 'not json', '{"sagaId": "s"}', '{"sagaId": "s", "messageLabel": "validationOK"}'].join('\n');
    const run = await runCli(['simulate', 'examples/reservation/saga.json'], { stdin: input });
    expect(run.code).toBe(1);
    expect(run.stdout.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      { line: 1, sagaId: 's', event: '__created__', outcome: 'created', state: 'reservationCreated', isFinal: false, commands: [{ label: 'validateReservation', channel: 'kafkaChannel', kind: 'main' }] },
      { line: 3, outcome: 'invalid-input', commands: [], reason: 'not a JSON object' },
      { line: 4, outcome: 'invalid-input', commands: [], reason: 'missing "messageLabel" (or "create")' },
      { line: 5, sagaId: 's', event: 'validationOK', outcome: 'applied', state: 'reservationValidated', isFinal: false, commands: [{ label: 'checkReservation', channel: 'kafkaChannel', kind: 'main' }] },
      { summary: true, sagaId: 's', associatedEntityId: 'a', state: 'reservationValidated', isFinal: false, revision: 2, path: ['reservationCreated', 'reservationValidated'], ignoredEvents: 0, metadata: {} },
    ]);
  });

  it('needs no secrets: the order example runs without its environment variables', async () => {
    const run = await runCli(['simulate', 'examples/order/saga.json'], { stdin: '{"create": {"sagaId": "o", "associatedEntityId": "c", "metadata": {}}}' });
    expect(run.code).toBe(0);
  });

  it('reports a missing events file in one line', async () => {
    const run = await runCli(['simulate', 'examples/order/saga.json', '--events', 'nope.jsonl']);
    expect(run.code).toBe(1);
    expect(run.stderr).toEqual([`sagaflow simulate: cannot read events file "${join(ROOT, 'nope.jsonl')}" (ENOENT)`]);
  });

  it('reports an invalid saga.json with its issues', async () => {
    const run = await runCli(['simulate', 'test/unit/definition/fixtures/tutorial/step-5.json'], { stdin: '' });
    expect(run.code).toBe(1);
    expect(run.stderr[0]).toMatch(/^sagaflow simulate: saga definition ".*step-5.json" is invalid \(2 errors\):$/);
    expect(run.stderr[1]).toBe('  - machineDefinition.states[0].outputCommand.channel: is required: set it to the id of one of communicationProtocols');
  });
});
