import { runProject } from '../../projection/run.ts';
import { silenceKnownKafkajsWarnings } from '../../runtime/warnings.ts';
import type { CliCommand } from '../io.ts';

const usage = `Usage: sagaflow project

Runs only the projection of the saga changelog into the saga.json's persistencyManagement
(mongo, crud or rest), until SIGINT/SIGTERM. \`sagaflow start\` runs the same projection
itself unless SAGAFLOW_PROJECTION=false; use this command to run it apart from the
processor. Configuration: CONFIGURATIONS_FILE_PATH and LOG_LEVEL, as for start.`;

export const command: CliCommand = {
  usage,
  async run(_args, io) {
    silenceKnownKafkajsWarnings();
    return runProject(io.env, io.cwd, io.stderr);
  },
};
