import { describe, expect, it } from 'vitest';
import { outboxMarkdown, type OutboxResult } from '../../../benchmarks/outbox.ts';
import { suiteMarkdown } from '../../../benchmarks/suite.ts';

const result: OutboxResult = {
  system: 'outbox-dispatcher',
  client: 'librdkafka',
  startedAt: '2026-01-01T00:00:00Z',
  records: 20_000,
  sagas: 10_000,
  partitions: 12,
  concurrency: 32,
  serverDelayMs: 0,
  seconds: 6.25,
  deliveriesPerSecond: 3_200,
  steadyDeliveriesPerSecond: 3_400,
  requests: 20_000,
  delivered: 20_000,
  failures: 0,
  meanRequestMs: 4.5,
  cpuMicrosPerDelivery: 290,
  serverCpuMicrosPerDelivery: 60,
  committed: true,
  timeline: [],
};

describe('outbox benchmark report', () => {
  it('gives the rates, the costs and whether everything was delivered and committed', () => {
    const md = outboxMarkdown(result).join('\n');
    expect(md).toContain('| librdkafka | 20,000 | 10,000 | 12 | 32 | 3,200 | 3,400 | 4.50 | 290 | 60 | 0 | yes |');
    expect(outboxMarkdown({ ...result, delivered: 19_999 }).join('\n')).toContain('| NO |');
    expect(outboxMarkdown({ ...result, error: 'broker gone' })).toContain('failed: broker gone');
  });

  it('is a section of the suite report when the step ran', () => {
    const meta = { command: 'c', workload: 'w', live: 1, latency: 'l', charts: { throughput: 't', scaling: 's', latency: 'l', memory: 'm' }, recordedAt: '2026-01-01T00:00:00Z', otherLoad: 'o' };
    expect(suiteMarkdown({ throughput: [], scaling: [], latency: [], outbox: result }, meta)).toContain('## Outbox: commands delivered over REST to a local HTTP server');
    expect(suiteMarkdown({ throughput: [], scaling: [], latency: [] }, meta)).not.toContain('## Outbox');
  });

  it('has no section for a step left out with --skip (scaling, latency, memory)', () => {
    const meta = { command: 'c', workload: 'w', live: 1, latency: 'l', charts: { throughput: 't', scaling: 's', latency: 'l', memory: 'm' }, recordedAt: '2026-01-01T00:00:00Z', otherLoad: 'o' };
    const md = suiteMarkdown({ throughput: [], scaling: [], latency: [] }, meta);
    for (const heading of ['## Scaling', '## Per-transition latency', '## Memory']) expect(md).not.toContain(heading);
    expect(md).toContain('## Throughput');
    expect(suiteMarkdown({ throughput: [], scaling: [], latency: [], memory: { error: 'boom' } as never }, meta)).toContain('## Memory');
  });
});
