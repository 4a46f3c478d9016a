// Local stack of real services for tests, the demo and benchmarks, without a Docker engine:
//   node scripts/stack.ts up [--fresh] | down | status | reset
// See docs/local-stack.md. The implementation lives in scripts/stack/.
import { loadStackConfig, stackPaths } from './stack/config.ts';
import { StackError } from './stack/errors.ts';
import { stackDown, stackReset, stackStatus, stackUp } from './stack/lifecycle.ts';
import { consoleProgress } from './stack/progress.ts';
import { silenceKnownKafkajsWarnings } from '../src/runtime/warnings.ts';

// kafkajs (used by the Kafka readiness probe) arms a timer with a negative delay: noise here.
silenceKnownKafkajsWarnings();

const usage = 'usage: node scripts/stack.ts up [--fresh] | down | status | reset';

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const flags = new Set(rest);
  const unknown = rest.filter((arg) => arg !== '--fresh' || command !== 'up');
  if (unknown.length > 0) throw new StackError('SAGAFLOW_STACK_USAGE', `unknown argument(s): ${unknown.join(' ')}`, usage);

  const config = loadStackConfig();
  const progress = consoleProgress;
  switch (command) {
    case 'up': {
      const env = await stackUp({ config, progress, fresh: flags.has('--fresh') });
      const statuses = await stackStatus({ config });
      console.log('');
      for (const status of statuses) console.log(`${status.name.padEnd(9)} ${status.endpoint.padEnd(58)} ${status.title}`);
      console.log(`logs and data: ${config.stackDir}`);
      console.log('');
      for (const [name, value] of Object.entries(env)) console.log(`${name}=${value}`);
      return 0;
    }
    case 'down':
      await stackDown({ config, progress });
      return 0;
    case 'reset':
      await stackReset({ config, progress });
      return 0;
    case 'status': {
      const statuses = await stackStatus({ config });
      for (const status of statuses) {
        const state = status.answering
          ? status.pid === undefined
            ? 'up (answering, but not started by this stack)'
            : `up (pid ${status.pid})`
          : status.pid === undefined
            ? 'down'
            : `not answering (pid ${status.pid} runs; starting, or see ${stackPaths(config).logs}/${status.name}.log)`;
        console.log(`${status.name.padEnd(9)} ${state.padEnd(18)} ${status.endpoint}`);
      }
      // Like `systemctl is-active`: non-zero when not everything answers, for scripts.
      return statuses.every((status) => status.answering) ? 0 : 3;
    }
    default:
      throw new StackError('SAGAFLOW_STACK_USAGE', command ? `unknown command: ${command}` : 'no command given', usage);
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof StackError) {
    console.error(`${error.code}: ${error.message}\n  what to do: ${error.hint}`);
  } else {
    console.error(error);
  }
  process.exitCode = 1;
}
