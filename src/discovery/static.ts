/**
 * Nodes from the config instead of a cluster: the StaticSource, and the combiner that
 * adds configured nodes to the ones Kubernetes discovery found.
 */
import { type ClusterFacts, withConfiguredFacts } from '../catalog/conditions.js';
import { ROLES, type Role } from '../catalog/types.js';
import { type Clock, systemClock } from '../util/clock.js';
import type { ClusterNode, DiscoverySnapshot, NodePort, Source, SourceStatus } from './types.js';

/** A node as the config names it. */
export interface StaticNodeSpec {
  readonly name: string;
  /** IP addresses or host names probed; the config file names one. */
  readonly addresses: readonly string[];
  readonly roles: readonly Role[];
}

/** A configured node as the planner's node: always ready, kubelet version unknown. */
export function staticNode(spec: StaticNodeSpec): ClusterNode {
  return {
    name: spec.name,
    addresses: spec.addresses,
    roles: ROLES.filter((role) => spec.roles.includes(role)),
    ready: true,
    kubeletVersion: '',
  };
}

export interface StaticSourceOptions {
  readonly nodes: readonly StaticNodeSpec[];
  /** NodePorts to probe too, for a cluster the exporter cannot read. Default none. */
  readonly nodePorts?: readonly NodePort[];
  /** `major.minor`, which decides the legacy ports; unknown by default. */
  readonly kubernetesVersion?: string;
  /** The config's `cluster:` facts (Calico's mode, kube-proxy, NFS version); none by default. */
  readonly facts?: ClusterFacts;
  /** Reads the time of the one "sync". Default the system clock. */
  readonly clock?: Clock;
}

/** A fixed snapshot from the config; always up. */
export class StaticSource implements Source {
  readonly name = 'static';
  readonly #snapshot: DiscoverySnapshot;
  readonly #clock: Clock;
  #startedMs: number | undefined;

  constructor(options: StaticSourceOptions) {
    this.#clock = options.clock ?? systemClock;
    this.#snapshot = {
      nodes: options.nodes.map(staticNode),
      nodePorts: options.nodePorts ?? [],
      ...(options.kubernetesVersion !== undefined && {
        kubernetesVersion: options.kubernetesVersion,
      }),
      ...(options.facts &&
        Object.keys(options.facts).length > 0 && {
          facts: withConfiguredFacts({}, options.facts),
        }),
    };
  }

  async start(onChange: (snapshot: DiscoverySnapshot) => void): Promise<void> {
    this.#startedMs = this.#clock.now();
    onChange(this.#snapshot);
  }

  async stop(): Promise<void> {}

  status(): SourceStatus {
    return {
      source: this.name,
      up: true,
      ...(this.#startedMs !== undefined && {
        lastSuccessSeconds: Math.floor(this.#startedMs / 1000),
      }),
    };
  }
}

/**
 * Discovered nodes plus configured ones. A configured node with a discovered node's name
 * does not replace it: the cluster knows its address, readiness and kubelet version
 * better, but the configured roles are added, which is how an operator gives a node
 * the license center, NFS or registry role without labelling it.
 */
export function mergeStaticNodes(
  snapshot: DiscoverySnapshot,
  staticNodes: readonly ClusterNode[],
): DiscoverySnapshot {
  if (staticNodes.length === 0) return snapshot;
  const extra = new Map(staticNodes.map((node) => [node.name, node]));
  const nodes = snapshot.nodes.map((node) => {
    const configured = extra.get(node.name);
    if (!configured) return node;
    extra.delete(node.name);
    const roles = ROLES.filter((r) => node.roles.includes(r) || configured.roles.includes(r));
    return roles.length === node.roles.length ? node : { ...node, roles };
  });
  return { ...snapshot, nodes: [...nodes, ...extra.values()] };
}

/**
 * A source that adds configured nodes to another source's snapshots (see
 * mergeStaticNodes). Name and status are the inner source's.
 */
export function withStaticNodes(source: Source, nodes: readonly StaticNodeSpec[]): Source {
  if (nodes.length === 0) return source;
  const configured = nodes.map(staticNode);
  return {
    name: source.name,
    start: (onChange) =>
      source.start((snapshot) => onChange(mergeStaticNodes(snapshot, configured))),
    stop: () => source.stop(),
    status: () => source.status(),
  };
}
