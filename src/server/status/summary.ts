/**
 * Counts over a snapshot, once per snapshot, in slices: per scope (every port, or one
 * group of ports), per node and per port, and what fails grouped by node and cause.
 * A page request reads these instead of walking the targets: at 100,000 targets the
 * page of every node is built from tallies, not rows.
 */
import { CATALOG } from '../../catalog/ports.js';
import type { Category, Scope } from '../../catalog/types.js';
import type { NodePortGroup } from '../../discovery/types.js';
import { NODE_DOWN_STATES } from '../../probe/states.js';
import { PROBE_STATES, type ProbeState } from '../../probe/types.js';
import type { Target } from '../../targets/types.js';
import { type Group, type GroupKey, groupInSlices, groupItems } from './grouping.js';
import { SLICE_ROWS, type StatusSnapshot, UNPROBED_CODE, VERDICT_CODES } from './snapshot.js';

/** The catalog's ports (fixed, default, custom), or the NodePorts of one group. */
export type PortGroup = 'catalog' | NodePortGroup;
export const PORT_GROUPS: readonly PortGroup[] = [
  'catalog',
  'basic-service',
  'gis-environment',
  'other',
];
/** Every port, or one group. */
export type ScopeName = 'all' | PortGroup;

/** Index of a state in a tally: PROBE_STATES order, `unprobed` last. */
export const UNPROBED_INDEX = PROBE_STATES.length;
export const STATE_SLOTS = PROBE_STATES.length + 1;

/** The group a target's port belongs to. */
export function groupOf(target: Pick<Target, 'nodePort'>): PortGroup {
  return target.nodePort?.group ?? 'catalog';
}

export interface NodeTally {
  targets: number;
  failing: number;
  /** Targets per state, STATE_SLOTS long. */
  readonly byState: number[];
  /** Sum, count and maximum of the connect times of open targets. */
  latencySum: number;
  latencyCount: number;
  latencyMax: number;
}

/** What names one port across the nodes: a column of the page. */
export interface ColumnIdentity {
  readonly port: number;
  /** Catalog id, custom port id, or the NodePort's service port name. */
  readonly name: string;
  readonly component: string;
  readonly category: Category;
  readonly scope: Scope;
  readonly group: PortGroup;
  readonly nodePort?: { readonly namespace: string; readonly service: string };
}

export interface ColumnTally extends ColumnIdentity {
  /** Catalog index, then custom in order of appearance, then NodePorts by group and number. */
  readonly rank: number;
  /** Targets of this port in the scope, and how many of them fail. */
  cells: number;
  failing: number;
  /** Nodes with this port in the scope (targets come node by node: counted on a change of node). */
  nodes: number;
  lastNode: string;
}

/** One row of what fails: its rows in the snapshot, and how it sorts. */
export interface FailureGroup extends Group<number> {
  /** 0 worst: exposures, then nodes where nothing answers, then by state. */
  readonly severity: number;
  /** The oldest change among its rows. */
  readonly sinceMs: number;
}

export interface ScopeSummary {
  readonly targets: number;
  /** STATE_SLOTS long. */
  readonly byState: readonly number[];
  /** Failing targets. */
  readonly failing: number;
  readonly failingNodes: number;
  /** Nodes with targets in this scope, in display order. */
  readonly nodes: ReadonlyMap<string, NodeTally>;
  /** Ports in rank order. */
  readonly columns: readonly ColumnTally[];
  /** What fails, worst first. */
  readonly groups: readonly FailureGroup[];
  readonly lastProbeMs?: number;
}

export interface SnapshotSummary {
  readonly scopes: ReadonlyMap<ScopeName, ScopeSummary>;
  /** Every row of each node, in row order; nodes in display order (discovery's, then the targets'). */
  readonly rowsByNode: ReadonlyMap<string, readonly number[]>;
  /** Nodes where some target was probed and every probed one answered nothing (NODE_DOWN_STATES). */
  readonly nothingAnswers: ReadonlySet<string>;
  /** Groups that have targets, in PORT_GROUPS order. */
  readonly groups: readonly PortGroup[];
}

const CATALOG_ORDER: ReadonlyMap<string, number> = new Map(CATALOG.map((e, i) => [e.id, i]));
const OPEN = PROBE_STATES.indexOf('open');
/** The state codes of a node that answers nothing: NODE_DOWN_STATES. */
const SILENT = new Set(NODE_DOWN_STATES.map((s) => PROBE_STATES.indexOf(s)));

/** `verdict/state` by verdict code and state code, built once: no string per row. */
const CAUSES: readonly (readonly string[])[] = VERDICT_CODES.map((verdict) =>
  PROBE_STATES.map((state) => `${verdict}/${state}`),
);
const ERROR = PROBE_STATES.indexOf('error');

/** The cause rows group by: verdict and state, and the reason of an `error`. */
export function causeOf(snapshot: StatusSnapshot, row: number): string {
  const code = snapshot.state[row] as number;
  const cause = CAUSES[snapshot.verdict[row] as number]?.[code] ?? 'unknown/error';
  return code === ERROR ? `${cause}/${snapshot.error[row] ?? ''}` : cause;
}

/** Worst first: an exposure, a node where nothing answers, then what the state says. */
const STATE_SEVERITY: Readonly<Record<ProbeState, number>> = {
  open: 0,
  unreachable: 2,
  timeout: 3,
  rejected: 3,
  refused: 4,
  error: 5,
};

function severityOf(group: Group<number>): number {
  if (group.cause.startsWith('exposed/')) return 0;
  if (group.nodeDown) return 1;
  const state = group.cause.split('/')[1] as ProbeState;
  return STATE_SEVERITY[state] ?? 5;
}

export async function summarize(
  snapshot: StatusSnapshot,
  yieldTurn: () => Promise<void>,
): Promise<SnapshotSummary> {
  const { targets } = snapshot;
  const n = targets.length;
  const rowsByNode = new Map<string, number[]>();
  const answered = new Set<string>();
  const probed = new Set<string>();
  const builds = new Map<ScopeName, ScopeBuild>();
  const customRank = new Map<number, number>();
  const buildOf = (name: ScopeName): ScopeBuild => {
    let b = builds.get(name);
    if (!b) {
      b = newBuild();
      builds.set(name, b);
    }
    return b;
  };

  for (let start = 0; start < n; start += SLICE_ROWS) {
    if (start > 0) await yieldTurn();
    const end = Math.min(n, start + SLICE_ROWS);
    for (let row = start; row < end; row++) {
      const t = targets[row] as Target;
      let rows = rowsByNode.get(t.node);
      if (!rows) {
        rows = [];
        rowsByNode.set(t.node, rows);
      }
      rows.push(row);
      const code = snapshot.state[row] as number;
      if (code !== UNPROBED_CODE) probed.add(t.node);
      if (code !== UNPROBED_CODE && !SILENT.has(code)) answered.add(t.node);
      if (t.category === 'custom' && !customRank.has(t.port))
        customRank.set(t.port, customRank.size);
      const group = groupOf(t);
      tally(buildOf('all'), snapshot, row, t, group, customRank);
      tally(buildOf(group), snapshot, row, t, group, customRank);
    }
  }

  // Rows as discovery lists the nodes; any it does not list follow, as the targets name them.
  const order = new Map<string, number>();
  for (const node of snapshot.nodes)
    if (rowsByNode.has(node.name)) order.set(node.name, order.size);
  for (const name of rowsByNode.keys()) if (!order.has(name)) order.set(name, order.size);
  const rank = (name: string) => order.get(name) ?? 0;
  const nothingAnswers = new Set([...probed].filter((node) => !answered.has(node)));

  const scopes = new Map<ScopeName, ScopeSummary>();
  for (const [name, build] of builds) {
    await yieldTurn();
    const groups = await groupInSlices(
      build.failingRows,
      (row) => keyOfRow(snapshot, row),
      (node) => nothingAnswers.has(node),
      yieldTurn,
    );
    scopes.set(name, finish(build, rank, sortGroups(groups, snapshot)));
  }
  return {
    scopes,
    rowsByNode: new Map([...rowsByNode].sort((a, b) => rank(a[0]) - rank(b[0]))),
    nothingAnswers,
    groups: PORT_GROUPS.filter((g) => builds.has(g)),
  };
}

interface ScopeBuild {
  targets: number;
  readonly byState: number[];
  failing: number;
  readonly nodes: Map<string, NodeTally>;
  readonly columns: Map<number, ColumnTally>;
  readonly failingRows: number[];
  lastProbeMs: number | undefined;
}

function newBuild(): ScopeBuild {
  return {
    targets: 0,
    byState: new Array(STATE_SLOTS).fill(0),
    failing: 0,
    nodes: new Map(),
    columns: new Map(),
    failingRows: [],
    lastProbeMs: undefined,
  };
}

export function newNodeTally(): NodeTally {
  return {
    targets: 0,
    failing: 0,
    byState: new Array(STATE_SLOTS).fill(0),
    latencySum: 0,
    latencyCount: 0,
    latencyMax: 0,
  };
}

function bump(counts: number[], index: number): void {
  counts[index] = (counts[index] ?? 0) + 1;
}

/** Adds one row to a node's tally. */
export function tallyNode(node: NodeTally, snapshot: StatusSnapshot, row: number): void {
  const code = snapshot.state[row] as number;
  node.targets++;
  bump(node.byState, code === UNPROBED_CODE ? UNPROBED_INDEX : code);
  if (snapshot.failing[row] === 1) node.failing++;
  if (code === OPEN) {
    const seconds = snapshot.durationSeconds[row] as number;
    node.latencySum += seconds;
    node.latencyCount++;
    if (seconds > node.latencyMax) node.latencyMax = seconds;
  }
}

function tally(
  build: ScopeBuild,
  snapshot: StatusSnapshot,
  row: number,
  t: Target,
  group: PortGroup,
  customRank: ReadonlyMap<number, number>,
): void {
  const code = snapshot.state[row] as number;
  build.targets++;
  bump(build.byState, code === UNPROBED_CODE ? UNPROBED_INDEX : code);
  if (code !== UNPROBED_CODE) {
    const at = snapshot.probedAtMs[row] as number;
    if (build.lastProbeMs === undefined || at > build.lastProbeMs) build.lastProbeMs = at;
  }
  let node = build.nodes.get(t.node);
  if (!node) {
    node = newNodeTally();
    build.nodes.set(t.node, node);
  }
  tallyNode(node, snapshot, row);
  let column = build.columns.get(t.port);
  if (!column) {
    column = newColumn(t, group, customRank);
    build.columns.set(t.port, column);
  }
  countCell(column, t.node);
  if (snapshot.failing[row] === 1) {
    build.failing++;
    column.failing++;
    build.failingRows.push(row);
  }
}

/** One more target of a column, on `node`. */
export function countCell(column: ColumnTally, node: string): void {
  column.cells++;
  if (column.lastNode !== node) {
    column.nodes++;
    column.lastNode = node;
  }
}

export function newColumn(
  t: Target,
  group: PortGroup,
  customRank: ReadonlyMap<number, number>,
): ColumnTally {
  return {
    port: t.port,
    name: t.portName,
    component: t.component,
    category: t.category,
    scope: t.scope,
    group,
    ...(t.nodePort && {
      nodePort: { namespace: t.nodePort.namespace, service: t.nodePort.service },
    }),
    rank: columnRank(t, group, customRank),
    cells: 0,
    failing: 0,
    nodes: 0,
    lastNode: '',
  };
}

/** Catalog entries by catalog index, custom ports after them, then NodePorts by group and number. */
function columnRank(t: Target, group: PortGroup, customRank: ReadonlyMap<number, number>): number {
  if (t.category === 'nodeport') {
    return 2_000_000 + PORT_GROUPS.indexOf(group) * 100_000 + t.port;
  }
  const index = CATALOG_ORDER.get(t.portName);
  if (index !== undefined && t.category !== 'custom') return index;
  return 1_000_000 + (customRank.get(t.port) ?? 0);
}

function finish(
  build: ScopeBuild,
  rank: (node: string) => number,
  groups: FailureGroup[],
): ScopeSummary {
  const nodes = new Map([...build.nodes].sort((a, b) => rank(a[0]) - rank(b[0])));
  return {
    targets: build.targets,
    byState: build.byState,
    failing: build.failing,
    failingNodes: [...nodes.values()].filter((t) => t.failing > 0).length,
    nodes,
    columns: [...build.columns.values()].sort((a, b) => a.rank - b.rank),
    groups,
    ...(build.lastProbeMs !== undefined && { lastProbeMs: build.lastProbeMs }),
  };
}

function keyOfRow(snapshot: StatusSnapshot, row: number): GroupKey {
  const t = snapshot.targets[row] as Target;
  return { node: t.node, port: t.port, cause: causeOf(snapshot, row) };
}

/**
 * Groups failing rows by node and cause, worst first, in one go: for the rows of one
 * node (a request). Rows stay in the store's order (the planner's: node by node).
 */
export function groupFailures(
  rows: readonly number[],
  snapshot: StatusSnapshot,
  nothingAnswers: ReadonlySet<string>,
): FailureGroup[] {
  const groups = groupItems(
    rows,
    (row) => keyOfRow(snapshot, row),
    (node) => nothingAnswers.has(node),
  );
  return sortGroups(groups, snapshot);
}

function sortGroups(groups: readonly Group<number>[], snapshot: StatusSnapshot): FailureGroup[] {
  const sorted = groups.map((g): FailureGroup => {
    let sinceMs = Number.POSITIVE_INFINITY;
    for (const row of g.items) sinceMs = Math.min(sinceMs, snapshot.lastChangeMs[row] as number);
    return { ...g, severity: severityOf(g), sinceMs };
  });
  return sorted.sort(
    (a, b) =>
      a.severity - b.severity ||
      b.items.length - a.items.length ||
      a.sinceMs - b.sinceMs ||
      (a.items[0] as number) - (b.items[0] as number),
  );
}
