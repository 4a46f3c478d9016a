import { describe, expect, it } from 'vitest';
import { progressBar } from '../../../src/cli/progress.ts';

function capture(tty: boolean) {
  const raw: string[] = [];
  const lines: string[] = [];
  return { raw, lines, io: { stderrTTY: tty, stderrWrite: (t: string) => void raw.push(t), stderr: (l: string) => void lines.push(l) } };
}

describe('progressBar', () => {
  it('on a terminal redraws one line, at most every 100 ms, always at the end', () => {
    const c = capture(true);
    let t = 0;
    const bar = progressBar(c.io, 'importing', () => t);
    bar.update(1, 4);
    t = 50;
    bar.update(2, 4);
    t = 200;
    bar.update(3, 4);
    t = 210;
    bar.update(4, 4);
    bar.finish();
    expect(c.raw).toEqual([
      '\r\x1b[2Kimporting [########----------------------] 1/4 25%',
      '\r\x1b[2Kimporting [#######################-------] 3/4 75%',
      '\r\x1b[2Kimporting [##############################] 4/4 100%',
      '\n',
    ]);
    expect(c.lines).toEqual([]);
  });

  it('elsewhere prints a line per tenth (per 1000 without a total), nothing to end', () => {
    const c = capture(false);
    const bar = progressBar(c.io, 'importing');
    for (let i = 1; i <= 20; i += 1) bar.update(i, 20);
    bar.finish();
    expect(c.lines).toHaveLength(11);
    expect(c.lines[0]).toBe('importing [##----------------------------] 1/20 5%');
    expect(c.lines.at(-1)).toBe('importing [##############################] 20/20 100%');
    const open = capture(false);
    const unknown = progressBar(open.io, 'reading');
    for (let i = 1; i <= 2500; i += 1) unknown.update(i, undefined);
    expect(open.lines).toEqual(['reading 1', 'reading 1000', 'reading 2000']);
    expect(open.raw).toEqual([]);
  });
});
