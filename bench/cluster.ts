/**
 * The cluster the exporter benchmarks watch: N nodes on loopback addresses and M
 * NodePorts of iManager services, as a DiscoverySnapshot, so the real planner turns
 * it into targets with the labels a real cluster gives them (NodePort targets carry
 * namespace, k8s_service and group: the longest label sets, the largest scrape).
 *
 * Churn slides a window over an endless list of NodePorts: at step s the cluster has
 * NodePorts s*churn .. s*churn+M-1, so each step removes the oldest `churn` and adds
 * as many new ones, with new service names (new label text) and new port numbers.
 *
 * Which ports answer is a fact of the port number alone (a listener on 0.0.0.0 for
 * every `openEvery`-th NodePort number), so the share of open targets stays the same
 * through the churn. Pure: bench/exporter-harness.ts starts the listeners.
 */
import type { ClusterNode, DiscoverySnapshot, NodePort } from '../src/discovery/types.js';
import { addressAt } from './layout.js';

export interface ClusterOptions {
  readonly nodes: number;
  /** NodePorts at any one time. */
  readonly nodePorts: number;
  /** NodePorts replaced per churn step. */
  readonly churn: number;
  /** A NodePort number whose offset in the range is a multiple of this has a listener. */
  readonly openEvery: number;
}

/**
 * The range the benchmark's cluster allocates NodePorts from: as wide as Kubernetes'
 * default 30000-32767, moved below it so that the listeners (on 0.0.0.0) cannot take a
 * port that a test on the same machine binds, and below the ephemeral ports (32768+)
 * so that no outgoing connect holds one. The exporter is given it as nodePortRange.
 */
export const NODE_PORT_RANGE = { min: 22000, max: 24767 } as const;
const RANGE_SIZE = NODE_PORT_RANGE.max - NODE_PORT_RANGE.min + 1;
/** iManager's basic services come first; the rest are GIS environments. */
const BASIC_SERVICES = 20;
const CONTROL_PLANE_NODES = 3;
export const KUBERNETES_VERSION = '1.28';

/**
 * Nodes and NodePorts for about `targets` targets: 200 targets per node (195
 * NodePorts and the catalog entries of a worker), as in the "hundreds of
 * nodes and hundreds of NodePorts". The planner gives the exact count.
 */
export function clusterFor(targets: number, churn = 0): ClusterOptions {
  return { nodes: Math.max(1, Math.round(targets / 200)), nodePorts: 195, churn, openEvery: 5 };
}

export function clusterNodes(options: ClusterOptions): ClusterNode[] {
  return jsonCopy(
    Array.from(
      { length: options.nodes },
      (_, i): ClusterNode => ({
        name: `imanager-node-${String(i + 1).padStart(3, '0')}`,
        addresses: [addressAt(i)],
        roles: i < CONTROL_PLANE_NODES ? ['control-plane', 'etcd', 'worker'] : ['worker'],
        ready: true,
        kubeletVersion: `v${KUBERNETES_VERSION}.2`,
      }),
    ),
  );
}

function jsonCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value));
}

/** The j-th NodePort of the endless list. */
export function nodePortAt(j: number): NodePort {
  const basic = j % 100 < BASIC_SERVICES;
  // A stable pseudo-random suffix, as iManager names its GIS environments.
  const suffix = (Math.imul(j + 1, 0x9e3779b1) >>> 0).toString(16).padStart(8, '0');
  const service = basic ? `imanager-svc-${j}` : `gisapp-${suffix}`;
  return {
    namespace: basic ? 'imanager' : `imanager-gis-${j % 7}`,
    service,
    portName: j % 2 === 0 ? 'http' : 'https',
    servicePort: j % 2 === 0 ? 8080 : 8443,
    nodePort: NODE_PORT_RANGE.min + (j % RANGE_SIZE),
    protocol: 'TCP',
    group: basic ? 'basic-service' : 'gis-environment',
    type: 'NodePort',
    trafficPolicy: 'Cluster',
  };
}

export function snapshotAt(options: ClusterOptions, step: number, nodes = clusterNodes(options)) {
  const first = step * options.churn;
  // Through JSON, as the Kubernetes client hands them over: flat strings, not the
  // concatenations of a template literal (which V8 flattens on first comparison).
  const nodePorts = jsonCopy(
    Array.from({ length: options.nodePorts }, (_, i) => nodePortAt(first + i)),
  );
  const snapshot: DiscoverySnapshot = { nodes, nodePorts, kubernetesVersion: KUBERNETES_VERSION };
  return snapshot;
}

/** The NodePort numbers that have a listener (on 0.0.0.0): open on every node. */
export function openNodePorts(options: ClusterOptions): number[] {
  const ports: number[] = [];
  for (let p = NODE_PORT_RANGE.min; p <= NODE_PORT_RANGE.max; p += options.openEvery) {
    ports.push(p);
  }
  return ports;
}
