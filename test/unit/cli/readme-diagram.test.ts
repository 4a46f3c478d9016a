import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderMermaid } from '../../../src/definition/mermaid.ts';
import type { MachineDefinition } from '../../../src/definition/types.ts';

describe('README diagram', () => {
  it('is the current `sagaflow diagram` output for the reservation example', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const block = /```mermaid\n([\s\S]*?)\n```/.exec(readme)?.[1];
    const saga = JSON.parse(readFileSync(new URL('../../../examples/reservation/saga.json', import.meta.url), 'utf8')) as {
      machineDefinition: MachineDefinition;
    };
    expect(block).toBe(renderMermaid(saga.machineDefinition));
  });
});
