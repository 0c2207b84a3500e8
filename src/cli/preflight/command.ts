/**
 * `preflight`'s flags, help and options. It reads the config file for moved ports and
 * the Kubernetes version, and its own flags: the node's roles, and how long to hold
 * the free ports for a check from the other nodes.
 */

import type { Role } from '../../catalog/types.js';
import {
  CONFIG_FLAGS,
  ConfigError,
  duration,
  type ExporterConfig,
  flagsFrom,
  HELP_FLAGS,
  LOG_FLAGS,
  valueFlag,
} from '../../config/index.js';
import { loadConfigFromFlags } from '../../config-load.js';
import { defineCommand, EXIT_HELP } from '../command.js';
import {
  COLOR_FLAGS,
  type ColorMode,
  OUTPUT_FLAGS,
  type OutputFormat,
  roleFlags,
} from '../common-flags.js';
import { RUN } from '../program.js';

/** `--expect-from`: the peers a check will come from, names or addresses. */
function peerList(text: string): string[] {
  return [
    ...new Set(
      text
        .split(',')
        .map((peer) => peer.trim())
        .filter((peer) => peer !== ''),
    ),
  ];
}

export const PREFLIGHT_FLAGS = {
  ...roleFlags("This node's roles: the ports tested and held."),
  listen: valueFlag({
    placeholder: 'DURATION',
    help: 'Then hold the free ports open this long, so check from another node can test the path; each connection is printed as it arrives.',
    parse: duration,
  }),
  'expect-from': valueFlag({
    placeholder: 'PEERS',
    help: 'With --listen: the addresses checks will come from (comma-separated); exit 1 when a required port received nothing.',
    parse: peerList,
  }),
  ...CONFIG_FLAGS,
  ...OUTPUT_FLAGS,
  ...COLOR_FLAGS,
  ...LOG_FLAGS,
  ...HELP_FLAGS,
} as const;

export interface PreflightCommandOptions {
  readonly config: ExporterConfig;
  readonly roles: readonly Role[];
  /** `--listen`: how long the free ports are held; absent: not held. */
  readonly listenMs?: number;
  /** `--expect-from`: who should connect while held. */
  readonly expectFrom: readonly string[];
  readonly output: OutputFormat;
  readonly color: ColorMode;
}

export const PREFLIGHT_COMMAND = defineCommand({
  name: 'preflight',
  summary: "Before installing iManager: are this node's ports free and open to its peers?",
  flags: PREFLIGHT_FLAGS,
  required: { roles: "this node's roles, such as --roles=control-plane,etcd" },
  help: {
    synopsis: [
      'preflight --roles=ROLES [--config.file=FILE] [--output=FORMAT]',
      'preflight --roles=ROLES --listen=DURATION [--expect-from=PEERS]',
    ],
    description:
      "On a node before iManager is installed: is each catalog port of the node's roles free to bind, and who holds the ones that are not (name and pid need root). With --listen it then holds the free ports, prints each connection as it comes, and ends with who reached which port and which were never reached. It also reads the local firewall (nftables, iptables, firewalld) for rules that would drop a held port.",
    examples: [
      { command: `${RUN} preflight --roles=control-plane,etcd`, note: 'are the ports free?' },
      {
        command: `${RUN} preflight --roles=worker --listen=10m --expect-from=198.18.0.2`,
        note: 'hold them while the other node runs check against this one',
      },
      {
        command: `${RUN} preflight --roles=all --output=json`,
        note: 'every role, for a script',
      },
    ],
    exitCodes: [
      [0, 'every required port is free (and, with --expect-from, reached)'],
      [
        1,
        'a required port is in use, could not be held, or was never reached while peers were expected',
      ],
      EXIT_HELP.badInput,
    ],
    environment: [['NO_COLOR, FORCE_COLOR, TERM', 'colour with --color=auto']],
  },
  async options(parsed, io): Promise<PreflightCommandOptions> {
    const { values, given } = parsed;
    const roles = values.roles ?? values.role ?? [];
    if (values['expect-from'] !== undefined && values.listen === undefined) {
      throw new ConfigError('FLAG_INVALID', '--expect-from: only with --listen, got no --listen');
    }
    const config = await loadConfigFromFlags(flagsFrom(values, given), { env: io.env });
    return {
      config,
      roles,
      ...(values.listen !== undefined && { listenMs: values.listen }),
      expectFrom: values['expect-from'] ?? [],
      output: values.output,
      color: values.color,
    };
  },
  async run(options, io) {
    const { runPreflight } = await import('./run.js');
    return runPreflight(options, io);
  },
});
