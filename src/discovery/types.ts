import type { ClusterFacts } from '../catalog/conditions.js';

import type { ClusterNode, NodePortGroup } from '../kinds/cluster.js';

// Defined with the vocabulary config shares; re-exported so discovery's types stay in one list.
export type { ClusterNode, NodePortGroup };

/**
 * What decided a NodePort's group, in the order tried (kubernetes/groups.ts):
 * `anchor` the namespace of iManager's UI NodePort, or a catalog NodePort (31234);
 * `marker` iManager's labels, annotations or owners on the namespace or its Services;
 * `rule` a configured group rule; `guess` a default namespace guess; `none` nothing
 * (group `other`: shown, never paging; claim it with a rule, see claimRuleFor).
 */
export type NodePortGroupedBy = 'anchor' | 'marker' | 'rule' | 'guess' | 'none';

/** One Service port that the cluster exposes on every node. */
export interface NodePort {
  readonly namespace: string;
  readonly service: string;
  /** The Service port's name, or its number as text when it has none. */
  readonly portName: string;
  readonly servicePort: number;
  readonly nodePort: number;
  readonly protocol: 'TCP' | 'UDP' | 'SCTP';
  readonly group: NodePortGroup;
  /** Absent from sources that group by nothing (static NodePorts). */
  readonly groupedBy?: NodePortGroupedBy;
  readonly type: 'NodePort' | 'LoadBalancer';
  readonly trafficPolicy: 'Cluster' | 'Local';
  /**
   * With `Local` policy, the names of the nodes that host a ready endpoint: only
   * they answer. Undefined with `Cluster` policy.
   */
  readonly readyNodes?: readonly string[];
}

/** What a source knows at one moment. Sources hand the planner whole snapshots. */
export interface DiscoverySnapshot {
  readonly nodes: readonly ClusterNode[];
  readonly nodePorts: readonly NodePort[];
  /** `major.minor` of the API server, or undefined when unknown. */
  readonly kubernetesVersion?: string;
  /**
   * What the cluster runs that decides conditional catalog entries (Calico's backend
   * and encapsulation, kube-proxy, the NFS version): detected, then the config's
   * `cluster:` section over it. Absent: nothing known.
   */
  readonly facts?: ClusterFacts;
}

/** Health of one source, exported as imanager_discovery_up and _last_success_timestamp_seconds. */
export interface SourceStatus {
  readonly source: string;
  readonly up: boolean;
  /** Unix seconds of the last successful sync, or undefined before the first. */
  readonly lastSuccessSeconds?: number;
}

/**
 * A source of nodes and NodePorts. It calls `onChange` with a whole snapshot
 * whenever what it knows changes; a failing source keeps its last snapshot.
 */
export interface Source {
  readonly name: string;
  start(onChange: (snapshot: DiscoverySnapshot) => void): Promise<void>;
  stop(): Promise<void>;
  status(): SourceStatus;
}
