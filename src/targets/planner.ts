import { isIP } from 'node:net';
import { entryAppliesToRoles, versionInRange } from '../catalog/applies.js';
import { applicability, type ClusterFacts, NO_FACTS } from '../catalog/conditions.js';
import type { CatalogEntry } from '../catalog/types.js';
import type { ClusterNode, DiscoverySnapshot, NodePort } from '../discovery/types.js';
import { meshPeers, type Shard, shardOf } from './spread.js';
import { type ExpectedState, newTarget, type Target, type Vantage } from './types.js';

/** Everything the planner needs; it reads nothing else. */
export interface PlanInput {
  readonly vantage: Vantage;
  /**
   * The catalog after config overrides: TCP entries only. The UDP and IP-protocol
   * entries (UNPROBED_CATALOG) have no place in this type: no prober tests them.
   */
  readonly catalog: readonly CatalogEntry[];
  readonly snapshot: DiscoverySnapshot;
  /** Kept when true: a further filter, for tests and one-shot commands. */
  readonly keep?: (target: Target) => boolean;
  /** Keep only the targets whose key hashes to this shard (`--shard=i/N`). */
  readonly shard?: Shard;
  /**
   * With a node vantage: how many peers besides itself the agent probes (`--mesh.peers`).
   * Undefined probes every node.
   */
  readonly meshPeers?: number;
}

const LOOPBACK = /^(127\.|::1$|localhost$)/;

/** True when a probe from this vantage can reach ports bound to the node's loopback. */
function seesLocalhost(vantage: Vantage, node: ClusterNode, address: string): boolean {
  return vantage === node.name || LOOPBACK.test(address);
}

/** The literal itself; a name gets its IPs when it resolves (see probe/names.ts). */
function ipOf(address: string): string {
  return isIP(address) === 0 ? '' : address;
}

function catalogTarget(
  vantage: Vantage,
  node: ClusterNode,
  nodeAddress: string,
  entry: CatalogEntry,
  kubernetesVersion: string | undefined,
  facts: ClusterFacts,
): Target {
  const condition = applicability(entry, facts);
  let expected: ExpectedState = entry.expected ?? 'open';
  let required = condition.required;
  if (!versionInRange(kubernetesVersion, entry.kubernetes) || condition.neutral) {
    // Not part of this Kubernetes version (or the version is unknown), or its condition
    // fails (179 without BGP): still shown, so an operator sees a port that answers,
    // but never as a failure.
    expected = 'any';
    required = false;
  } else if (vantage === 'external' && entry.scope === 'internal') {
    // From outside the cluster an internal port must not answer: it is an exposure.
    expected = 'closed';
  }
  // A port bound to the node's loopback is reached there, not at the node's address.
  const address = entry.localhostOnly && vantage === node.name ? '127.0.0.1' : nodeAddress;
  return newTarget({
    vantage,
    node: node.name,
    address,
    ip: ipOf(address),
    port: entry.port,
    protocol: entry.protocol,
    category: entry.category,
    component: entry.component,
    portName: entry.id,
    scope: entry.scope,
    required,
    expected,
  });
}

/**
 * A NodePort's `nodePort` field, made once and shared by its targets on every node (a
 * target never changes it): at 200 nodes, 200 fewer objects per NodePort to allocate
 * and keep.
 */
const nodePortFacts = new WeakMap<NodePort, NonNullable<Target['nodePort']>>();

function factsOf(nodePort: NodePort): NonNullable<Target['nodePort']> {
  let facts = nodePortFacts.get(nodePort);
  if (facts === undefined) {
    facts = { namespace: nodePort.namespace, service: nodePort.service, group: nodePort.group };
    nodePortFacts.set(nodePort, facts);
  }
  return facts;
}

function nodePortTarget(
  vantage: Vantage,
  node: ClusterNode,
  address: string,
  nodePort: NodePort,
): Target {
  // With externalTrafficPolicy Local only nodes with a ready endpoint answer; the
  // others may drop or refuse, and neither is a fault.
  const answersHere = nodePort.readyNodes === undefined || nodePort.readyNodes.includes(node.name);
  return newTarget({
    vantage,
    node: node.name,
    address,
    ip: ipOf(address),
    port: nodePort.nodePort,
    protocol: 'tcp',
    category: 'nodeport',
    component: nodePort.service,
    portName: nodePort.portName,
    scope: 'external',
    required: answersHere && nodePort.group !== 'other',
    expected: answersHere ? 'open' : 'any',
    nodePort: factsOf(nodePort),
  });
}

/** What planning one node or one NodePort needs besides the node: the same for every node. */
export interface PlanScope {
  readonly vantage: Vantage;
  readonly catalog: readonly CatalogEntry[];
  readonly kubernetesVersion?: string | undefined;
  readonly facts: ClusterFacts;
  readonly keep?: ((target: Target) => boolean) | undefined;
  readonly shard?: Shard | undefined;
}

/** The scope of a plan input: what every node's targets depend on besides the node. */
export function scopeOf(input: PlanInput): PlanScope {
  return {
    vantage: input.vantage,
    catalog: input.catalog,
    kubernetesVersion: input.snapshot.kubernetesVersion,
    facts: input.snapshot.facts ?? NO_FACTS,
    keep: input.keep,
    shard: input.shard,
  };
}

/** False for a target the filters (keep, shard) leave out. */
function kept(scope: PlanScope, target: Target): boolean {
  if (scope.keep && !scope.keep(target)) return false;
  const { shard } = scope;
  return !(shard && shard.count > 1 && shardOf(target.key, shard.count) !== shard.index);
}

/** The catalog targets of one node, each key once, filtered. */
export function planNodeCatalog(scope: PlanScope, node: ClusterNode): Target[] {
  const { vantage, catalog } = scope;
  const targets: Target[] = [];
  const keys = new Set<string>();
  for (const address of node.addresses) {
    for (const entry of catalog) {
      if (!entryAppliesToRoles(entry, node.roles)) continue;
      if (entry.localhostOnly && !seesLocalhost(vantage, node, address)) continue;
      const target = catalogTarget(
        vantage,
        node,
        address,
        entry,
        scope.kubernetesVersion,
        scope.facts,
      );
      if (keys.has(target.key) || !kept(scope, target)) continue;
      keys.add(target.key);
      targets.push(target);
    }
  }
  return targets;
}

/** The targets of one TCP NodePort on one node (one per address), filtered; none for UDP. */
export function planNodePortOnNode(
  scope: PlanScope,
  node: ClusterNode,
  nodePort: NodePort,
): Target[] {
  if (nodePort.protocol !== 'TCP') return [];
  const targets: Target[] = [];
  for (const address of node.addresses) {
    const target = nodePortTarget(scope.vantage, node, address, nodePort);
    if (kept(scope, target)) targets.push(target);
  }
  return targets;
}

/**
 * The target set: every catalog entry that applies to a node's roles, and every TCP
 * NodePort, on every address of every node. Where a NodePort shares its number with a catalog entry
 * (31234 and 31100 are NodePorts), the catalog entry wins: it carries the meaning.
 * incremental.ts plans the same set change by change.
 */
export function planTargets(input: PlanInput): Target[] {
  const scope = scopeOf(input);
  const nodes = nodesToProbe(input);
  const planned = new Map<string, Target>();
  const add = (target: Target) => {
    if (!planned.has(target.key)) planned.set(target.key, target);
  };
  for (const node of nodes) {
    for (const target of planNodeCatalog(scope, node)) add(target);
  }
  for (const node of nodes) {
    for (const nodePort of input.snapshot.nodePorts) {
      for (const target of planNodePortOnNode(scope, node, nodePort)) add(target);
    }
  }
  return [...planned.values()];
}

/** A node agent probes itself and its mesh peers; every other vantage probes every node. */
export function nodesToProbe(
  input: Pick<PlanInput, 'vantage' | 'snapshot' | 'meshPeers'>,
): readonly ClusterNode[] {
  const { vantage, snapshot, meshPeers: peerCount } = input;
  const self = snapshot.nodes.find((node) => node.name === vantage);
  if (!self || peerCount === undefined) return snapshot.nodes;
  const peers = new Set(
    meshPeers(
      self.name,
      snapshot.nodes.map((node) => node.name),
      peerCount,
    ),
  );
  return snapshot.nodes.filter((node) => node === self || peers.has(node.name));
}
