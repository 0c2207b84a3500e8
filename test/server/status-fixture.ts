/**
 * A known cluster for the status page tests: three nodes, the catalog, three NodePorts,
 * planned by the real planner into a real ResultStore, with results the test chooses.
 */
import { type CatalogSettings, effectiveCatalog } from '../../src/catalog/overrides.js';
import type { ClusterNode, DiscoverySnapshot, NodePort } from '../../src/discovery/types.js';
import type { ProbeResult } from '../../src/probe/types.js';
import type { ResultStore } from '../../src/results/store.js';
import { type PageData, StatusData } from '../../src/server/status/latest.js';
import {
  type StatusQuery,
  type StatusView,
  type StatusViewOptions,
  statusView,
} from '../../src/server/status-view.js';
import { planTargets } from '../../src/targets/planner.js';
import type { Target } from '../../src/targets/types.js';
import { newStore } from '../helpers/store.js';

export const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

export function clusterNode(
  name: string,
  address: string,
  roles: ClusterNode['roles'],
): ClusterNode {
  return { name, addresses: [address], roles, ready: true, kubeletVersion: 'v1.28.3' };
}

export function nodePort(fields: Partial<NodePort> & Pick<NodePort, 'nodePort'>): NodePort {
  return {
    namespace: 'imanager',
    service: `svc-${fields.nodePort}`,
    portName: 'http',
    servicePort: 8080,
    protocol: 'TCP',
    group: 'basic-service',
    type: 'NodePort',
    trafficPolicy: 'Cluster',
    ...fields,
  };
}

export const NODES: readonly ClusterNode[] = [
  clusterNode('master-1', '10.0.0.1', ['control-plane', 'etcd']),
  clusterNode('worker-1', '10.0.0.2', ['worker']),
  clusterNode('worker-2', '10.0.0.3', ['worker', 'license-center']),
];

export const NODE_PORTS: readonly NodePort[] = [
  nodePort({ nodePort: 30080, service: 'imanager-gateway', group: 'basic-service' }),
  nodePort({
    nodePort: 31500,
    namespace: 'imanager-gis',
    service: 'gisapp-1a2b',
    group: 'gis-environment',
  }),
  nodePort({ nodePort: 32000, namespace: 'monitoring', service: 'grafana', group: 'other' }),
];

export interface ClusterOptions {
  readonly nodes?: readonly ClusterNode[];
  readonly nodePorts?: readonly NodePort[];
  readonly vantage?: string;
  /**
   * The result of each target, or undefined to leave it unprobed. Default: all as
   * expected (open, and refused where it must be closed: the kubelet's 10255).
   */
  readonly result?: (target: Target) => ProbeResult | undefined;
  /** When each result was recorded. Default T0. */
  readonly at?: (target: Target) => number;
  /** The catalog's changes. Default: the entries of issue 16 off (see PAGE_TEST_CATALOG). */
  readonly catalog?: CatalogSettings;
}

/**
 * The catalog these tests were written against: without kube-proxy's 10256, Typha's
 * 5473, the kubelet's read-only 10255 (expected closed) and rpcbind's 111, so their
 * counts and orders stay the page's, not the catalog's. Pass NO_CATALOG_CHANGES for all.
 */
export const PAGE_TEST_CATALOG: CatalogSettings = {
  overrides: Object.fromEntries(
    ['kube-proxy-health', 'calico-typha', 'kubelet-readonly', 'rpcbind'].map((id) => [
      id,
      { enabled: false },
    ]),
  ),
  custom: [],
};

/**
 * What discovery found for each store clusterStore made: the exporter keeps the
 * snapshot beside the store (the pipeline's), not in it.
 */
const DISCOVERED = new WeakMap<ResultStore, DiscoverySnapshot>();

/** The discovery snapshot a store of clusterStore was planned from, as the exporter hands it to the page. */
export function discoveredFor(store: ResultStore): () => DiscoverySnapshot | undefined {
  return () => DISCOVERED.get(store);
}

/** A store filled the way the exporter fills it: planner, setTargets, record. */
export function clusterStore(options: ClusterOptions = {}): ResultStore {
  const nodes = options.nodes ?? NODES;
  const nodePorts = options.nodePorts ?? NODE_PORTS;
  const snapshot: DiscoverySnapshot = { nodes, nodePorts, kubernetesVersion: '1.28' };
  const targets = planTargets({
    vantage: options.vantage ?? 'central',
    catalog: effectiveCatalog(options.catalog ?? PAGE_TEST_CATALOG),
    snapshot,
  });
  const store = newStore();
  store.setTargets(targets);
  DISCOVERED.set(store, snapshot);
  const resultOf =
    options.result ??
    ((target: Target): ProbeResult =>
      target.expected === 'closed'
        ? { state: 'refused', durationSeconds: 0.0002 }
        : { state: 'open', durationSeconds: 0.0004 });
  for (const target of targets) {
    const result = resultOf(target);
    if (result) store.record(target, result, options.at?.(target) ?? T0);
  }
  return store;
}

/** The page's data for a store, as the exporter takes it at a cycle's end. */
export function pageData(store: ResultStore, nowMs = T0): Promise<PageData> {
  return new StatusData(store, { now: () => nowMs, snapshot: discoveredFor(store) }).capture();
}

/** The view of one request over a store. */
export async function viewOf(
  store: ResultStore,
  nowMs = T0,
  query: Partial<StatusQuery> = {},
  options: StatusViewOptions = {},
): Promise<StatusView> {
  return statusView(
    await pageData(store, nowMs),
    nowMs,
    { filter: {}, failingPage: 1, nodePage: 1, ...query },
    options,
  );
}
