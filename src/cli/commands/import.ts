import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import pino from 'pino';
import { loadSagaConfigFile } from '../../definition/load.ts';
import { SagaflowError, isSagaflowError } from '../../errors.ts';
import { importFlowManagerSagas } from '../../migration/import.ts';
import type { ImportSummary } from '../../migration/import.ts';
import { readRuntimeEnv } from '../../runtime/env.ts';
import { describe } from '../../runtime/run.ts';
import { silenceKnownKafkajsWarnings } from '../../runtime/warnings.ts';
import { parseCommandArgs, usageError } from '../args.ts';
import type { CliCommand, CliIo } from '../io.ts';
import { progressBar } from '../progress.ts';

const usage = `Usage: sagaflow import [--ids <file>] [--dry-run] [--json]

Carries the sagas of a Flow Manager store over to sagaflow: reads them from the saga.json's
persistencyManagement (the mongo collection, the CRUD service's collection or, with --ids,
the REST persistency) and writes each into the application's changelog topic on its home
partition (murmur2 of the sagaId), so that the next \`sagaflow start\` restores them and goes
on with the events the services send. Topics are created as start creates them.

Idempotent: a saga the changelog already holds is never overwritten once sagaflow changed
it; an earlier import sagaflow has not touched is rewritten only when Flow Manager's copy
has more history since. Running the same import twice writes nothing the second time.
Refuses to run while the application is running (its consumer group has members): stop
every instance first, and Flow Manager too, so the store stops changing.

Configuration as for start: CONFIGURATIONS_FILE_PATH (the saga.json), SAGAFLOW_KAFKA_CLIENT,
SAGAFLOW_DEFAULT_PARTITIONS, SAGAFLOW_REPLICATION_FACTOR, LOG_LEVEL (default warn here).

Options:
  --ids <file>  only these sagaIds, one per line ("-" reads stdin); required for a rest
                persistency, which has no route that lists sagas
  --dry-run     read and decide, print the summary, write nothing and create no topic
  --json        print the summary as one JSON object
  -h, --help    show this help

Exit codes: 0 done (refused sagas are listed, and exit 1 only if every saga was refused),
1 failure (nothing more is written; run again once fixed), 2 usage.`;

function readIds(file: string, io: CliIo): Promise<string> {
  if (file === '-') return io.readStdin();
  try {
    return Promise.resolve(readFileSync(resolve(io.cwd, file), 'utf8'));
  } catch (err) {
    throw new SagaflowError('SAGAFLOW_CLI_USAGE', { message: `--ids: cannot read "${file}": ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
  }
}

function printSummary(s: ImportSummary, io: CliIo): void {
  const verb = s.dryRun ? 'would write' : 'wrote';
  io.stdout(`${s.dryRun ? 'Dry run: ' : ''}read ${s.read} sagas from the ${s.source} store; ${verb} ${s.imported + s.updated} into ${s.changelogTopic} (${s.partitions} partitions)`);
  io.stdout(`  imported   ${s.imported}`);
  io.stdout(`  updated    ${s.updated}   (earlier imports, Flow Manager's copy newer)`);
  io.stdout(`  unchanged  ${s.unchanged}   (already in the changelog as the store has them)`);
  io.stdout(`  kept       ${s.kept}   (changed by sagaflow since: not overwritten)`);
  io.stdout(`  refused    ${s.refused.length}`);
  for (const r of s.refused) io.stdout(`    ${r.sagaId ?? '(no sagaId)'}: ${r.reason}`);
  if (s.missing.length > 0) {
    io.stdout(`  not found  ${s.missing.length}`);
    for (const id of s.missing) io.stdout(`    ${id}`);
  }
}

export const command: CliCommand = {
  usage,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs('import', args, {
      ids: { type: 'string' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
    });
    if (positionals.length > 0) throw usageError('import', `unexpected argument "${positionals[0]}"`);
    silenceKnownKafkajsWarnings();
    let ids: string[] | undefined;
    if (values.ids !== undefined) {
      ids = [...new Set((await readIds(values.ids, io)).split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== ''))];
      if (ids.length === 0) throw usageError('import', `--ids: "${values.ids}" lists no sagaId`);
    }
    let env;
    let config;
    try {
      env = readRuntimeEnv(io.env, io.cwd);
      config = loadSagaConfigFile(env.configurationsFilePath, io.env);
    } catch (err) {
      for (const line of describe(err)) io.stderr(line);
      return 1;
    }
    const logger = pino({ level: io.env.LOG_LEVEL ? env.logLevel : 'warn', base: { service: 'sagaflow-import' } }, pino.destination(2));
    const bar = progressBar(io, values['dry-run'] === true ? 'reading' : 'importing');
    const outcome = await importFlowManagerSagas({
        config,
        env,
        logger,
        now: io.now,
        progress: (done, total) => bar.update(done, total),
        ...(ids ? { ids } : {}),
        ...(values['dry-run'] === true ? { dryRun: true } : {}),
      }).then(
        (s) => ({ ok: true as const, s }),
        (err: unknown) => ({ ok: false as const, err }),
      );
    bar.finish();
    if (!outcome.ok) {
      const lines = isSagaflowError(outcome.err) ? describe(outcome.err) : [`SAGAFLOW_INTERNAL_ERROR: ${(outcome.err as Error)?.message ?? String(outcome.err)}`];
      for (const line of lines) io.stderr(line);
      return 1;
    }
    const summary: ImportSummary = outcome.s;
    if (values.json === true) io.stdout(JSON.stringify(summary));
    else printSummary(summary, io);
    const refusedAll = summary.read > 0 && summary.refused.length + summary.missing.length === summary.read;
    return refusedAll ? 1 : 0;
  },
};
