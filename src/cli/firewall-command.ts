/**
 * `firewall`'s flags, help and options: the roles (or one script per node), the
 * firewall, the source networks of each family, and the Kubernetes version.
 */
import type { Role } from '../catalog/types.js';
import {
  BadValue,
  CONFIG_FLAGS,
  ConfigError,
  DISCOVERY_FLAGS,
  type ExporterConfig,
  filePath,
  flagsFrom,
  HELP_FLAGS,
  LOG_FLAGS,
  oneOf,
  switchFlag,
  valueFlag,
} from '../config/index.js';
import { loadConfigFromFlags } from '../config-load.js';
import { defineCommand, EXIT_HELP } from './command.js';
import { cidrList, roleFlags } from './common-flags.js';
import { checkKubeconfigEnv } from './environment.js';
import { RUN } from './program.js';

/** The firewalls whose commands `firewall` writes. */
export const FIREWALL_FORMATS = ['firewalld', 'iptables', 'nftables', 'ufw'] as const;
export type FirewallFormat = (typeof FIREWALL_FORMATS)[number];

/** `1.28` or `v1.28.3`, as kubectl version prints it. */
function kubernetesVersion(text: string): string {
  const match = /^v?(\d+)\.(\d+)(?:\.\d+)?$/.exec(text);
  if (!match) throw new BadValue('a Kubernetes version such as 1.28');
  return `${Number(match[1])}.${Number(match[2])}`;
}

export const FIREWALL_FLAGS = {
  ...roleFlags("The node's roles: the ports opened."),
  format: valueFlag({
    placeholder: 'FIREWALL',
    help: `Whose commands to print: ${FIREWALL_FORMATS.join(', ')}.`,
    parse: oneOf<FirewallFormat>(FIREWALL_FORMATS),
  }),
  source: valueFlag({
    placeholder: 'CIDRS',
    help: "Open the internal ports only to these networks (the nodes' subnets, comma-separated, IPv4 and IPv6 each to its own family); external ports stay open to all.",
    parse: cidrList,
  }),
  'kubernetes-version': valueFlag({
    placeholder: 'VERSION',
    help: "The cluster's Kubernetes version: ports of other versions are left out. Default: the config file's kubernetesVersion; unknown, version-bound ports are left out too.",
    parse: kubernetesVersion,
  }),
  'per-node': valueFlag({
    placeholder: 'DIR',
    help: 'Write one script per node into DIR, each for its own roles, and print their paths: the nodes of the config file, else of the cluster (Kubernetes discovery).',
    parse: filePath,
  }),
  'include-unknown-version': switchFlag({
    help: 'With no version known, open the version-bound ports too (10251/10252 before 1.19, 10257/10259 after).',
  }),
  ...CONFIG_FLAGS,
  ...DISCOVERY_FLAGS,
  ...LOG_FLAGS,
  ...HELP_FLAGS,
} as const;

export interface FirewallCommandOptions {
  readonly config: ExporterConfig;
  /** Absent with --per-node: each node's own. */
  readonly roles?: readonly Role[];
  readonly format: FirewallFormat;
  readonly sources: readonly string[];
  readonly kubernetesVersion?: string;
  readonly perNodeDir?: string;
  readonly includeUnknownVersion: boolean;
}

export const FIREWALL_COMMAND = defineCommand({
  name: 'firewall',
  summary: 'Print firewall rules that open the ports a node needs.',
  flags: FIREWALL_FLAGS,
  required: { format: `the firewall, one of ${FIREWALL_FORMATS.join(', ')}` },
  help: {
    synopsis: [
      'firewall --roles=ROLES --format=FIREWALL [--source=CIDRS] [FLAGS]',
      'firewall --per-node=DIR --format=FIREWALL [--config.file=FILE]',
    ],
    description:
      'A script that opens exactly the ports a node of these roles needs (TCP, UDP and IP protocols of the catalog, and the NodePort range), one comment per port. It can run twice: nftables gets a table of its own, flushed and rebuilt; iptables and firewalld check before they add. Every script starts with a shebang and says what it opens.',
    examples: [
      {
        command: `${RUN} firewall --roles=all --format=nftables --kubernetes-version=1.28`,
        note: 'a node of every role, as an nftables script (save it, then nft -f FILE)',
      },
      {
        command: `${RUN} firewall --roles=worker --format=ufw --source=198.18.0.0/15,fd00::/8`,
        note: 'internal ports only from the nodes, both families',
      },
      {
        command: `${RUN} firewall --per-node=rules --format=firewalld --config.file=nodes.yml`,
        note: 'one script per node of the file, in rules/',
      },
    ],
    exitCodes: [
      [0, 'written'],
      [1, 'with --per-node: discovery listed no nodes in time'],
      EXIT_HELP.badInput,
    ],
    environment: [['KUBECONFIG', 'with --per-node and no nodes in the config: the cluster']],
  },
  async options({ values, given }, io): Promise<FirewallCommandOptions> {
    const roles = values.roles ?? values.role;
    const perNode = values['per-node'];
    if (roles === undefined && perNode === undefined) {
      throw new ConfigError(
        'FLAG_INVALID',
        "--roles: expected the node's roles, such as --roles=worker (or --per-node=DIR), got nothing",
      );
    }
    if (roles !== undefined && perNode !== undefined) {
      throw new ConfigError(
        'FLAG_INVALID',
        '--per-node: each node gets its own roles, expected no --roles, got both',
      );
    }
    const config = await loadConfigFromFlags(flagsFrom(values, given), { env: io.env });
    if (perNode !== undefined) checkKubeconfigEnv(values.discovery, values.kubeconfig, io.env);
    const version = values['kubernetes-version'] ?? config.kubernetesVersion;
    return {
      config,
      ...(roles !== undefined && { roles }),
      format: values.format as FirewallFormat,
      sources: values.source ?? [],
      ...(version !== undefined && { kubernetesVersion: version }),
      ...(perNode !== undefined && { perNodeDir: perNode }),
      includeUnknownVersion: values['include-unknown-version'],
    };
  },
  async run(options, io) {
    const { runFirewall } = await import('./firewall.js');
    return runFirewall(options, io);
  },
});
