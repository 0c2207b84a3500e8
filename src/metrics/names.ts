/**
 * The metric contract (shared/DESIGN.md, "Metric contract") as data. Dashboards and
 * alert rules are checked against this table, and the collector takes its names,
 * help texts and label names from it, so the three cannot drift apart.
 */

export type MetricType = 'gauge' | 'counter';

export interface MetricSpec {
  readonly type: MetricType;
  readonly help: string;
  /** Every label a series of this family can carry. */
  readonly labels: readonly string[];
  /** The subset of `labels` that only some series carry (NodePort targets). */
  readonly optionalLabels?: readonly string[];
}

/**
 * The labels that name a target; the per-target families join on them. `address` is
 * what the user configured or Kubernetes reported, `ip` the literal probed: a
 * dual-stack name is two targets, one per family.
 */
export const IDENTIFYING_LABELS = ['vantage', 'node', 'address', 'ip', 'port', 'protocol'] as const;

/** Labels of imanager_port_up and imanager_port_state on every target, in output order. */
export const PORT_TARGET_LABELS = [
  ...IDENTIFYING_LABELS,
  'category',
  'component',
  'port_name',
  'scope',
  'required',
  'expected',
] as const;

/** Labels that NodePort targets add after PORT_TARGET_LABELS; other targets omit them. */
export const NODEPORT_LABELS = ['k8s_namespace', 'k8s_service', 'group'] as const;

/**
 * Prometheus and the Prometheus Operator attach these to every scraped series; an
 * exported label of the same name would be renamed to exported_* or overwrite them,
 * and `namespace` would mean two things under Alertmanager's `group_by: [namespace]`.
 */
export const RESERVED_LABELS = ['service', 'instance', 'job', 'namespace', 'pod'] as const;

/** Labels of the per-node ICMP families: one echo per IP probed. */
export const ICMP_LABELS = ['vantage', 'node', 'address', 'ip'] as const;

/** Labels of the per-node name resolution family. */
export const RESOLUTION_LABELS = ['vantage', 'node', 'address'] as const;

export const METRICS = {
  imanager_port_up: {
    type: 'gauge',
    help: '1 if the last TCP connect to the target succeeded, else 0.',
    labels: [...PORT_TARGET_LABELS, ...NODEPORT_LABELS],
    optionalLabels: NODEPORT_LABELS,
  },
  imanager_port_state: {
    type: 'gauge',
    help: 'Last probe state of the target: 0 open, 1 refused, 2 timeout, 3 unreachable, 4 error, 5 rejected.',
    labels: [...PORT_TARGET_LABELS, ...NODEPORT_LABELS],
    optionalLabels: NODEPORT_LABELS,
  },
  imanager_port_connect_duration_seconds: {
    type: 'gauge',
    help: 'Connect time of the last probe of the target, in seconds.',
    labels: IDENTIFYING_LABELS,
  },
  imanager_port_last_change_timestamp_seconds: {
    type: 'gauge',
    help: 'Unix time when the state of the target last changed.',
    labels: IDENTIFYING_LABELS,
  },
  imanager_node_icmp_up: {
    type: 'gauge',
    help: '1 if the node answered the last ICMP echo request, else 0.',
    labels: ICMP_LABELS,
  },
  imanager_node_icmp_rtt_seconds: {
    type: 'gauge',
    help: 'Round trip time of the last answered ICMP echo request, in seconds: from kernel timestamps on an ICMP datagram socket; on a raw socket (the fallback), an upper bound that includes event-loop delay.',
    labels: ICMP_LABELS,
  },
  imanager_node_resolution_up: {
    type: 'gauge',
    help: '1 if the node address resolved at the last attempt (always 1 for an IP literal), 0 while its lookups fail; the last good answer is probed for a while after.',
    labels: RESOLUTION_LABELS,
  },
  imanager_node_info: {
    type: 'gauge',
    help: 'Always 1: one series per node, with its address, roles, kubelet version and readiness.',
    labels: ['node', 'address', 'roles', 'kubelet_version', 'ready'],
  },
  imanager_nodeport_info: {
    type: 'gauge',
    help: 'Always 1: one series per NodePort the cluster has allocated.',
    labels: [
      'k8s_namespace',
      'k8s_service',
      'service_port',
      'node_port',
      'group',
      'type',
      'traffic_policy',
    ],
  },
  imanager_nodeport_in_range: {
    type: 'gauge',
    help: '1 if the nodePort lies in the configured NodePort range, else 0.',
    labels: ['k8s_namespace', 'k8s_service', 'service_port', 'node_port'],
  },
  imanager_targets: {
    type: 'gauge',
    help: 'Number of targets this exporter probes, by category.',
    labels: ['category'],
  },
  imanager_probes_total: {
    type: 'counter',
    help: 'Probes sent, by prober and resulting state.',
    labels: ['prober', 'state'],
  },
  imanager_probe_cycle_duration_seconds: {
    type: 'gauge',
    help: 'How long the last full pass over all targets took, in seconds.',
    labels: [],
  },
  imanager_discovery_up: {
    type: 'gauge',
    help: '1 if the last sync of the discovery source succeeded, else 0.',
    labels: ['source'],
  },
  imanager_discovery_last_success_timestamp_seconds: {
    type: 'gauge',
    help: 'Unix time of the last successful sync of the discovery source.',
    labels: ['source'],
  },
  imanager_icmp_enabled: {
    type: 'gauge',
    help: '1 if ICMP probing works in this process, else 0.',
    labels: [],
  },
  imanager_config_last_reload_successful: {
    type: 'gauge',
    help: '1 if the last load of every configuration file succeeded, 0 after a refused reload of the config file, the kubeconfig or the web config.',
    labels: [],
  },
  imanager_config_last_reload_success_timestamp_seconds: {
    type: 'gauge',
    help: 'Unix time of the last load after which every configuration file was in force (the start, or a reload).',
    labels: [],
  },
  imanager_web_certificate_expiry_timestamp_seconds: {
    type: 'gauge',
    help: 'Unix time when the TLS certificate the server presents expires (its notAfter); absent without TLS.',
    labels: [],
  },
  imanager_exporter_build_info: {
    type: 'gauge',
    help: 'Always 1: the exporter version and the Node.js version it runs on.',
    labels: ['version', 'nodejs_version'],
  },
} as const satisfies Record<string, MetricSpec>;

export type MetricName = keyof typeof METRICS;

/**
 * Families that prom-client's default collectors add beside the contract (process_*,
 * nodejs_*). Operators expect them; they are not part of the contract, so alerts and
 * dashboards should not depend on them beyond these prefixes.
 */
export const PROCESS_METRIC_PREFIXES = ['process_', 'nodejs_'] as const;
