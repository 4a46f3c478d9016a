import { writeSync } from 'node:fs';
import { runStart } from '../../../../src/runtime/run.ts';
import { ZOMBIE_LOG } from './zombie.ts';

/**
 * `sagaflow start` with one fault: after SIGUSR2, the next transaction that holds work stops
 * the whole process (SIGSTOP to itself) between sending its records and offsets and
 * committing, so the instance is paused with a transaction open and records in flight. The
 * test resumes it with SIGCONT. The lines it writes go to the instance's log, in its format.
 */
let armed = false;
process.on('SIGUSR2', () => {
  armed = true;
});

const line = (msg: string, extra: Record<string, unknown>) => writeSync(1, `${JSON.stringify({ level: 40, time: Date.now(), msg, ...extra })}\n`);

process.exitCode = await runStart(process.env, process.cwd(), (l) => process.stderr.write(`${l}\n`), {
  beforeCommit: (partitions) => {
    if (!armed || partitions.length === 0) return;
    armed = false;
    line(ZOMBIE_LOG.stopping, { partitions });
    process.kill(process.pid, 'SIGSTOP');
    line(ZOMBIE_LOG.continued, { partitions });
  },
});
