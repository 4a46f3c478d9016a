import { resolve } from 'node:path';
import { loadSagaConfigFile } from '../../definition/load.ts';
import { renderMermaid } from '../../definition/mermaid.ts';
import { parseCommandArgs, usageError } from '../args.ts';
import type { CliCommand } from '../io.ts';

const usage = `Usage: sagaflow diagram <saga.json>

Prints the state machine as a Mermaid stateDiagram-v2: states, transitions labelled with
their events, commands and side effects as notes, business states as groups, final states
to [*]. Paste it in a Markdown \`\`\`mermaid block or https://mermaid.live.

Options:
  -h, --help  show this help`;

export const command: CliCommand = {
  usage,
  async run(args, io) {
    const { positionals } = parseCommandArgs('diagram', args, {});
    const [file, ...extra] = positionals;
    if (file === undefined) throw usageError('diagram', 'missing the saga.json path');
    if (extra.length > 0) throw usageError('diagram', `unexpected argument "${extra[0]}"`);
    const config = loadSagaConfigFile(resolve(io.cwd, file), io.env, { resolveSecrets: false });
    io.stdout(renderMermaid(config.machineDefinition));
    return 0;
  },
};
