import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSagaConfigFile } from '../../../src/definition/load.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { SagaWorker } from '../../../src/worker/client.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { mongoPersistency } from '../../support/mongo.ts';
import { uniqueName } from '../../support/names.ts';
import { codecFor, startTestInstance, tempStateDir, uniqueFlow } from '../../support/sagaflow.ts';
import { services } from '../../support/services.ts';
import { waitFor } from '../../support/wait.ts';
import { createSaga, getSaga, restService } from './support.ts';

const root = new URL('../../../', import.meta.url).pathname;
const TOKEN = 'Bearer notifications-token-0815';

type Scenario = 'delivered' | 'shipping-fails' | 'no-stock' | 'declined';

/**
 * examples/order/saga.json as a user runs it: only what points at infrastructure changes
 * (brokers without the example's SASL and TLS, topic names, where the notification service
 * listens); the secrets come from the environment as the file says.
 */
function orderSagaJson(flow: ReturnType<typeof uniqueFlow>, notificationsPort: number, collectionName: string): string {
  const raw = JSON.parse(readFileSync(join(root, 'examples/order/saga.json'), 'utf8')) as {
    communicationProtocols: { id: string; type: string; configurations: Record<string, unknown> }[];
    persistencyManagement: { configurations: Record<string, unknown> };
  };
  raw.persistencyManagement.configurations.collectionName = collectionName;
  for (const channel of raw.communicationProtocols) {
    if (channel.type === 'kafka') {
      Object.assign(channel.configurations, { brokers: services().kafkaBrokers, inputTopics: [flow.events], outputTopics: [flow.commands], consumerGroup: flow.applicationId });
      delete channel.configurations.authenticationProperties;
    } else {
      Object.assign(channel.configurations, { endpoint: '127.0.0.1', port: notificationsPort });
    }
  }
  const file = join(tempStateDir(), 'saga.json');
  writeFileSync(file, JSON.stringify(raw));
  return file;
}

describe('examples/order end to end', () => {
  it('runs orders to completion and through their compensations; the notifications go over REST with the secret header', async () => {
    const flow = uniqueFlow('outbox-order');
    const notifications = await restService(() => ({ status: 204 }));
    const { persistency, collection } = await mongoPersistency('orders');
    const env = { NOTIFICATIONS_TOKEN: TOKEN, ORDERS_MONGO_URI: persistency.configurations.connectionUri };
    const config = loadSagaConfigFile(orderSagaJson(flow, notifications.port, persistency.configurations.collectionName), env);
    const instance = await startTestInstance(config);

    // The stock, payment and shipping services answer the Kafka commands.
    const scenarioOf = (payload: unknown) => ((payload as { order?: { scenario?: Scenario } }).order?.scenario ?? 'delivered');
    const worker = new SagaWorker({ brokers: services().kafkaBrokers, codec: await codecFor(config), commandsTopic: flow.commands, eventsTopic: flow.events, groupId: uniqueName('order-services') });
    worker
      .onCommand('reserveStock', ({ sagaId, payload }) =>
        scenarioOf(payload) === 'no-stock' ? worker.emit('stockUnavailable', sagaId, {}) : worker.emit('stockReserved', sagaId, { reservationId: `res-${sagaId}`, warehouse: 'north' }),
      )
      .onCommand('chargePayment', ({ sagaId, payload }) =>
        scenarioOf(payload) === 'declined' ? worker.emit('paymentDeclined', sagaId, {}) : worker.emit('paymentCharged', sagaId, { payment: { id: `pay-${sagaId}`, amount: 39.8, currency: 'EUR' } }),
      )
      .onCommand('shipOrder', ({ sagaId, payload }) => worker.emit(scenarioOf(payload) === 'shipping-fails' ? 'shippingFailed' : 'orderDelivered', sagaId, {}))
      .onCommand('refundPayment', ({ sagaId }) => worker.emit('paymentRefunded', sagaId, {}))
      .onCommand('releaseStock', ({ sagaId }) => worker.emit('stockReleased', sagaId, {}));
    await worker.start();
    registerCleanup(() => worker.stop());
    await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });

    const cases: { scenario: Scenario; final: string; path: string[]; emails: string[] }[] = [
      { scenario: 'delivered', final: 'orderCompleted', path: ['orderCreated', 'stockReserved', 'shipping', 'orderCompleted'], emails: ['sendOrderReceivedEmail', 'sendPaymentReceipt', 'sendDeliveredEmail'] },
      {
        scenario: 'shipping-fails',
        final: 'orderCancelled',
        path: ['orderCreated', 'stockReserved', 'shipping', 'refundingPayment', 'releasingStock', 'orderCancelled'],
        emails: ['sendOrderReceivedEmail', 'sendPaymentReceipt', 'sendCancellationEmail'],
      },
      { scenario: 'declined', final: 'orderCancelled', path: ['orderCreated', 'stockReserved', 'releasingStock', 'orderCancelled'], emails: ['sendOrderReceivedEmail', 'sendCancellationEmail'] },
      { scenario: 'no-stock', final: 'orderRejected', path: ['orderCreated', 'orderRejected'], emails: ['sendOrderReceivedEmail', 'sendCancellationEmail'] },
    ];
    const ids = await Promise.all(cases.map((c, i) => createSaga(instance.url, `customer-${i}`, { order: { id: String(1000 + i), items: [{ sku: 'BOOK-1', qty: 1 }], total: 39.8, scenario: c.scenario } })));
    for (const [i, c] of cases.entries()) {
      const sagaId = ids[i] as string;
      const saga = await waitFor(async () => {
        const s = await getSaga(instance.url, sagaId);
        return s?.isFinal ? s : undefined;
      }, { timeoutMs: 60_000, description: `order ${c.scenario} final` });
      expect(saga.currentState).toBe(c.final);
      expect(saga.history.states.map((s) => s.state)).toEqual(c.path);
      const emails = await waitFor(() => {
        const sent = notifications.requests.filter((r) => r.body.key === sagaId);
        return sent.length === c.emails.length ? sent : undefined;
      }, { timeoutMs: 30_000, description: `notifications of ${c.scenario}` });
      expect(emails.map((r) => r.body.value.messageLabel)).toEqual(c.emails);
      // One notification per command, in the order the saga sent them, each named by its revision.
      const revisions = saga.commands.filter((cmd) => cmd.channel === 'notifications').map((cmd) => `${sagaId}:${cmd.revision}:${cmd.label}`);
      expect(emails.map((r) => r.key)).toEqual(revisions);
      for (const r of emails) {
        expect(r.method).toBe('POST');
        expect(r.path).toBe('/notifications');
        expect(r.headers.authorization).toBe(TOKEN);
        expect(r.body.value.messagePayload).toMatchObject({ order: { id: String(1000 + i), scenario: c.scenario } });
      }
    }

    // The MongoDB projection of the example holds the final documents.
    await waitFor(async () => {
      const docs = await collection.find({ sagaId: { $in: ids } }).toArray();
      return docs.length === ids.length && docs.every((d: SagaDocument) => d.isFinal);
    }, { timeoutMs: 30_000, description: 'orders projected into MongoDB' });
  });
});
