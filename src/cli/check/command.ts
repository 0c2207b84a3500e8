/**
 * `check`'s flags, help and options: the probe, vantage and discovery groups the
 * exporter has, the output and colour groups of the commands, and its own
 * `--failures-only`. The run itself (run.ts) is loaded only when check runs.
 */
import {
  CONFIG_FLAGS,
  DISCOVERY_FLAGS,
  type ExporterConfig,
  flagsFrom,
  HELP_FLAGS,
  LOG_FLAGS,
  PROBE_FLAGS,
  switchFlag,
  VANTAGE_FLAGS,
} from '../../config/index.js';
import { loadConfigFromFlags } from '../../config-load.js';
import { defineCommand, EXIT_HELP } from '../command.js';
import { COLOR_FLAGS, type ColorMode, OUTPUT_FLAGS, type OutputFormat } from '../common-flags.js';
import { checkKubeconfigEnv } from '../environment.js';
import { RUN } from '../program.js';

export const CHECK_FLAGS = {
  ...CONFIG_FLAGS,
  ...OUTPUT_FLAGS,
  'failures-only': switchFlag({
    help: 'Print only the ports not as expected (and the summary), not every port.',
  }),
  ...COLOR_FLAGS,
  ...VANTAGE_FLAGS,
  ...DISCOVERY_FLAGS,
  ...PROBE_FLAGS,
  ...LOG_FLAGS,
  ...HELP_FLAGS,
} as const;

/** Everything check reads: the config its flags and file make, and how to print. */
export interface CheckCommandOptions {
  readonly config: ExporterConfig;
  readonly output: OutputFormat;
  /** `--failures-only`: the table lists only what is not as expected. */
  readonly failuresOnly: boolean;
  readonly color: ColorMode;
}

export const CHECK_COMMAND = defineCommand({
  name: 'check',
  summary: 'Probe every target once, print the results, and fail if a required port is closed.',
  flags: CHECK_FLAGS,
  help: {
    synopsis: ['check [--config.file=FILE] [--output=FORMAT] [--failures-only] [FLAGS]'],
    description:
      "One pass over every port the exporter would probe, with the same config, discovery and vantage, then a report: what failed, grouped by node and cause, then a table per node. A spinner and a progress bar on a terminal's stderr; stdout holds only the report.",
    examples: [
      { command: `${RUN} check --config.file=nodes.yml`, note: 'the static nodes of a file' },
      {
        command: `${RUN} check --kubeconfig=$HOME/.kube/config --failures-only`,
        note: 'a cluster, only what is wrong',
      },
      {
        command: `${RUN} check --config.file=nodes.yml --output=json > check.json`,
        note: 'for a script: one JSON document',
      },
    ],
    exitCodes: [EXIT_HELP.ok, EXIT_HELP.failed, EXIT_HELP.badInput],
    environment: [
      ['KUBECONFIG', 'kubeconfig files (colon-separated) when --kubeconfig is not given'],
      ['NODE_NAME', 'the node probed from, with --vantage=node'],
      ['NO_COLOR, FORCE_COLOR, TERM', 'colour with --color=auto'],
    ],
  },
  async options(parsed, io): Promise<CheckCommandOptions> {
    const { values, given } = parsed;
    checkKubeconfigEnv(values.discovery, values.kubeconfig, io.env);
    const config = await loadConfigFromFlags(flagsFrom(values, given), { env: io.env });
    return {
      config,
      output: values.output,
      failuresOnly: values['failures-only'],
      color: values.color,
    };
  },
  async run(options, io) {
    const { runCheck } = await import('./run.js');
    return runCheck(options, io);
  },
});
