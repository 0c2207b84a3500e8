/**
 * The planner, change by change: a snapshot that differs from the last in a few nodes
 * or NodePorts re-plans only those. A changed node gets its catalog targets and its
 * NodePort targets planned again; an added or changed NodePort is planned on every
 * node; what went is dropped. Everything else keeps its Target objects, so the store
 * sees the same objects and copies their rows as they were.
 *
 * Telling what changed costs a signature (a JSON text) per node and per NodePort: a
 * few hundred of them, against tens of thousands of targets. A change of what every
 * target depends on (the catalog, the vantage, the Kubernetes version, the cluster's
 * facts, the shard, the mesh) plans everything again.
 *
 * The set equals planTargets' (a test holds them to it); only the order differs: each
 * node's catalog targets, then its NodePorts', node by node.
 */
import type { ClusterNode, NodePort } from '../discovery/types.js';
import {
  nodesToProbe,
  type PlanInput,
  type PlanScope,
  planNodeCatalog,
  planNodePortOnNode,
  scopeOf,
} from './planner.js';
import type { Target } from './types.js';

/** What one update did; `planned` is what it cost. */
export interface PlanChange {
  /** Every target, for the store and the scheduler. */
  readonly targets: readonly Target[];
  /** Targets built by this update: the work it did. */
  readonly planned: number;
  /**
   * Unless `whole`: the targets that went (objects of the last update) and the targets
   * that came (a key in both changed what it shows), for a store that updates rows.
   */
  readonly removed: readonly Target[];
  readonly added: readonly Target[];
  /** True when everything was planned again (first update, or the scope changed). */
  readonly whole: boolean;
  /** True when the target set is the one of the last update, object for object. */
  readonly unchanged: boolean;
}

/** One node's targets. */
interface NodeBlock {
  readonly signature: string;
  readonly node: ClusterNode;
  readonly catalog: readonly Target[];
  readonly catalogKeys: ReadonlySet<string>;
  /** The addresses the catalog targets name, in order. */
  readonly catalogAddresses: readonly string[];
  /** NodePort id -> its targets on this node (absent: none, e.g. UDP or the catalog's number). */
  readonly nodePorts: Map<string, readonly Target[]>;
  /** Target key -> the NodePort id that has it: two NodePorts of one number, the first keeps it. */
  readonly owners: Map<string, string>;
}

interface PlannedNodePort {
  /** nodePortId: made once a snapshot, and that one string keys it on every node. */
  readonly id: string;
  readonly signature: string;
  readonly nodePort: NodePort;
}

/** Names a NodePort across snapshots: a service's port, whatever else of it changes. */
function nodePortId(p: NodePort): string {
  return `${p.namespace}/${p.service}/${p.portName}/${p.protocol}/${p.nodePort}`;
}

export class IncrementalPlanner {
  #scopeSignature: string | undefined;
  #scope: PlanScope | undefined;
  #blocks = new Map<string, NodeBlock>();
  #nodePorts = new Map<string, PlannedNodePort>();
  #targets: readonly Target[] = [];

  /** The targets of the last update. */
  get targets(): readonly Target[] {
    return this.#targets;
  }

  /** Plans `input`, re-planning only what changed since the last call. */
  update(input: PlanInput): PlanChange {
    const scopeSignature = signatureOfScope(input);
    const whole = scopeSignature !== this.#scopeSignature;
    if (whole) {
      this.#scopeSignature = scopeSignature;
      this.#blocks = new Map();
      this.#nodePorts = new Map();
    }
    const scope = scopeOf(input);
    this.#scope = scope;
    let planned = 0;
    const removed: Target[] = [];
    const added: Target[] = [];

    // The NodePorts: which are new or changed, which went.
    const nodePorts = new Map<string, PlannedNodePort>();
    const changedNodePorts: PlannedNodePort[] = [];
    for (const nodePort of input.snapshot.nodePorts) {
      const id = nodePortId(nodePort);
      if (nodePorts.has(id)) continue;
      const signature = JSON.stringify(nodePort);
      const entry = { id, signature, nodePort };
      nodePorts.set(id, entry);
      if (this.#nodePorts.get(id)?.signature !== signature) changedNodePorts.push(entry);
    }
    const goneNodePorts = [...this.#nodePorts.keys()].filter((id) => !nodePorts.has(id));
    this.#nodePorts = nodePorts;

    // The nodes: a new or changed one is planned whole; the others take the NodePort changes.
    const blocks = new Map<string, NodeBlock>();
    let changed = whole;
    for (const node of nodesToProbe(input)) {
      if (blocks.has(node.name)) continue;
      const signature = JSON.stringify(node);
      const before = this.#blocks.get(node.name);
      if (before === undefined || before.signature !== signature) {
        const block = this.#planNode(scope, node, signature, nodePorts);
        planned += countOf(block);
        if (before) pushTargets(removed, before);
        pushTargets(added, block);
        blocks.set(node.name, block);
        changed = true;
        continue;
      }
      for (const id of goneNodePorts) {
        const gone = dropNodePort(before, id);
        if (gone.length > 0) changed = true;
        for (const t of gone) removed.push(t);
      }
      for (const entry of changedNodePorts) {
        // The entry's id, not a new one per node: at 100 nodes, 100 copies of each
        // churned NodePort's id were kept (5 MB of strings at 195 NodePorts).
        const { id } = entry;
        for (const t of dropNodePort(before, id)) removed.push(t);
        const targets = this.#planNodePort(scope, before, id, entry.nodePort);
        for (const t of targets) added.push(t);
        planned += targets.length;
        changed = true;
      }
      blocks.set(node.name, before);
    }
    for (const [name, block] of this.#blocks) {
      if (blocks.has(name)) continue;
      pushTargets(removed, block);
      changed = true;
    }
    this.#blocks = blocks;
    if (changed) this.#targets = flatten(blocks);
    return { targets: this.#targets, planned, removed, added, whole, unchanged: !changed };
  }

  /**
   * The distinct (node, address) pairs the targets name, without walking the targets:
   * the catalog's addresses of each node (its own, or 127.0.0.1 for a port bound to
   * loopback), and its own addresses where it has NodePort targets.
   */
  nodeAddresses(): { readonly vantage: string; readonly node: string; readonly address: string }[] {
    const vantage = this.#scope?.vantage ?? '';
    const pairs: { vantage: string; node: string; address: string }[] = [];
    for (const block of this.#blocks.values()) {
      const addresses = new Set(block.catalogAddresses);
      if (block.nodePorts.size > 0) for (const a of block.node.addresses) addresses.add(a);
      for (const address of addresses) pairs.push({ vantage, node: block.node.name, address });
    }
    return pairs;
  }

  #planNode(
    scope: PlanScope,
    node: ClusterNode,
    signature: string,
    nodePorts: ReadonlyMap<string, PlannedNodePort>,
  ): NodeBlock {
    const catalog = planNodeCatalog(scope, node);
    const block: NodeBlock = {
      signature,
      node,
      catalog,
      catalogKeys: new Set(catalog.map((t) => t.key)),
      catalogAddresses: [...new Set(catalog.map((t) => t.address))],
      nodePorts: new Map(),
      owners: new Map(),
    };
    for (const [id, entry] of nodePorts) this.#planNodePort(scope, block, id, entry.nodePort);
    return block;
  }

  /**
   * Plans a NodePort on a node into its block; a key the catalog or another NodePort
   * has stays theirs (the catalog entry carries the meaning; the API forbids two TCP
   * NodePorts of one number, so the second case is a malformed cluster's).
   */
  #planNodePort(scope: PlanScope, block: NodeBlock, id: string, nodePort: NodePort): Target[] {
    const targets = planNodePortOnNode(scope, block.node, nodePort).filter(
      (t) => !block.catalogKeys.has(t.key) && !block.owners.has(t.key),
    );
    if (targets.length === 0) return targets;
    block.nodePorts.set(id, targets);
    for (const t of targets) block.owners.set(t.key, id);
    return targets;
  }
}

/** Removes a NodePort's targets from a block; returns them. */
function dropNodePort(block: NodeBlock, id: string): readonly Target[] {
  const targets = block.nodePorts.get(id);
  if (targets === undefined) return [];
  block.nodePorts.delete(id);
  for (const t of targets) block.owners.delete(t.key);
  return targets;
}

function pushTargets(into: Target[], block: NodeBlock): void {
  for (const t of block.catalog) into.push(t);
  for (const targets of block.nodePorts.values()) for (const t of targets) into.push(t);
}

function countOf(block: NodeBlock): number {
  let count = block.catalog.length;
  for (const targets of block.nodePorts.values()) count += targets.length;
  return count;
}

/** One array of every block's targets: pointers copied, nothing planned. */
function flatten(blocks: ReadonlyMap<string, NodeBlock>): Target[] {
  const all: Target[] = [];
  for (const block of blocks.values()) {
    for (const target of block.catalog) all.push(target);
    for (const targets of block.nodePorts.values()) {
      for (const target of targets) all.push(target);
    }
  }
  return all;
}

/** What every target depends on besides its node and NodePort. */
function signatureOfScope(input: PlanInput): string {
  return JSON.stringify([
    input.vantage,
    input.catalog,
    input.snapshot.kubernetesVersion ?? null,
    input.snapshot.facts ?? null,
    input.shard ?? null,
    input.meshPeers ?? null,
    input.keep === undefined ? null : keepIdentity(input.keep),
  ]);
}

const keepIds = new WeakMap<object, number>();
let nextKeepId = 1;
function keepIdentity(keep: object): number {
  let id = keepIds.get(keep);
  if (id === undefined) {
    id = nextKeepId++;
    keepIds.set(keep, id);
  }
  return id;
}
