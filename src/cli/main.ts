import { isSagaflowError } from '../errors.ts';
import { processIo } from './io.ts';
import type { CliCommand, CliIo } from './io.ts';

interface CommandEntry {
  name: string;
  summary: string;
  /** Loaded on use, so `validate` does not pay for the Kafka client that `start` needs. */
  load: () => Promise<{ command: CliCommand }>;
}

/** The subcommands. To add one: a file in ./commands/ exporting `command`, and a line here. */
const COMMANDS: readonly CommandEntry[] = [
  { name: 'validate', summary: 'check a saga.json and summarise it', load: () => import('./commands/validate.ts') },
  { name: 'simulate', summary: 'run events (JSONL) through a saga.json, offline', load: () => import('./commands/simulate.ts') },
  { name: 'diagram', summary: 'print a saga.json as a Mermaid state diagram', load: () => import('./commands/diagram.ts') },
  { name: 'project', summary: 'run only the projection of sagas into persistencyManagement', load: () => import('./commands/project.ts') },
  { name: 'import', summary: 'carry the sagas of a Flow Manager store over into the changelog', load: () => import('./commands/import.ts') },
  { name: 'start', summary: 'run the saga processor and its HTTP API (config from the environment)', load: () => import('./commands/start.ts') },
];

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: sagaflow <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `sagaflow <command> --help` for the options of a command.',
  ].join('\n');
}

/**
 * The `sagaflow` command line. Resolves to the exit code; never throws. Failures are one line
 * on stderr (`sagaflow: ...`), never a stack trace.
 */
export async function main(argv: string[], io: Partial<CliIo> = {}): Promise<number> {
  const cli: CliIo = { ...processIo(), ...io };
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? args[0] : undefined;
    if (topic === undefined) {
      cli.stdout(overview());
      return name === undefined ? 2 : 0;
    }
    return main([topic, '--help'], io);
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (entry === undefined) {
    cli.stderr(`sagaflow: unknown command "${name}"; run \`sagaflow --help\` for the list`);
    return 2;
  }
  try {
    const { command } = await entry.load();
    if (args.includes('--help') || args.includes('-h')) {
      cli.stdout(command.usage);
      return 0;
    }
    return await command.run(args, cli);
  } catch (error) {
    if (isSagaflowError(error)) {
      cli.stderr(`sagaflow ${name}: ${error.message}`);
      return error.code === 'SAGAFLOW_CLI_USAGE' ? 2 : 1;
    }
    cli.stderr(`sagaflow ${name}: unexpected error: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

// `node src/cli/main.ts ...` (the package.json `sagaflow` script) runs the CLI directly;
// bin/sagaflow.js imports this module and calls main itself.
if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
