import { describe, expect, it } from 'vitest';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { createTopic, kafkaClient, testBrokerClient } from '../../support/kafka.ts';
import { mongoCollection } from '../../support/mongo.ts';
import { uniqueName } from '../../support/names.ts';
import { readTopic } from '../../support/sagaflow.ts';
import { sagaDoc } from '../../unit/projection/fixtures.ts';
import { jsonCodec, mongoSink, produceChangelog, storedSagas, testProjector, waitCaughtUp } from './support.ts';

// An aborted transaction that rewrites the same bytes proves nothing: here it holds a revision
// and a saga that exist nowhere else, so a projector that read uncommitted records would keep them.
describe.each(['librdkafka', 'kafkajs'] as const)('the projection reads committed changelog records only (%s)', (client) => {
  it('a revision and a saga written in an aborted transaction never reach MongoDB; a commit after them does', { timeout: 90_000 }, async () => {
    const codec = await jsonCodec();
    const topic = await createTopic({ prefix: 'projection-aborted', partitions: 1, config: { 'cleanup.policy': 'compact' } });
    const collection = await mongoCollection<SagaDocument>('sagas');
    const live = testProjector({ changelogTopic: topic, codec, sink: await mongoSink(collection), client: testBrokerClient(client) });
    await live.start();
    const committed = sagaDoc({ sagaId: 'kept', revision: 1, currentState: 'reservationCreated' });
    await produceChangelog(topic, codec, [committed]);
    await waitCaughtUp(live);

    const producer = kafkaClient().producer({ transactionalId: uniqueName('aborted-tx'), idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    registerCleanup(() => producer.disconnect());
    const txn = await producer.transaction();
    const neverCommitted = sagaDoc({ sagaId: 'kept', revision: 2, currentState: 'reservationConfirmed', isFinal: true });
    const phantom = sagaDoc({ sagaId: 'phantom', revision: 1 });
    await txn.send({ topic, messages: await Promise.all([neverCommitted, phantom].map(async (s) => ({ key: s.sagaId, value: await codec.encodeSaga(topic, s) }))) });
    // The records sit on the broker, readable uncommitted, while the projector polls.
    const uncommitted = await readTopic(topic, { readUncommitted: true, until: (r) => r.some((x) => x.key === 'phantom'), timeoutMs: 20_000 });
    expect(uncommitted.map((r) => r.key)).toEqual(['kept', 'kept', 'phantom']);
    await txn.abort();
    const after = sagaDoc({ sagaId: 'after', revision: 1 });
    await produceChangelog(topic, codec, [after]);
    await waitCaughtUp(live);

    const expected = new Map([['kept', committed], ['after', after]]);
    expect(await storedSagas(collection)).toEqual(expected);
    expect(live.status().recordsRead).toBe(2);
    // A projector reading the whole changelog from its start skips the aborted records too.
    const replay = testProjector({ changelogTopic: topic, codec, sink: await mongoSink(collection), client: testBrokerClient(client) });
    await replay.start();
    await waitCaughtUp(replay);
    expect(replay.status().recordsRead).toBe(2);
    expect(await storedSagas(collection)).toEqual(expected);
  });
});
