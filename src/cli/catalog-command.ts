/** `catalog`'s flags, help and options: the config file, the roles to narrow to, and how to print. */
import type { Role } from '../catalog/types.js';
import { CONFIG_FLAGS, type ExporterConfig, flagsFrom, HELP_FLAGS } from '../config/index.js';
import { loadConfigFromFlags } from '../config-load.js';
import { defineCommand, EXIT_HELP } from './command.js';
import { OUTPUT_FLAGS, type OutputFormat, roleFlags } from './common-flags.js';
import { RUN } from './program.js';

export const CATALOG_FLAGS = {
  ...roleFlags('Show only the ports of these roles.'),
  ...CONFIG_FLAGS,
  ...OUTPUT_FLAGS,
  ...HELP_FLAGS,
} as const;

export interface CatalogCommandOptions {
  readonly config: ExporterConfig;
  /** Absent: every role. */
  readonly roles?: readonly Role[];
  readonly output: OutputFormat;
}

export const CATALOG_COMMAND = defineCommand({
  name: 'catalog',
  summary: 'Print the port catalog with the configuration applied.',
  flags: CATALOG_FLAGS,
  help: {
    synopsis: ['catalog [--roles=ROLES] [--config.file=FILE] [--output=FORMAT]'],
    description:
      "The iManager port catalog after the config file's changes (moved, optional, disabled and custom ports): port, id, component, scope, roles, whether required, the Kubernetes versions, and what it is for. The table fits the terminal's width.",
    examples: [
      { command: `${RUN} catalog`, note: 'every port' },
      { command: `${RUN} catalog --roles=worker`, note: "a worker node's ports" },
      {
        command: `${RUN} catalog --config.file=nodes.yml --output=json`,
        note: 'with your overrides, for a script',
      },
    ],
    exitCodes: [[0, 'printed'], EXIT_HELP.badInput],
    environment: [],
  },
  async options({ values, given }, io): Promise<CatalogCommandOptions> {
    const roles = values.roles ?? values.role;
    return {
      config: await loadConfigFromFlags(flagsFrom(values, given), { env: io.env }),
      ...(roles !== undefined && { roles }),
      output: values.output,
    };
  },
  async run(options, io) {
    const { runCatalog } = await import('./catalog.js');
    return runCatalog(options, io);
  },
});
