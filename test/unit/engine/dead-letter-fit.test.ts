import { describe, expect, it } from 'vitest';
import { recordBatchBytes } from '../../../src/broker/records.ts';
import { DLQ_HEADERS, fitDeadLetter } from '../../../src/engine/task.ts';
import { recordLimits } from '../../../src/kafka/topics.ts';

const own = { [DLQ_HEADERS.reason]: 'not JSON', [DLQ_HEADERS.code]: 'SAGAFLOW_DECODE_FAILED', [DLQ_HEADERS.offset]: '7' };

describe('fitDeadLetter', () => {
  it('leaves a record that fits as it is', () => {
    const record = { key: Buffer.from('k'), value: Buffer.alloc(100, 'v'), headers: own };
    expect(fitDeadLetter(record, 10_000)).toEqual({ value: record.value, headers: own });
  });

  it('cuts the value to exactly what the limit leaves, and names the original size', () => {
    const record = { key: Buffer.from('k'), value: Buffer.alloc(5_000, 'v'), headers: { ...own, traceparent: 't' } };
    const fitted = fitDeadLetter(record, 2_000);
    expect(fitted.headers[DLQ_HEADERS.truncated]).toBe('5000');
    expect(fitted.headers.traceparent).toBe('t');
    expect(recordBatchBytes({ key: record.key, ...fitted })).toBe(2_000);
    expect(fitted.value?.equals(record.value.subarray(0, fitted.value.length))).toBe(true);
  });

  it('leaves out the copied headers when even an empty value is too large, and says how many', () => {
    const record = { key: Buffer.from('k'), value: Buffer.alloc(10, 'v'), headers: { ...own, huge: Buffer.alloc(3_000), other: 'x' } };
    const fitted = fitDeadLetter(record, 1_000);
    expect(fitted.value?.length).toBe(0);
    expect(Object.keys(fitted.headers).sort()).toEqual([...Object.keys(own), DLQ_HEADERS.truncated, DLQ_HEADERS.headersDropped].sort());
    expect(fitted.headers[DLQ_HEADERS.headersDropped]).toBe('2');
    expect(recordBatchBytes({ key: record.key, ...fitted })).toBeLessThanOrEqual(1_000);
  });
});

describe('recordLimits', () => {
  it('takes the smaller of the topic limit and the producer cap, and leaves out topics with neither', () => {
    const limits = recordLimits(['a', 'b', 'c'], new Map([['a', 3_000_000], ['b', 500_000]]), 1_048_588);
    expect([...limits]).toEqual([['a', 1_048_588], ['b', 500_000], ['c', 1_048_588]]);
    expect([...recordLimits(['a', 'c'], new Map([['a', 3_000_000]]), undefined)]).toEqual([['a', 3_000_000]]);
  });
});
