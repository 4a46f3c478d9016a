import { resolve } from 'node:path';
import type { DefinitionIssue } from '../../definition/issues.ts';
import { readSagaConfigFile } from '../../definition/load.ts';
import { startIssues } from '../../definition/startable.ts';
import { engineKafkaEnv } from '../../runtime/env.ts';
import type { SagaConfig } from '../../definition/types.ts';
import { parseCommandArgs, usageError } from '../args.ts';
import type { CliCommand } from '../io.ts';

const usage = `Usage: sagaflow validate <saga.json> [--skip-secrets] [--json]

Checks a saga.json (Flow Manager format) as \`sagaflow start\` does before it connects to
Kafka: the JSON Schema, references between ids (initialState, targetState, channel,
businessStateId, businessEventId), the graph, the payload schemas, secret references
(resolved from the environment and files), every hook (compiled in its sandbox) and the
Kafka topology (events channel, consumerGroup, host:port brokers, command channels; for a
saga.json without kafka channels, KAFKA_BROKERS and SAGAFLOW_APPLICATION_ID).
Prints OK and a summary, or every error with its JSON path; exits 1 when invalid.

Options:
  --skip-secrets  check secret references without resolving them (no env or files needed)
  --json          print the result as one JSON object
  -h, --help      show this help`;

export interface DefinitionSummary {
  states: number;
  finalStates: string[];
  initialState: string;
  transitions: number;
  events: string[];
  /** States' outputCommands. */
  commands: number;
  /** Commands of parallel states' branches, all sent on entry. */
  branchCommands: number;
  sideEffects: number;
  channels: { id: string; type: string }[];
  persistency: string;
}

export function summarise(config: SagaConfig): DefinitionSummary {
  const states = config.machineDefinition.states;
  const events = new Set<string>();
  let transitions = 0;
  let commands = 0;
  let branchCommands = 0;
  let sideEffects = 0;
  for (const label of config.machineDefinition.startOn ?? []) events.add(label);
  for (const state of states) {
    for (const t of state.outgoingTransitions ?? []) {
      transitions += 1;
      events.add(t.inputEvent);
    }
    // A join and a catch-all each move the saga: counted as transitions, their events as events.
    if (state.parallel) {
      transitions += 1;
      branchCommands += state.parallel.branches.length;
      for (const branch of state.parallel.branches) for (const label of branch.done) events.add(label);
    }
    if (state.onUnexpected) transitions += 1;
    if (state.outputCommand) commands += 1;
    sideEffects += state.sideEffects?.length ?? 0;
  }
  const persistency = 'type' in config.persistencyManagement ? String(config.persistencyManagement.type) : 'none';
  return {
    states: states.length,
    finalStates: states.filter((s) => s.isFinal).map((s) => s.id),
    initialState: config.machineDefinition.initialState,
    transitions,
    events: [...events],
    commands,
    branchCommands,
    sideEffects,
    channels: config.communicationProtocols.map((p) => ({ id: p.id, type: p.type })),
    persistency,
  };
}

export const command: CliCommand = {
  usage,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs('validate', args, {
      'skip-secrets': { type: 'boolean' },
      json: { type: 'boolean' },
    });
    const [file, ...extra] = positionals;
    if (file === undefined) throw usageError('validate', 'missing the saga.json path');
    if (extra.length > 0) throw usageError('validate', `unexpected argument "${extra[0]}"`);

    const result = readSagaConfigFile(resolve(io.cwd, file), io.env, { resolveSecrets: values['skip-secrets'] !== true });
    // The same checks, in the same order, as start: a file start refuses is not OK here.
    const errors = result.config ? [...result.errors, ...(await startIssues(result.config, engineKafkaEnv(io.env)))] : result.errors;
    const summary = result.config && errors.length === 0 ? summarise(result.config) : undefined;
    if (values.json === true) {
      io.stdout(JSON.stringify({ file, ok: summary !== undefined, errors, warnings: result.warnings, summary }));
      return summary ? 0 : 1;
    }
    if (summary === undefined) {
      const count = errors.length;
      io.stdout(`INVALID ${file} (${count} error${count === 1 ? '' : 's'}, ${result.warnings.length} warning${result.warnings.length === 1 ? '' : 's'})`);
      printIssues(io.stdout, 'error', errors);
      printIssues(io.stdout, 'warning', result.warnings);
      return 1;
    }
    const channels = summary.channels.map((c) => `${c.id} (${c.type})`).join(', ') || 'none';
    io.stdout(`OK ${file}`);
    io.stdout(`  states:       ${summary.states} (initial ${summary.initialState}; final ${summary.finalStates.join(', ') || 'none'})`);
    io.stdout(`  transitions:  ${summary.transitions} (events: ${summary.events.join(', ') || 'none'})`);
    const branches = summary.branchCommands > 0 ? `+ ${summary.branchCommands} parallel branch command${summary.branchCommands === 1 ? '' : 's'}, ` : '';
    io.stdout(`  commands:     ${summary.commands} (${branches}+ ${summary.sideEffects} side effect${summary.sideEffects === 1 ? '' : 's'})`);
    io.stdout(`  channels:     ${channels}`);
    io.stdout(`  persistency:  ${summary.persistency}`);
    io.stdout(`  warnings:     ${result.warnings.length}`);
    printIssues(io.stdout, 'warning', result.warnings);
    return 0;
  },
};

function printIssues(out: (line: string) => void, kind: 'error' | 'warning', issues: readonly DefinitionIssue[]): void {
  for (const issue of issues) out(`  ${kind}: ${issue.path}: ${issue.message}`);
}
