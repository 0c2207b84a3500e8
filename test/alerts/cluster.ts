/**
 * A small iManager cluster as Prometheus would have scraped it, for promtool unit tests:
 * the exporter's real target set (planTargets over the real catalog), each target's
 * imanager_port_state and imanager_port_up with the labels the collector gives them
 * (targetLabelText), and the labels the Prometheus Operator's ServiceMonitor adds
 * (job, instance, namespace, pod, service, endpoint, container). A scenario says how the
 * states and the scrapes change over time; an exporter that cannot be scraped leaves its
 * series stale, as Prometheus does.
 */
import { CATALOG } from '../../src/catalog/ports.js';
import type { ClusterNode, NodePort } from '../../src/discovery/types.js';
import { targetLabelText } from '../../src/metrics/labels.js';
import { PROBE_STATES, type ProbeState } from '../../src/probe/types.js';
import { planTargets } from '../../src/targets/planner.js';
import type { Target } from '../../src/targets/types.js';

/** Minutes 0..30, one sample a minute. */
export const STEPS = 31;

/** A sample: a value, `stale` (a staleness marker) or `_` (no sample). */
export type Sample = number | 'stale' | '_';
export type Timeline = readonly Sample[];

export const NODES: readonly ClusterNode[] = [
  {
    name: 'cp-1',
    addresses: ['198.18.0.1'],
    roles: ['control-plane', 'etcd'],
    ready: true,
    kubeletVersion: 'v1.28.2',
  },
  {
    name: 'worker-1',
    addresses: ['198.18.0.2'],
    roles: ['worker'],
    ready: true,
    kubeletVersion: 'v1.28.2',
  },
  {
    name: 'worker-2',
    addresses: ['198.18.0.3'],
    roles: ['worker', 'license-center'],
    ready: true,
    kubeletVersion: 'v1.28.2',
  },
];

export const NODE_PORTS: readonly NodePort[] = [
  {
    namespace: 'supermap-gis1',
    service: 'gis-web',
    portName: 'http',
    servicePort: 8080,
    nodePort: 31500,
    protocol: 'TCP',
    group: 'gis-environment',
    type: 'NodePort',
    trafficPolicy: 'Cluster',
  },
];

/** The namespace the Operator gives every series of the exporter (the release's). */
export const EXPORTER_NAMESPACE = 'monitoring';

export type Mode = 'central' | 'external' | 'daemonset';

export interface Scenario {
  readonly mode: Mode;
  /** A target's state at each step; undefined leaves it as expected (open, or refused for a port that must stay closed) throughout. */
  readonly state?: (target: Target) => Timeline | undefined;
  /** `up` of the exporter of a vantage; undefined: 1 throughout. */
  readonly exporterUp?: (vantage: string) => Timeline | undefined;
  /** `up` of iManager's node exporter on a node; undefined: 1 throughout; null: not scraped. */
  readonly nodeExporterUp?: (node: string) => Timeline | undefined | null;
  /** Other families of an exporter, by name; each defaults to a healthy value. */
  readonly exporterFamilies?: (vantage: string) => Readonly<Record<string, Timeline>> | undefined;
  /** Series beyond the cluster's, such as none at all for a scrape job that is gone. */
  readonly withoutExporterJob?: boolean;
}

export interface InputSeries {
  readonly series: string;
  readonly values: string;
}

/** A timeline of one value. */
export function constant(value: Sample): Timeline {
  return Array.from({ length: STEPS }, () => value);
}

/** `before` until step `from`, then `after`. */
export function from(step: number, after: Sample, before: Sample = 0): Timeline {
  return Array.from({ length: STEPS }, (_, i) => (i < step ? before : after));
}

export function stateValue(state: ProbeState): number {
  return PROBE_STATES.indexOf(state);
}

/** The vantages of a mode: one central or external exporter, or an agent per node. */
export function vantages(mode: Mode): string[] {
  return mode === 'daemonset' ? NODES.map((n) => n.name) : [mode];
}

/** The targets one exporter probes: the planner's, over the real catalog. */
export function targetsOf(vantage: string, mode: Mode): Target[] {
  return planTargets({
    vantage,
    catalog: CATALOG,
    snapshot: { nodes: NODES, nodePorts: NODE_PORTS, kubernetesVersion: '1.28' },
    ...(mode === 'daemonset' ? { meshPeers: NODES.length } : {}),
  });
}

/** The labels the collector gives a target, as a record. */
export function targetLabels(target: Target): Record<string, string> {
  const { identifying, rest } = targetLabelText(target);
  return Object.fromEntries(
    [...`${identifying}${rest}`.matchAll(/([a-zA-Z_]\w*)="([^"]*)"/g)].map((m) => [
      m[1] as string,
      m[2] as string,
    ]),
  );
}

/** Where an exporter is scraped: an agent on its node's address (host network). */
export function exporterInstance(vantage: string): string {
  const node = NODES.find((n) => n.name === vantage);
  return `${node?.addresses[0] ?? '198.18.0.100'}:19101`;
}

function scrapeLabels(vantage: string): Record<string, string> {
  return {
    job: 'imanager-port-exporter',
    instance: exporterInstance(vantage),
    namespace: EXPORTER_NAMESPACE,
    pod: `ipe-imanager-port-exporter-${vantage}`,
    service: 'ipe-imanager-port-exporter',
    endpoint: 'http',
    container: 'imanager-port-exporter',
  };
}

export function labelText(name: string, labels: Readonly<Record<string, string>>): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return `${name}{${pairs.join(',')}}`;
}

/** A series' samples while its exporter is scraped; stale, then absent, while it is not. */
function whileScraped(values: Timeline, up: Timeline): string {
  return values
    .map((v, i) => {
      if (up[i] === 1) return String(v);
      return i > 0 && up[i - 1] === 1 ? 'stale' : '_';
    })
    .join(' ');
}

const HEALTHY: Readonly<Record<string, Timeline>> = {
  imanager_discovery_up: constant(1),
  imanager_config_last_reload_successful: constant(1),
  imanager_probe_cycle_duration_seconds: constant(5),
  imanager_icmp_enabled: constant(0),
};

export function inputSeries(scenario: Scenario): InputSeries[] {
  const out: InputSeries[] = [];
  for (const vantage of vantages(scenario.mode)) {
    const up = scenario.exporterUp?.(vantage) ?? constant(1);
    const scrape = scrapeLabels(vantage);
    if (!scenario.withoutExporterJob) {
      out.push({ series: labelText('up', scrape), values: up.join(' ') });
    }
    for (const target of targetsOf(vantage, scenario.mode)) {
      const states =
        scenario.state?.(target) ??
        constant(stateValue(target.expected === 'closed' ? 'refused' : 'open'));
      const labels = { ...targetLabels(target), ...scrape };
      out.push({
        series: labelText('imanager_port_state', labels),
        values: whileScraped(states, up),
      });
      const portUp = states.map((s) => (typeof s === 'number' ? (s === 0 ? 1 : 0) : s));
      out.push({ series: labelText('imanager_port_up', labels), values: whileScraped(portUp, up) });
    }
    for (const node of NODES) {
      const info = {
        node: node.name,
        address: node.addresses[0] as string,
        roles: node.roles.join(','),
        kubelet_version: node.kubeletVersion,
        ready: 'true',
        ...scrape,
      };
      out.push({
        series: labelText('imanager_node_info', info),
        values: whileScraped(constant(1), up),
      });
    }
    const families = { ...HEALTHY, ...scenario.exporterFamilies?.(vantage) };
    for (const [name, values] of Object.entries(families)) {
      const labels =
        name === 'imanager_discovery_up' ? { source: 'kubernetes', ...scrape } : scrape;
      out.push({ series: labelText(name, labels), values: whileScraped(values, up) });
    }
  }
  for (const node of NODES) {
    const up = scenario.nodeExporterUp?.(node.name);
    if (up === null) continue;
    const labels = {
      job: 'node-exporter',
      instance: `${node.addresses[0]}:9101`,
      namespace: 'imanager',
    };
    out.push({ series: labelText('up', labels), values: (up ?? constant(1)).join(' ') });
  }
  return out;
}
