import {
  IDENTIFYING_LABELS,
  NODEPORT_LABELS,
  PORT_TARGET_LABELS,
} from '../../src/metrics/names.js';
import { NODE_DOWN_STATES } from '../../src/probe/states.js';
import { PROBE_STATES, type ProbeState } from '../../src/probe/types.js';
import type { MonitoringConfig } from './config.js';

export { NODE_DOWN_STATES };

/** The color each probe state has on every dashboard. */
const STATE_COLORS: Readonly<Record<ProbeState, string>> = {
  open: 'green',
  refused: 'red',
  timeout: 'orange',
  unreachable: 'purple',
  error: 'dark-red',
  rejected: '#c2185b',
};

/** The values of imanager_port_state: a state's index in PROBE_STATES is its value. */
export const PORT_STATES = PROBE_STATES.map((name, value) => ({
  value,
  name,
  color: STATE_COLORS[name],
}));

/** The value of imanager_port_state for a state. */
export function stateValue(state: ProbeState): number {
  return PROBE_STATES.indexOf(state);
}

/** Labels imanager_port_up and imanager_port_state carry beyond the identifying ones. */
export const TARGET_DETAIL_LABELS: readonly string[] = [
  ...PORT_TARGET_LABELS.filter((l) => !(IDENTIFYING_LABELS as readonly string[]).includes(l)),
  ...NODEPORT_LABELS,
];

/** Every label a port target's series can carry. */
export const TARGET_LABELS: readonly string[] = [...PORT_TARGET_LABELS, ...NODEPORT_LABELS];

/**
 * The labels that name one node address as seen from one vantage: the identifying labels
 * without port and protocol (with `ip` once it joins them, so a dual-stack node's two
 * addresses are judged apart). The ICMP families carry the same.
 */
export const HOST_LABELS: readonly string[] = IDENTIFYING_LABELS.filter(
  (l) => l !== 'port' && l !== 'protocol',
);

/** The cluster label, where the config names one, to put first in every join. */
export function clusterLabels(config: MonitoringConfig): string[] {
  return config.clusterLabel === '' ? [] : [config.clusterLabel];
}

/** The labels every alert keeps beyond its own: the cluster and the kept scrape labels. */
export function scopeLabels(config: MonitoringConfig): string[] {
  return [...clusterLabels(config), ...config.keptScrapeLabels];
}

/** `on(cluster, labels...)`: joins never mix clusters. */
export function on(config: MonitoringConfig, ...labels: readonly string[]): string {
  return `on(${[...clusterLabels(config), ...labels].join(', ')})`;
}

/** `by (cluster, namespace, labels...)`: aggregations keep what every alert keeps. */
export function by(config: MonitoringConfig, ...labels: readonly string[]): string {
  return `by (${[...scopeLabels(config), ...labels].join(', ')})`;
}

/**
 * A filter that keeps the series whose value is one of `states`: `== v` for one state,
 * else `!= w` for each other state, so the value (the state) stays the sample's value.
 */
export function stateFilter(states: readonly ProbeState[]): string {
  if (states.length === 0) throw new Error('stateFilter: no states');
  if (states.length === 1) return `== ${stateValue(states[0] as ProbeState)}`;
  return PROBE_STATES.filter((s) => !states.includes(s))
    .map((s) => `!= ${stateValue(s)}`)
    .join(' ');
}

/** `{a, b}` from the matchers given, skipping empty ones. */
export function selector(...matchers: readonly (string | undefined)[]): string {
  const kept = matchers.filter((m): m is string => m !== undefined && m !== '');
  return kept.length === 0 ? '' : `{${kept.join(', ')}}`;
}

/**
 * `identifyingOnly` (a family with only the identifying labels, such as
 * imanager_port_last_change_timestamp_seconds) with the detail labels of the matching
 * series of `full` copied on, keeping only targets that `full` returns. Joined by
 * ignoring() rather than on() so that job, instance and any label the scrape adds must
 * match too: two exporters probing the same target stay two rows, not an error.
 */
export function withTargetDetails(identifyingOnly: string, full: string): string {
  const details = TARGET_DETAIL_LABELS.join(', ');
  return `${identifyingOnly} + ignoring(${details}) group_left(${details}) (0 * (${full}))`;
}

/** A PromQL raw string literal; the regexes here hold no backtick. */
export function raw(text: string): string {
  if (text.includes('`')) throw new Error(`a backtick cannot stand in a raw string: ${text}`);
  return `\`${text}\``;
}

/** `expr` (with an `instance` label of the node exporter) with the node's address as `address`. */
export function withNodeAddress(config: MonitoringConfig, expr: string): string {
  const pattern = raw(config.nodeExporterInstanceAddress);
  return `label_replace(${expr}, "address", "$1", "instance", ${pattern})`;
}

/**
 * A node exporter expression with the node's name as `node`, for the nodes that
 * `nodeMatcher` selects. imanager_node_info maps addresses to names; max by() folds the
 * copies that several exporter replicas export.
 */
export function onNode(config: MonitoringConfig, expr: string, nodeMatcher: string): string {
  const cluster = clusterLabels(config);
  return (
    `${withNodeAddress(config, expr)}\n` +
    `  * ${on(config, 'address')} group_left(node)\n` +
    `  max by (${[...cluster, 'address', 'node'].join(', ')}) (imanager_node_info{${nodeMatcher}})`
  );
}

/**
 * One series per vantage and node address that answers on no probed port (every one
 * NODE_DOWN_STATES) and, where ICMP runs, to no echo: the one notion of a node that is
 * down, which the alerts record as imanager:node_down and the dashboards count.
 */
export function nodeDown(config: MonitoringConfig, matchers: readonly string[] = []): string {
  const notDown = stateFilter(PROBE_STATES.filter((s) => !NODE_DOWN_STATES.includes(s)));
  const host = on(config, ...HOST_LABELS);
  const ports = `imanager_port_state${selector(...matchers)}`;
  return (
    `# every probed port of the node address, required or not, ${NODE_DOWN_STATES.join(' or ')}\n` +
    `group ${by(config, ...HOST_LABELS)} (${ports})\n` +
    `unless ${host} (${ports} ${notDown})\n` +
    '# and, where ICMP runs, no echo answered\n' +
    `unless ${host} (imanager_node_icmp_up${selector(...matchers)} == 1)\n`
  );
}
