import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { murmur2, partitionForKey } from '../../../src/broker/murmur2.ts';
import { seededRandom } from '../../../src/cli/prng.ts';

describe('partitionForKey', () => {
  it('is stable and in range', () => {
    for (const key of ['a', 'saga-1', 'flow-service-0b7c', '']) {
      const p = partitionForKey(key, 12);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(12);
      expect(partitionForKey(key, 12)).toBe(p);
    }
  });

  it('matches the Java client murmur2 partitioner', () => {
    // Hash values from Apache Kafka's UtilsTest.testMurmur2; partition = toPositive(hash) % n.
    const vectors: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['abc', 479470107],
    ];
    for (const [key, hash] of vectors) {
      for (const n of [7, 12]) expect(partitionForKey(key, n)).toBe((hash & 0x7fffffff) % n);
    }
  });
});

describe('murmur2', () => {
  // kafkajs' DefaultPartitioner is a port of the Java one: the same partition for every key,
  // including keys whose UTF-8 length is not a multiple of 4 and characters beyond ASCII.
  it('routes random keys as the Java-compatible partitioner of kafkajs does', () => {
    const kafkajs = Partitioners.DefaultPartitioner();
    const random = seededRandom(7);
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789-_éü€😀';
    for (let i = 0; i < 2_000; i++) {
      const length = Math.floor(random() * 40);
      const key = Array.from({ length }, () => [...alphabet][Math.floor(random() * [...alphabet].length)]).join('');
      for (const n of [1, 6, 12, 64]) {
        const partitionMetadata = Array.from({ length: n }, (_, partitionId) => ({ partitionErrorCode: 0, partitionId, leader: 0, replicas: [0], isr: [0], offlineReplicas: [] }));
        expect(partitionForKey(key, n), key).toBe(kafkajs({ topic: 't', partitionMetadata, message: { key, value: null } }));
      }
    }
  });

  it('hashes bytes, so a string and its UTF-8 bytes agree', () => {
    expect(murmur2(Buffer.from('saga-1'))).toBe(murmur2(new TextEncoder().encode('saga-1')));
    expect(partitionForKey(Buffer.from('saga-1'), 12)).toBe(partitionForKey('saga-1', 12));
  });
});
