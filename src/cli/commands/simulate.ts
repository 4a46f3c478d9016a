import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { compileDefinition } from '../../definition/compile.ts';
import { loadSagaConfigFile } from '../../definition/load.ts';
import { SagaflowError } from '../../errors.ts';
import { parseCommandArgs, usageError } from '../args.ts';
import type { CliCommand } from '../io.ts';
import { randomHex, seededRandom } from '../prng.ts';
import { Simulator } from '../simulator.ts';

/** Start of the simulated clock used with --seed: runs are reproducible byte for byte. */
export const SIMULATION_EPOCH = Date.UTC(2024, 0, 1);

const usage = `Usage: sagaflow simulate <saga.json> [--events <file.jsonl>] [--seed <N>]

Runs events through the saga state machine in memory: no Kafka, no database, no secrets.
Each line stands for what a running instance receives, and goes through the engine's own
ingress and transition code. Reads JSON lines from --events, or from stdin when omitted:
  {"create": {"sagaId"?, "associatedEntityId", "metadata"}}       the record POST /saga produces
  {"sagaId", "messageLabel", "messagePayload"?, "eventId"?}        a record on the events topic
  {"associatedEntityId", "messageLabel", ...}                      ... to that entity's latest saga
  {"key": "<sagaId>", "value": {"messageLabel", "messagePayload"}} a POST /event body
  {"advance": "30s"}                                               move the virtual clock on
Timers (state timeouts, command retries, the saga deadline) run in virtual time: before each
line, every timer due by then fires, soonest first, with a result line of its own.
Prints one JSON line per input line (line, sagaId, event, outcome, deadLetter, state,
commands, reason), then one summary line per saga; a command built by a hook shows its
payload. deadLetter is the code the engine gives a record it sends to the dead-letter topic;
outcome "refused" is a POST /event body the API refuses. Hooks run in their sandbox, with the
line's timestamp as their clock. Exits 1 when an input line cannot be understood.

Options:
  --events <file>  JSONL input (default: stdin)
  --seed <N>       generated sagaIds come from a PRNG seeded with N, and timestamps from a
                   simulated clock starting at ${new Date(SIMULATION_EPOCH).toISOString()}, 1 s per line
  -h, --help       show this help`;

export const command: CliCommand = {
  usage,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs('simulate', args, {
      events: { type: 'string' },
      seed: { type: 'string' },
    });
    const [file, ...extra] = positionals;
    if (file === undefined) throw usageError('simulate', 'missing the saga.json path');
    if (extra.length > 0) throw usageError('simulate', `unexpected argument "${extra[0]}"`);
    let seed: number | undefined;
    if (values.seed !== undefined) {
      seed = Number(values.seed);
      if (!Number.isInteger(seed)) throw usageError('simulate', `--seed must be an integer, got "${values.seed}"`);
    }

    const config = loadSagaConfigFile(resolve(io.cwd, file), io.env, { resolveSecrets: false });
    const definition = await compileDefinition(config);
    const text = values.events === undefined ? await io.readStdin() : readEvents(resolve(io.cwd, values.events));

    const random = seed === undefined ? undefined : seededRandom(seed);
    const simulator = new Simulator(definition, {
      timestampOf: (line) => (seed === undefined ? io.now() : new Date(SIMULATION_EPOCH + (line - 1) * 1000)).toISOString(),
      newSagaId: () => (random === undefined ? io.randomId() : `saga-${randomHex(random, 16)}`),
    });
    let invalid = 0;
    text.split('\n').forEach((line, i) => {
      for (const result of simulator.run(line, i + 1)) {
        if (result.outcome === 'invalid-input') invalid += 1;
        io.stdout(JSON.stringify(result));
      }
    });
    for (const summary of simulator.summaries()) io.stdout(JSON.stringify(summary));
    return invalid > 0 ? 1 : 0;
  },
};

function readEvents(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = typeof error === 'object' && error !== null && 'code' in error ? ` (${String(error.code)})` : '';
    throw new SagaflowError('SAGAFLOW_INPUT_INVALID', { message: `cannot read events file "${path}"${code}` });
  }
}
