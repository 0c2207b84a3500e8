import { entryAppliesToRoles, versionInRange } from '../catalog/applies.js';
import type { CatalogEntry } from '../catalog/types.js';
import type { ClusterNode, DiscoverySnapshot, NodePort } from '../discovery/types.js';
import { type ExpectedState, type Target, targetKey, type Vantage } from './types.js';

/** Everything the planner needs; it reads nothing else. */
export interface PlanInput {
  readonly vantage: Vantage;
  /** The catalog after config overrides. */
  readonly catalog: readonly CatalogEntry[];
  readonly snapshot: DiscoverySnapshot;
  /** Kept when true; sharding and the per-node mesh narrow the plan through this. */
  readonly keep?: (target: Target) => boolean;
}

const LOOPBACK = /^(127\.|::1$|localhost$)/;

/** True when a probe from this vantage can reach ports bound to the node's loopback. */
function seesLocalhost(vantage: Vantage, node: ClusterNode): boolean {
  return vantage === node.name || LOOPBACK.test(node.address);
}

function catalogTarget(
  vantage: Vantage,
  node: ClusterNode,
  entry: CatalogEntry,
  kubernetesVersion: string | undefined,
): Target {
  let expected: ExpectedState = 'open';
  let required = entry.required;
  if (!versionInRange(kubernetesVersion, entry.kubernetes)) {
    // Not part of this Kubernetes version (or the version is unknown): still shown,
    // so an operator sees a legacy port that answers, but never as a failure.
    expected = 'any';
    required = false;
  } else if (vantage === 'external' && entry.scope === 'internal') {
    // From outside the cluster an internal port must not answer: it is an exposure.
    expected = 'closed';
  }
  const base = { vantage, node: node.name, address: node.address, protocol: entry.protocol };
  return {
    ...base,
    key: targetKey({ ...base, port: entry.port }),
    port: entry.port,
    category: entry.category,
    component: entry.component,
    portName: entry.id,
    scope: entry.scope,
    required,
    expected,
  };
}

function nodePortTarget(vantage: Vantage, node: ClusterNode, nodePort: NodePort): Target {
  // With externalTrafficPolicy Local only nodes with a ready endpoint answer; the
  // others may drop or refuse, and neither is a fault.
  const answersHere = nodePort.readyNodes === undefined || nodePort.readyNodes.includes(node.name);
  const base = { vantage, node: node.name, address: node.address, protocol: 'tcp' as const };
  return {
    ...base,
    key: targetKey({ ...base, port: nodePort.nodePort }),
    port: nodePort.nodePort,
    category: 'nodeport',
    component: nodePort.service,
    portName: nodePort.portName,
    scope: 'external',
    required: answersHere && nodePort.group !== 'other',
    expected: answersHere ? 'open' : 'any',
    nodePort: {
      namespace: nodePort.namespace,
      service: nodePort.service,
      group: nodePort.group,
    },
  };
}

/**
 * The target set: every catalog entry that applies to a node's roles, and every TCP
 * NodePort, on every node. Where a NodePort shares its number with a catalog entry
 * (31234 and 31100 are NodePorts), the catalog entry wins: it carries the meaning.
 */
export function planTargets(input: PlanInput): Target[] {
  const { vantage, catalog, snapshot, keep } = input;
  const planned = new Map<string, Target>();
  const add = (target: Target) => {
    if (planned.has(target.key)) return;
    if (keep && !keep(target)) return;
    planned.set(target.key, target);
  };
  for (const node of snapshot.nodes) {
    for (const entry of catalog) {
      if (!entryAppliesToRoles(entry, node.roles)) continue;
      if (entry.localhostOnly && !seesLocalhost(vantage, node)) continue;
      add(catalogTarget(vantage, node, entry, snapshot.kubernetesVersion));
    }
  }
  for (const node of snapshot.nodes) {
    for (const nodePort of snapshot.nodePorts) {
      if (nodePort.protocol !== 'TCP') continue;
      add(nodePortTarget(vantage, node, nodePort));
    }
  }
  return [...planned.values()];
}
