import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSagaConfig } from '../../../src/definition/parse.ts';
import type { SagaConfig } from '../../../src/definition/types.ts';
import { waitFor } from '../../support/wait.ts';
import { codecFor, readTopic, sagaWhen, startTestInstance, testChannelConfigurations, testKafka, uniqueFlow } from '../../support/sagaflow.ts';
import type { FlowTopics } from '../../support/sagaflow.ts';

// The invoice example (hooks in plain and base64 on commands and side effects, a lodash
// customizer) run by a real instance on the real broker: the hooks' payloads are what goes on
// the commands topic, and failing hooks lose no event.

function invoiceConfig(flow: FlowTopics, serialization: 'json' | 'avro'): SagaConfig {
  const raw = JSON.parse(readFileSync(new URL('../../../examples/invoice/saga.json', import.meta.url), 'utf8')) as { communicationProtocols: { configurations: Record<string, unknown> }[] };
  const channel = raw.communicationProtocols[0] as { configurations: Record<string, unknown> };
  channel.configurations = testChannelConfigurations(flow, serialization);
  const parsed = parseSagaConfig(raw, { env: {}, readFile: (p) => readFileSync(p, 'utf8') });
  if (!parsed.config) throw new Error(`invalid test config: ${JSON.stringify(parsed.errors)}`);
  return parsed.config;
}

async function post(url: string, path: string, body: unknown): Promise<Response> {
  return fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

describe.each(['json', 'avro'] as const)('hooks in a running instance (%s)', (serialization) => {
  it('send the payloads hooks build, hold sagas whose hooks fail, and dead-letter a creation whose hook fails', async () => {
    const flow = uniqueFlow(`hooks-${serialization}`);
    const config = invoiceConfig(flow, serialization);
    const instance = await startTestInstance(config, { partitions: 1 });
    await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });
    const codec = await codecFor(config);

    const created = await post(instance.url, '/saga', {
      associatedEntityId: 'order-1',
      metadata: { customer: { id: 'c-7' }, lines: [{ sku: 'BOOK-1', qty: 2, unitPrice: 12.5 }] },
    });
    expect(created.status).toBe(201);
    const { sagaId } = (await created.json()) as { sagaId: string };
    const saga = await sagaWhen(instance.url, sagaId, (s) => s.revision === 1);

    // A creation whose hook throws: produced straight to the events topic, as a service would.
    const producer = testKafka().producer();
    await producer.connect();
    await producer.send({
      topic: flow.events,
      messages: [{ key: 'invoice-empty', value: await codec.encodeEvent(flow.events, { messageLabel: '__created__', messagePayload: { associatedEntityId: 'order-2', metadata: { customer: { id: 'c-8' }, lines: [] } } }) }],
    });
    await producer.disconnect();

    const commandRecords = await readTopic(flow.commands, { until: (r) => r.length >= 2, timeoutMs: 30_000 });
    const commands = await Promise.all(commandRecords.map(async (r) => ({ key: r.key, ...(await codec.decodeCommand(flow.commands, r.value)) })));
    expect(commands).toEqual([
      {
        key: sagaId,
        messageLabel: 'issueInvoice',
        messagePayload: {
          invoiceId: 'inv-order-1',
          customerId: 'c-7',
          lines: [{ sku: 'BOOK-1', qty: 2, unitPrice: 12.5 }],
          total: 25,
          command: 'issueInvoice',
          // The hook's clock is the transition's time, as recorded in the saga.
          requestedAt: saga.createdAt,
        },
      },
      {
        key: sagaId,
        messageLabel: 'notifyAccounting',
        messagePayload: { sagaId, state: 'invoiceRequested', after: '__created__', label: 'notifyAccounting', reference: expect.stringMatching(/^[0-9a-z]+$/) },
      },
    ]);

    const dead = await readTopic(instance.topics.deadLetter, { until: (r) => r.length >= 1, timeoutMs: 30_000 });
    expect(dead.map((r) => [r.key, r.headers['sagaflow-error-code']])).toEqual([['invoice-empty', 'SAGAFLOW_HOOK_FAILED']]);
    expect(dead[0]?.headers['sagaflow-reason']).toMatch(/^hook machineDefinition\.states\[0\]\.outputCommand\.hook threw Error: an invoice needs at least one line/);
    expect((await fetch(`${instance.url}/saga/invoice-empty`)).status).toBe(404);

    // An event whose hook fails leaves the saga where it was, recorded with the reason; the
    // customizer appended the attempts; the same eventId with a good payload then applies.
    for (const value of [
      { messageLabel: 'invoiceIssued', messagePayload: { invoice: { number: 'F-1' } } },
      { messageLabel: 'paymentFailed', messagePayload: { attempts: [{ reason: 'declined' }] } },
      { messageLabel: 'paymentFailed', messagePayload: { attempts: [{ reason: 'expired' }] } },
      { messageLabel: 'paymentReceived', messagePayload: { payment: 'cash' }, eventId: 'pay-1' },
    ]) {
      expect((await post(instance.url, '/event', { key: sagaId, value })).status).toBe(202);
    }
    const held = await sagaWhen(instance.url, sagaId, (s) => s.ignoredEvents.length === 1);
    expect(held.currentState).toBe('awaitingPayment');
    expect(held.metadata.attempts).toEqual([{ reason: 'declined' }, { reason: 'expired' }]);
    expect(held.ignoredEvents[0]).toMatchObject({ event: 'paymentReceived', eventId: 'pay-1', outcome: 'hook-failed', state: 'awaitingPayment' });
    expect(held.ignoredEvents[0]?.reason).toMatch(/^hook machineDefinition\.states\[2\]\.sideEffects\[0\]\.hook threw TypeError: /);

    expect((await post(instance.url, '/event', { key: sagaId, value: { messageLabel: 'paymentReceived', messagePayload: { payment: { amount: 25 } }, eventId: 'pay-1' } })).status).toBe(202);
    const paid = await sagaWhen(instance.url, sagaId, (s) => s.isFinal);
    expect(paid.currentState).toBe('invoicePaid');
    const receipts = await readTopic(flow.commands, { until: (r) => r.some((x) => x.headers['sagaflow-revision'] === String(paid.revision)), timeoutMs: 30_000 });
    const receipt = await codec.decodeCommand(flow.commands, receipts.at(-1)?.value ?? null);
    expect(receipt).toMatchObject({ messageLabel: 'sendReceipt', messagePayload: { invoice: 'F-1', amount: '25.00', failedAttempts: 2, paidAt: paid.updatedAt } });
  });
});
