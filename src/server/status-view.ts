/**
 * What the status page shows, as data: nodes x ports from the result store, each cell
 * judged against what was expected, and the list of what fails. Pure: the store and
 * the time go in, a view comes out; the HTML is status-page.ts's job.
 */
import { CATALOG } from '../catalog/ports.js';
import type { Category, Role, Scope } from '../catalog/types.js';
import type { NodePortGroup } from '../discovery/types.js';
import type { ProbeState } from '../probe/types.js';
import type { IcmpEntry, ResultStore } from '../results/store.js';
import type { ExpectedState, Target } from '../targets/types.js';
import { judge, type Verdict } from '../targets/verdict.js';

/** The parts of the store the page reads. */
export type StatusStore = Pick<ResultStore, 'targets' | 'result' | 'nodes' | 'icmpResults'>;

/** A probe state, or `unprobed` before a target's first result. */
export type CellState = ProbeState | 'unprobed';

/** A cell against its expectation: the one judgement of targets/verdict.ts. */
export type { Verdict };

/** The catalog's ports (fixed, default, custom), or the NodePorts of one group. */
export type PortGroup = 'catalog' | NodePortGroup;
export const PORT_GROUPS: readonly PortGroup[] = [
  'catalog',
  'basic-service',
  'gis-environment',
  'other',
];

/** What the operator narrowed the page to (`/?node=worker-1&group=gis-environment`). */
export interface StatusFilter {
  readonly node?: string;
  readonly group?: PortGroup;
}

export interface StatusViewOptions {
  readonly filter?: StatusFilter;
  /**
   * At most this many NodePort columns; the ones with failures are kept first. The
   * catalog's columns are always shown. Default 40: 100 nodes x 200 NodePorts would
   * otherwise be 20,000 cells.
   */
  readonly maxNodePortColumns?: number;
}

/** One port across the nodes. */
export interface StatusColumn {
  readonly port: number;
  /** Catalog id, custom port id, or the NodePort's service port name. */
  readonly name: string;
  readonly component: string;
  readonly category: Category;
  readonly scope: Scope;
  readonly group: PortGroup;
  /** Present on NodePort columns. */
  readonly nodePort?: { readonly namespace: string; readonly service: string };
  /** Cells of this column that fail, over the nodes shown. */
  readonly failing: number;
}

/** One node x port. */
export interface StatusCell {
  readonly address: string;
  readonly state: CellState;
  readonly verdict: Verdict;
  /** A required target not as expected: it is in the failing list. */
  readonly failing: boolean;
  readonly expected: ExpectedState;
  readonly required: boolean;
  /** When the state last changed (wall-clock ms); absent before the first result. */
  readonly sinceMs?: number;
  readonly probedAtMs?: number;
  readonly latencySeconds?: number;
  /** The errno code or reason of a result that is not open. */
  readonly error?: string;
}

/** One row. */
export interface StatusNode {
  readonly name: string;
  readonly address: string;
  /** Empty when the store has no record of the node beyond its targets. */
  readonly roles: readonly Role[];
  readonly ready: boolean;
  /** The last ICMP echo, when ICMP probing runs. */
  readonly icmp?: { readonly up: boolean; readonly rttSeconds?: number };
  /** Failing cells of this node, shown and hidden columns alike. */
  readonly failing: number;
  /** Failing cells of this node in the columns left out by the cap. */
  readonly hiddenFailing: number;
}

/** One entry of the list of what fails. */
export interface FailingTarget {
  readonly node: string;
  readonly address: string;
  readonly port: number;
  readonly name: string;
  readonly component: string;
  readonly category: Category;
  readonly group: PortGroup;
  readonly nodePort?: { readonly namespace: string; readonly service: string };
  readonly state: ProbeState;
  readonly verdict: 'down' | 'exposed' | 'unknown';
  readonly expected: ExpectedState;
  readonly sinceMs: number;
  readonly error?: string;
  /** What the state means for the operator's next step. */
  readonly hint: string;
}

export interface StatusTotals {
  /** Targets after the filter. */
  readonly targets: number;
  readonly byState: Readonly<Record<CellState, number>>;
  readonly failing: number;
  /** Nodes with at least one failing target. */
  readonly failingNodes: number;
}

export interface StatusView {
  readonly nowMs: number;
  /** The filter as applied: unknown groups are dropped. */
  readonly filter: StatusFilter;
  /** Every node with targets, for the node filter, whatever the filter. */
  readonly allNodes: readonly string[];
  /** Groups that have targets, in PORT_GROUPS order, for the group filter. */
  readonly groups: readonly PortGroup[];
  /** Rows, after the node filter. */
  readonly nodes: readonly StatusNode[];
  /** Columns shown: the catalog in catalog order, custom ports, then NodePorts by group and number. */
  readonly columns: readonly StatusColumn[];
  /** Columns left out by the cap (all NodePorts), and their failing cells. */
  readonly hidden: { readonly columns: number; readonly failing: number };
  /** node name -> port -> cell; a missing cell means the port does not apply to the node. */
  readonly cells: ReadonlyMap<string, ReadonlyMap<number, StatusCell>>;
  /** Required targets not as expected: newest change first, then by node and column. */
  readonly failing: readonly FailingTarget[];
  readonly totals: StatusTotals;
  /** The latest probe over the targets shown; absent before any result. */
  readonly lastProbeMs?: number;
}

const CATALOG_ORDER: ReadonlyMap<string, number> = new Map(CATALOG.map((e, i) => [e.id, i]));

const DEFAULT_MAX_NODEPORT_COLUMNS = 40;

/** The group a target's port belongs to. */
export function groupOf(target: Pick<Target, 'nodePort'>): PortGroup {
  return target.nodePort?.group ?? 'catalog';
}

interface ColumnBuild {
  readonly port: number;
  readonly name: string;
  readonly component: string;
  readonly category: Category;
  readonly scope: Scope;
  readonly group: PortGroup;
  readonly nodePort?: { readonly namespace: string; readonly service: string };
  /** Sort key: catalog index, then custom in order of appearance, then NodePorts by number. */
  readonly rank: number;
  failing: number;
}

/** Builds the view of the store at `nowMs`. */
export function statusView(
  store: StatusStore,
  nowMs: number,
  options: StatusViewOptions = {},
): StatusView {
  const filter = cleanFilter(options.filter ?? {});
  const maxNodePorts = options.maxNodePortColumns ?? DEFAULT_MAX_NODEPORT_COLUMNS;
  const known = new Map(store.nodes().map((n) => [n.name, n]));
  const icmp = new Map<string, IcmpEntry>();
  for (const entry of store.icmpResults()) icmp.set(entry.node, entry);

  const allNodes: string[] = [];
  const rowOf = new Map<string, { address: string; failing: number; targets: number }>();
  const groupsSeen = new Set<PortGroup>();
  const columns = new Map<number, ColumnBuild>();
  const cells = new Map<string, Map<number, StatusCell>>();
  const failing: (FailingTarget & { rank: number })[] = [];
  const byState: Record<CellState, number> = {
    open: 0,
    refused: 0,
    timeout: 0,
    unreachable: 0,
    error: 0,
    rejected: 0,
    unprobed: 0,
  };
  let targets = 0;
  let customSeen = 0;
  let lastProbeMs: number | undefined;

  for (const target of store.targets()) {
    if (!rowOf.has(target.node)) {
      allNodes.push(target.node);
      rowOf.set(target.node, { address: target.address, failing: 0, targets: 0 });
    }
    const group = groupOf(target);
    groupsSeen.add(group);
    if (filter.node !== undefined && target.node !== filter.node) continue;
    if (filter.group !== undefined && group !== filter.group) continue;

    let column = columns.get(target.port);
    if (!column) {
      column = {
        port: target.port,
        name: target.portName,
        component: target.component,
        category: target.category,
        scope: target.scope,
        group,
        ...(target.nodePort && {
          nodePort: { namespace: target.nodePort.namespace, service: target.nodePort.service },
        }),
        rank: columnRank(target, customSeen),
        failing: 0,
      };
      if (target.category === 'custom') customSeen++;
      columns.set(target.port, column);
    }

    const result = store.result(target.key);
    const state: CellState = result?.state ?? 'unprobed';
    const judgement = judge(target, result?.state);
    const cell: StatusCell = {
      address: target.address,
      state,
      verdict: judgement.verdict,
      failing: judgement.failing,
      expected: target.expected,
      required: target.required,
      ...(result && {
        sinceMs: result.lastChangeMs,
        probedAtMs: result.probedAtMs,
        latencySeconds: result.durationSeconds,
      }),
      ...(result?.error !== undefined && { error: result.error }),
    };

    let row = cells.get(target.node);
    if (!row) {
      row = new Map();
      cells.set(target.node, row);
    }
    const before = row.get(target.port);
    // One port per node is one cell; should two targets share it, the failing one shows.
    if (before && (before.failing || !cell.failing)) continue;
    if (before) {
      targets--;
      byState[before.state]--;
    }
    row.set(target.port, cell);
    targets++;
    byState[state]++;
    if (result && (lastProbeMs === undefined || result.probedAtMs > lastProbeMs)) {
      lastProbeMs = result.probedAtMs;
    }
    if (cell.failing && result) {
      column.failing++;
      const info = rowOf.get(target.node);
      if (info) info.failing++;
      failing.push({
        node: target.node,
        address: target.address,
        port: target.port,
        name: target.portName,
        component: target.component,
        category: target.category,
        group,
        ...(column.nodePort && { nodePort: column.nodePort }),
        state: result.state,
        verdict: judgement.verdict as FailingTarget['verdict'],
        expected: target.expected,
        sinceMs: result.lastChangeMs,
        ...(result.error !== undefined && { error: result.error }),
        hint: judgement.advice,
        rank: column.rank,
      });
    }
  }

  // Failing NodePort columns first, so the cap never hides a failure it could show.
  const ordered = [...columns.values()].sort((a, b) => a.rank - b.rank);
  const nodePortColumns = ordered.filter((c) => c.category === 'nodeport');
  const keptNodePorts = new Set(
    [...nodePortColumns]
      .sort((a, b) => Number(b.failing > 0) - Number(a.failing > 0) || a.rank - b.rank)
      .slice(0, Math.max(0, maxNodePorts)),
  );
  const shown = ordered.filter((c) => c.category !== 'nodeport' || keptNodePorts.has(c));
  const hiddenPorts = new Set(
    nodePortColumns.filter((c) => !keptNodePorts.has(c)).map((c) => c.port),
  );

  // Rows as discovery lists the nodes; any it does not list follow, as the targets name them.
  const nodeOrder = new Map<string, number>();
  for (const n of store.nodes()) nodeOrder.set(n.name, nodeOrder.size);
  for (const name of allNodes) if (!nodeOrder.has(name)) nodeOrder.set(name, nodeOrder.size);
  const rowNames = allNodes
    .filter((name) => cells.has(name))
    .sort((a, b) => (nodeOrder.get(a) ?? 0) - (nodeOrder.get(b) ?? 0));
  const nodes: StatusNode[] = rowNames.map((name) => {
    const node = known.get(name);
    const echo = icmp.get(name);
    let hiddenFailing = 0;
    for (const [port, cell] of cells.get(name) ?? []) {
      if (cell.failing && hiddenPorts.has(port)) hiddenFailing++;
    }
    return {
      name,
      address: node?.addresses.join(', ') ?? rowOf.get(name)?.address ?? '',
      roles: node?.roles ?? [],
      ready: node?.ready ?? true,
      ...(echo && {
        icmp:
          echo.rttSeconds === undefined
            ? { up: echo.up }
            : { up: echo.up, rttSeconds: echo.rttSeconds },
      }),
      failing: rowOf.get(name)?.failing ?? 0,
      hiddenFailing,
    };
  });

  const nodeRank = new Map(rowNames.map((name, i) => [name, i]));
  failing.sort(
    (a, b) =>
      b.sinceMs - a.sinceMs ||
      (nodeRank.get(a.node) ?? 0) - (nodeRank.get(b.node) ?? 0) ||
      a.rank - b.rank,
  );

  return {
    nowMs,
    filter,
    allNodes,
    groups: PORT_GROUPS.filter((g) => groupsSeen.has(g)),
    nodes,
    columns: shown.map(({ rank: _rank, ...column }) => column),
    hidden: {
      columns: hiddenPorts.size,
      failing: nodePortColumns
        .filter((c) => hiddenPorts.has(c.port))
        .reduce((sum, c) => sum + c.failing, 0),
    },
    cells,
    failing: failing.map(({ rank: _rank, ...entry }) => entry),
    totals: {
      targets,
      byState,
      failing: failing.length,
      failingNodes: nodes.filter((n) => n.failing > 0).length,
    },
    ...(lastProbeMs !== undefined && { lastProbeMs }),
  };
}

/** Catalog entries by catalog index, custom ports after them, then NodePorts by group and number. */
function columnRank(target: Target, customSeen: number): number {
  if (target.category === 'nodeport') {
    return 2_000_000 + PORT_GROUPS.indexOf(groupOf(target)) * 100_000 + target.port;
  }
  const index = CATALOG_ORDER.get(target.portName);
  if (index !== undefined && target.category !== 'custom') return index;
  return 1_000_000 + customSeen;
}

function cleanFilter(filter: StatusFilter): StatusFilter {
  const node = filter.node === '' ? undefined : filter.node;
  const group = PORT_GROUPS.includes(filter.group as PortGroup) ? filter.group : undefined;
  return {
    ...(node !== undefined && { node }),
    ...(group !== undefined && { group }),
  };
}

/** The filter from query parameters; anything else in the query is ignored. */
export function filterFromQuery(query: Readonly<Record<string, unknown>>): StatusFilter {
  const node = firstString(query.node);
  const group = firstString(query.group);
  return cleanFilter({
    ...(node !== undefined && { node }),
    ...(group !== undefined && { group: group as PortGroup }),
  });
}

function firstString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}
