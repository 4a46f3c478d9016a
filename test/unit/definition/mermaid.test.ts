import { describe, expect, it } from 'vitest';
import { renderMermaid } from '../../../src/definition/mermaid.ts';
import type { MachineDefinition } from '../../../src/definition/types.ts';
import { push, set, validConfig } from './fixtures.ts';

describe('renderMermaid', () => {
  it('draws the choreography: startOn on the initial arrow, routed transitions with their when, the onUnexpected edge', () => {
    const machine = validConfig((r) => {
      set(r, 'machineDefinition.startOn', ['orderPlaced', 'cartCheckedOut']);
      set(r, 'machineDefinition.states[0].outgoingTransitions[0].when', { title: 'amount over 1000', type: 'object' });
      set(r, 'machineDefinition.states[0].outgoingTransitions[1].inputEvent', 'workDone');
      set(r, 'machineDefinition.states[0].outgoingTransitions[1].when', { type: 'object' });
      set(r, 'machineDefinition.states[0].onUnexpected', { targetState: 'failed' });
    }).machineDefinition;
    const lines = renderMermaid(machine).split('\n');
    expect(lines).toContain('    [*] --> created : starts on orderPlaced or cartCheckedOut');
    expect(lines).toContain('    created --> done : workDone [when amount over 1000]');
    expect(lines).toContain('    created --> failed : workDone [when]');
    expect(lines).toContain('    created --> failed : any unexpected event');
  });

  it('renders business groups, transitions, the start, final states and commands as notes', () => {
    const machine = validConfig((r) => set(r, 'machineDefinition.states[0].outgoingTransitions[0].payloadValidationSchema', { type: 'object' })).machineDefinition;
    expect(renderMermaid(machine)).toBe(
      [
        'stateDiagram-v2',
        '    state "0 - in progress" as business_0 {',
        '        state "created - start" as created',
        '    }',
        '    state "1 - ok" as business_1 {',
        '        done',
        '    }',
        '    state "2 - ko" as business_2 {',
        '        failed',
        '    }',
        '    [*] --> created',
        '    created --> done : workDone (validated)',
        '    created --> failed : workFailed',
        '    done --> [*]',
        '    failed --> [*]',
        '    note right of created',
        '        command doWork via bus',
        '        side effect audit via hook',
        '    end note',
      ].join('\n'),
    );
  });

  it('aliases ids Mermaid cannot take and escapes its special characters', () => {
    const machine: MachineDefinition = {
      initialState: 'order-placed',
      states: [
        { id: 'order-placed', description: 'step: one; "quoted" {x} #1', isFinal: false, outgoingTransitions: [{ inputEvent: 'go:now', targetState: 'state' }] },
        { id: 'state', isFinal: true },
      ],
    };
    const text = renderMermaid(machine);
    expect(text).toContain(`    state "order-placed - step: one; 'quoted' {x} #1" as s_0`);
    expect(text).toContain('    state "state" as s_1');
    expect(text).toContain('    [*] --> s_0');
    expect(text).toContain('    s_0 --> s_1 : go#58;now');
    expect(text).toContain('    s_1 --> [*]');
  });

  it('keeps states without a business state at the top level', () => {
    const machine = validConfig((r) => push(r, 'machineDefinition.states', { id: 'loose', isFinal: true })).machineDefinition;
    const lines = renderMermaid(machine).split('\n');
    expect(lines).toContain('    loose');
    expect(lines).toContain('    loose --> [*]');
  });
});
