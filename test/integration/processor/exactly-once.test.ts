import { describe, expect, it } from 'vitest';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { waitFor } from '../../support/wait.ts';
import { readTopic, reservationConfig, startTestInstance, uniqueFlow } from '../../support/sagaflow.ts';

describe('exactly-once under a forced abort', () => {
  it('commands of an aborted transaction stay invisible to read_committed consumers', async () => {
    const flow = uniqueFlow('eos');
    const config = reservationConfig(flow);
    let failuresLeft = 2;
    const instance = await startTestInstance(config, {
      partitions: 1,
      // The first two transactions fail after their records were sent, right before commit.
      beforeCommit: async () => {
        if (failuresLeft > 0) {
          failuresLeft -= 1;
          // librdkafka queues the records and sends them after its linger; an abort purges
          // what is still queued. Give them time to reach the broker, so the aborted
          // transaction really has records a read_committed consumer must not see.
          await new Promise((resolve) => setTimeout(resolve, 500));
          throw new Error('injected failure before commit');
        }
      },
    });
    await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });

    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${instance.url}/saga`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ associatedEntityId: `e${i}`, metadata: { i } }),
      });
      ids.push(((await res.json()) as { sagaId: string }).sagaId);
    }
    for (const id of ids) {
      await waitFor(async () => {
        const r = await fetch(`${instance.url}/saga/${id}`);
        return r.status === 200 ? ((await r.json()) as SagaDocument) : undefined;
      }, { timeoutMs: 60_000 });
    }
    expect(failuresLeft).toBe(0);

    const committed = await readTopic(flow.commands, { until: (r) => r.length >= ids.length, timeoutMs: 20_000 });
    // Give a straggler duplicate time to show up before asserting there is none.
    const settled = await readTopic(flow.commands, { until: (r) => r.length > ids.length, timeoutMs: 3_000 });
    const uncommitted = await readTopic(flow.commands, { readUncommitted: true, until: (r) => r.length > ids.length, timeoutMs: 20_000 });

    expect(committed.map((r) => r.key).sort()).toEqual([...ids].sort());
    expect(settled).toHaveLength(ids.length);
    // The aborted attempts really wrote records: a read_uncommitted reader sees them.
    expect(uncommitted.length).toBeGreaterThan(ids.length);
    expect(instance.processor.metrics.recoveries).toBeGreaterThanOrEqual(2);
  });
});
