import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli.ts';

describe('sagaflow diagram', () => {
  it('prints the tutorial as a Mermaid state diagram', async () => {
    const run = await runCli(['diagram', 'examples/reservation/saga.json']);
    expect(run.code).toBe(0);
    const text = run.stdout.join('\n');
    expect(run.stdout[0]).toBe('stateDiagram-v2');
    for (const line of [
      '    [*] --> reservationCreated',
      '    reservationCreated --> reservationValidated : validationOK',
      '    reservationCreated --> reservationFailed : validationKO',
      '    reservationValidated --> reservationConfirmed : checkOK',
      '    reservationValidated --> reservationFailed : checkKO',
      '    reservationConfirmed --> [*]',
      '    reservationFailed --> [*]',
      '    state "0 - The reservation is in progress" as business_0 {',
      '        command validateReservation via kafkaChannel',
    ]) {
      expect(run.stdout).toContain(line);
    }
    expect(text).toContain('note right of reservationValidated\n        command checkReservation via kafkaChannel\n    end note');
  });

  it('draws every state and transition of the richer examples', async () => {
    for (const [example, states, transitions] of [
      ['order', 8, 8],
      ['car-dealer', 13, 23],
    ] as const) {
      const run = await runCli(['diagram', `examples/${example}/saga.json`]);
      expect(run.code).toBe(0);
      const edges = run.stdout.filter((l) => / --> (?!\[\*\])\S+ : /.test(l));
      expect(edges).toHaveLength(transitions);
      const finals = run.stdout.filter((l) => l.endsWith(' --> [*]'));
      expect(finals.length).toBeGreaterThan(0);
      const declared = run.stdout.filter((l) => /^ {8}state "[^"]+" as \w+$/.test(l));
      expect(declared).toHaveLength(states);
    }
  });

  it('shows side effects and validated transitions', async () => {
    const run = await runCli(['diagram', 'examples/order/saga.json']);
    expect(run.stdout).toContain('        side effect sendOrderReceivedEmail via notifications');
    expect(run.stdout).toContain('    orderCreated --> stockReserved : stockReserved (validated)');
  });
});
