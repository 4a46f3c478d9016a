import { describe, expect, it } from 'vitest';
import { IssueList, formatPath, quoteList } from '../../../src/definition/issues.ts';

describe('formatPath', () => {
  it('writes paths as a JavaScript reader would', () => {
    expect(formatPath([])).toBe('(root)');
    expect(formatPath(['machineDefinition', 'states', 2, 'outgoingTransitions', 0, 'targetState'])).toBe(
      'machineDefinition.states[2].outgoingTransitions[0].targetState',
    );
    expect(formatPath(['headers', 'x-api-key'])).toBe('headers["x-api-key"]');
    expect(formatPath(['headers', '0'])).toBe('headers["0"]');
  });
});

describe('IssueList and quoteList', () => {
  it('collects errors and warnings with formatted paths', () => {
    const issues = new IssueList();
    issues.error(['a', 0], 'bad');
    issues.warn(['b'], 'odd');
    expect(issues.errors).toEqual([{ path: 'a[0]', message: 'bad' }]);
    expect(issues.warnings).toEqual([{ path: 'b', message: 'odd' }]);
  });

  it('quotes and cuts long lists', () => {
    expect(quoteList([])).toBe('(none)');
    expect(quoteList(['a', 1])).toBe('"a", 1');
    expect(quoteList([1, 2, 3], 2)).toBe('1, 2, ... (1 more)');
  });
});
