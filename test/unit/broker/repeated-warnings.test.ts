import { describe, expect, it } from 'vitest';
import { RepeatedWarnings } from '../../../src/broker/repeated-warnings.ts';

function harness(windowMs = 1_000) {
  let now = 0;
  const lines: { fields: Record<string, unknown>; msg: string }[] = [];
  const warnings = new RepeatedWarnings((fields, msg) => lines.push({ fields, msg }), windowMs, () => now);
  return { warnings, lines, advance: (ms: number) => (now += ms) };
}

describe('RepeatedWarnings', () => {
  it('logs the first warning of a kind at once and folds repeats within the window into the next line', () => {
    const { warnings, lines, advance } = harness();
    warnings.warn('down', { err: 'all broker connections are down' }, 'retrying');
    for (let i = 0; i < 19; i += 1) {
      advance(50);
      warnings.warn('down', { err: 'all broker connections are down' }, 'retrying');
    }
    expect(lines).toEqual([{ fields: { err: 'all broker connections are down' }, msg: 'retrying' }]);
    advance(100);
    warnings.warn('down', { err: 'all broker connections are down' }, 'retrying');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toEqual({ fields: { err: 'all broker connections are down', repeated: 19 }, msg: 'retrying' });
  });

  it('keeps kinds apart, and a kind that was quiet for a window is logged without a count', () => {
    const { warnings, lines, advance } = harness();
    warnings.warn('a', {}, 'a');
    warnings.warn('b', {}, 'b');
    advance(10);
    warnings.warn('a', {}, 'a');
    expect(lines.map((l) => l.msg)).toEqual(['a', 'b']);
    advance(5_000);
    warnings.warn('b', {}, 'b');
    expect(lines[2]).toEqual({ fields: {}, msg: 'b' });
    advance(1);
    warnings.warn('a', {}, 'a');
    expect(lines[3]).toEqual({ fields: { repeated: 1 }, msg: 'a' });
  });
});
