/**
 * What the status page shows, as data: from the page's latest snapshot and its tallies
 * (status/latest.ts), a filter and a page number, the view of one request. Pure and
 * bounded: the work of a request is the rows of one node, the failure rows of one page,
 * or, below MATRIX_MAX_TARGETS, the matrix's cells; never the whole store. The HTML is
 * status-page.ts's job.
 */
import type { Role } from '../catalog/types.js';
import { PROBE_STATES, type ProbeState } from '../probe/types.js';
import type { ExpectedState, Target } from '../targets/types.js';
import type { Verdict } from '../targets/verdict.js';
import type { PageData } from './status/latest.js';
import type { StatusFilter, StatusQuery } from './status/query.js';
import {
  clampPage,
  type FailureRow,
  failurePage,
  type Paged,
  type RecoveryRow,
  recoveryRows,
} from './status/rows.js';
import { UNPROBED_CODE, VERDICT_CODES } from './status/snapshot.js';
import {
  type ColumnIdentity,
  type ColumnTally,
  countCell,
  groupFailures,
  groupOf,
  type NodeTally,
  newColumn,
  newNodeTally,
  PORT_GROUPS,
  type PortGroup,
  type ScopeName,
  STATE_SLOTS,
  tallyNode,
  UNPROBED_INDEX,
} from './status/summary.js';

export {
  queryFromParams,
  type StatusFilter,
  type StatusQuery,
  StatusQueryError,
} from './status/query.js';
export type { FailureRow, Paged, RecoveryRow } from './status/rows.js';
export { groupOf, PORT_GROUPS, type PortGroup };

/** A probe state, or `unprobed` before a target's first result. */
export type CellState = ProbeState | 'unprobed';
export const CELL_STATES: readonly CellState[] = [...PROBE_STATES, 'unprobed'];

/** A cell against its expectation: the one judgement of targets/verdict.ts. */
export type { Verdict };

export interface StatusViewOptions {
  /** At most this many NodePort columns in the matrix, failing ones kept first. Default 40. */
  readonly maxNodePortColumns?: number;
  /** Rows of the list of what fails per page. Default 50. */
  readonly failingRowsPerPage?: number;
  /** Rows of the node table per page. Default 100. */
  readonly nodesPerPage?: number;
  /** Above this many targets in scope, or MATRIX_MAX_CELLS cells, a node table replaces the matrix. */
  readonly matrixMaxTargets?: number;
  readonly matrixMaxCells?: number;
  /** Recoveries listed. Default 20. */
  readonly maxRecoveryRows?: number;
}

export const MATRIX_MAX_TARGETS = 25_000;
export const MATRIX_MAX_CELLS = 6_000;
const DEFAULTS = {
  maxNodePortColumns: 40,
  failingRowsPerPage: 50,
  nodesPerPage: 100,
  matrixMaxTargets: MATRIX_MAX_TARGETS,
  matrixMaxCells: MATRIX_MAX_CELLS,
  maxRecoveryRows: 20,
} as const;

/** One port across the nodes. */
export interface StatusColumn extends ColumnIdentity {
  /** Targets of this column that fail, over the nodes in scope. */
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
  /** No change seen since this process first probed it, in its first cycle. */
  readonly sinceStart?: boolean;
  /** No change seen since this process first probed it (later than its first cycle). */
  readonly unchanged?: boolean;
  readonly probedAtMs?: number;
  readonly latencySeconds?: number;
  /** The errno code or reason of a result that is not open. */
  readonly error?: string;
}

/** One node, as a matrix row or a node table row. */
export interface StatusNode {
  readonly name: string;
  readonly address: string;
  /** Empty when the store has no record of the node beyond its targets. */
  readonly roles: readonly Role[];
  readonly ready: boolean;
  /** The last ICMP echo, when ICMP probing runs. */
  readonly icmp?: { readonly up: boolean; readonly rttSeconds?: number };
  /** Targets of the node in scope. */
  readonly targets: number;
  readonly byState: Readonly<Record<CellState, number>>;
  /** Failing targets of this node in scope. */
  readonly failing: number;
  /** Failing cells of this node in the columns the matrix leaves out. */
  readonly hiddenFailing: number;
  /** Connect times of its open targets. */
  readonly latency?: { readonly meanSeconds: number; readonly maxSeconds: number };
  /** Nothing of it answered (open or refused): down or cut off from this vantage. */
  readonly nothingAnswers: boolean;
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
  /** When the data shown was taken, and when the first copy was (what "since start" means). */
  readonly takenAtMs: number;
  readonly firstTakenAtMs: number;
  readonly filter: StatusFilter;
  /** The node asked for has no targets (or never had): the page says so with a 404. */
  readonly unknownNode: boolean;
  /** Every node with targets, for the node filter, whatever the filter. */
  readonly allNodes: readonly string[];
  /** Groups that have targets, in PORT_GROUPS order. */
  readonly groups: readonly PortGroup[];
  readonly totals: StatusTotals;
  /** The latest probe over the targets shown; absent before any result there. */
  readonly lastProbeMs?: number;
  /** The latest probe over every target, for when the filter shows none. */
  readonly lastProbeAnyMs?: number;
  readonly failing: Paged<FailureRow>;
  /** Nodes x ports, when small enough. */
  readonly matrix?: {
    readonly nodes: readonly StatusNode[];
    readonly columns: readonly StatusColumn[];
    /** Columns left out by the cap (all NodePorts), and their failing cells. */
    readonly hidden: { readonly columns: number; readonly failing: number };
    /** node name -> port -> cell; a missing cell means the port does not apply to the node. */
    readonly cells: ReadonlyMap<string, ReadonlyMap<number, StatusCell>>;
  };
  /** One row per node instead of the matrix, above its size. */
  readonly nodeTable?: Paged<StatusNode>;
  /** With a node filter: each port of the node, with its latency and since when. */
  readonly ports?: readonly (StatusCell & { readonly column: StatusColumn })[];
  readonly recoveries: { readonly rows: readonly RecoveryRow[]; readonly total: number };
}

/** Builds the view of one request. */
export function statusView(
  data: PageData,
  nowMs: number,
  query: StatusQuery,
  options: StatusViewOptions = {},
): StatusView {
  const o = { ...DEFAULTS, ...options };
  const { snapshot, summary } = data;
  const filter = query.filter;
  const scopeName: ScopeName = filter.group ?? 'all';
  const allNodes = [...summary.rowsByNode.keys()];
  const unknownNode = filter.node !== undefined && !summary.rowsByNode.has(filter.node);
  const everything = summary.scopes.get('all');
  const base = {
    nowMs,
    takenAtMs: snapshot.takenAtMs,
    firstTakenAtMs: snapshot.firstTakenAtMs,
    filter,
    unknownNode,
    allNodes,
    groups: summary.groups,
    ...(everything?.lastProbeMs !== undefined && { lastProbeAnyMs: everything.lastProbeMs }),
  };
  const nodeInfo = nodeInfoOf(data);

  if (filter.node !== undefined) {
    const rows = (summary.rowsByNode.get(filter.node) ?? []).filter(
      (row) =>
        filter.group === undefined || groupOf(snapshot.targets[row] as Target) === filter.group,
    );
    const tally = newNodeTally();
    const columns = new Map<number, ColumnTally>();
    const customRank = new Map<number, number>();
    const failingRows: number[] = [];
    let lastProbeMs: number | undefined;
    for (const row of rows) {
      const t = snapshot.targets[row] as Target;
      tallyNode(tally, snapshot, row);
      if (t.category === 'custom' && !customRank.has(t.port))
        customRank.set(t.port, customRank.size);
      let column = columns.get(t.port);
      if (!column) {
        column = newColumn(t, groupOf(t), customRank);
        columns.set(t.port, column);
      }
      countCell(column, t.node);
      if (snapshot.failing[row] === 1) {
        column.failing++;
        failingRows.push(row);
      }
      if (snapshot.state[row] !== UNPROBED_CODE) {
        const at = snapshot.probedAtMs[row] as number;
        if (lastProbeMs === undefined || at > lastProbeMs) lastProbeMs = at;
      }
    }
    const ordered = [...columns.values()].sort((a, b) => a.rank - b.rank);
    const cells = cellsOf(data, rows);
    const node = rows.length > 0 ? nodeOf(filter.node, tally, nodeInfo, 0) : undefined;
    const groups = groupFailures(failingRows, snapshot, summary.nothingAnswers);
    const columnOut = ordered.map(stripRank);
    return {
      ...base,
      totals: totalsOf(tally.targets, tally.byState, tally.failing, tally.failing > 0 ? 1 : 0),
      ...(lastProbeMs !== undefined && { lastProbeMs }),
      failing: failurePage(
        groups,
        data,
        scopeColumns(ordered),
        query.failingPage,
        o.failingRowsPerPage,
      ),
      ...(node && {
        matrix: {
          nodes: [node],
          columns: columnOut,
          hidden: { columns: 0, failing: 0 },
          cells,
        },
      }),
      ports: columnOut.flatMap((column) => {
        const cell = cells.get(filter.node as string)?.get(column.port);
        return cell ? [{ ...cell, column }] : [];
      }),
      recoveries: recoveryRows(data, filter, o.maxRecoveryRows),
    };
  }

  const scope = summary.scopes.get(scopeName);
  if (!scope) {
    return {
      ...base,
      totals: totalsOf(0, new Array(STATE_SLOTS).fill(0), 0, 0),
      failing: { rows: [], total: 0, page: 1, pages: 1 },
      recoveries: recoveryRows(data, filter, o.maxRecoveryRows),
    };
  }
  const common = {
    ...base,
    totals: totalsOf(scope.targets, scope.byState, scope.failing, scope.failingNodes),
    ...(scope.lastProbeMs !== undefined && { lastProbeMs: scope.lastProbeMs }),
    failing: failurePage(
      scope.groups,
      data,
      scopeColumns(scope.columns),
      query.failingPage,
      o.failingRowsPerPage,
    ),
    recoveries: recoveryRows(data, filter, o.maxRecoveryRows),
  };

  // The matrix: catalog columns always, NodePorts capped with the failing ones first.
  const nodePortColumns = scope.columns.filter((c) => c.category === 'nodeport');
  const keptNodePorts = new Set(
    [...nodePortColumns]
      .sort((a, b) => Number(b.failing > 0) - Number(a.failing > 0) || a.rank - b.rank)
      .slice(0, Math.max(0, o.maxNodePortColumns)),
  );
  const shown = scope.columns.filter((c) => c.category !== 'nodeport' || keptNodePorts.has(c));
  const small =
    scope.targets <= o.matrixMaxTargets && scope.nodes.size * shown.length <= o.matrixMaxCells;
  if (!small) {
    const names = [...scope.nodes.keys()];
    const pages = Math.max(1, Math.ceil(names.length / o.nodesPerPage));
    const page = clampPage(query.nodePage, pages);
    const slice = names.slice((page - 1) * o.nodesPerPage, page * o.nodesPerPage);
    return {
      ...common,
      nodeTable: {
        rows: slice.map((name) => nodeOf(name, scope.nodes.get(name) as NodeTally, nodeInfo, 0)),
        total: names.length,
        page,
        pages,
      },
    };
  }

  const hiddenPorts = new Set(
    nodePortColumns.filter((c) => !keptNodePorts.has(c)).map((c) => c.port),
  );
  const shownPorts = new Set(shown.map((c) => c.port));
  // Cells only for the columns shown; the hidden columns' failures are counted, not built.
  const rows: number[] = [];
  const hiddenFailing = new Map<string, number>();
  for (const name of scope.nodes.keys()) {
    for (const row of summary.rowsByNode.get(name) ?? []) {
      const t = snapshot.targets[row] as Target;
      if (filter.group !== undefined && groupOf(t) !== filter.group) continue;
      if (shownPorts.has(t.port)) rows.push(row);
      else if (snapshot.failing[row] === 1) {
        hiddenFailing.set(name, (hiddenFailing.get(name) ?? 0) + 1);
      }
    }
  }
  const cells = cellsOf(data, rows);
  const nodes = [...scope.nodes].map(([name, tally]) =>
    nodeOf(name, tally, nodeInfo, hiddenFailing.get(name) ?? 0),
  );
  return {
    ...common,
    matrix: {
      nodes,
      columns: shown.map(stripRank),
      hidden: {
        columns: hiddenPorts.size,
        failing: nodePortColumns
          .filter((c) => hiddenPorts.has(c.port))
          .reduce((sum, c) => sum + c.failing, 0),
      },
      cells,
    },
  };
}

interface NodeInfo {
  readonly address: string;
  readonly roles: readonly Role[];
  readonly ready: boolean;
  readonly icmp?: { readonly up: boolean; readonly rttSeconds?: number };
  readonly nothingAnswers: boolean;
}

function nodeInfoOf(data: PageData): (name: string) => NodeInfo {
  const { snapshot, summary } = data;
  const known = new Map(snapshot.nodes.map((n) => [n.name, n]));
  return (name) => {
    const node = known.get(name);
    const echo = snapshot.icmp.get(name);
    const firstRow = summary.rowsByNode.get(name)?.[0];
    const address =
      node?.addresses.join(', ') ??
      (firstRow === undefined ? '' : (snapshot.targets[firstRow] as Target).address);
    return {
      address,
      roles: node?.roles ?? [],
      ready: node?.ready ?? true,
      ...(echo && {
        icmp:
          echo.rttSeconds === undefined
            ? { up: echo.up }
            : { up: echo.up, rttSeconds: echo.rttSeconds },
      }),
      nothingAnswers: summary.nothingAnswers.has(name),
    };
  };
}

function nodeOf(
  name: string,
  tally: NodeTally,
  info: (name: string) => NodeInfo,
  hiddenFailing: number,
): StatusNode {
  return {
    name,
    ...info(name),
    targets: tally.targets,
    byState: byStateRecord(tally.byState),
    failing: tally.failing,
    hiddenFailing,
    ...(tally.latencyCount > 0 && {
      latency: {
        meanSeconds: tally.latencySum / tally.latencyCount,
        maxSeconds: tally.latencyMax,
      },
    }),
  };
}

/** Cells by node and port; where two targets share one (two IPs), the failing one shows. */
function cellsOf(data: PageData, rows: readonly number[]): Map<string, Map<number, StatusCell>> {
  const { snapshot } = data;
  const cells = new Map<string, Map<number, StatusCell>>();
  for (const row of rows) {
    const t = snapshot.targets[row] as Target;
    let byPort = cells.get(t.node);
    if (!byPort) {
      byPort = new Map();
      cells.set(t.node, byPort);
    }
    const before = byPort.get(t.port);
    const failing = snapshot.failing[row] === 1;
    if (before && (before.failing || !failing)) continue;
    byPort.set(t.port, cellOf(data, row));
  }
  return cells;
}

function cellOf(data: PageData, row: number): StatusCell {
  const { snapshot } = data;
  const t = snapshot.targets[row] as Target;
  const code = snapshot.state[row] as number;
  const probed = code !== UNPROBED_CODE;
  const error = snapshot.error[row];
  const sinceMs = snapshot.lastChangeMs[row] as number;
  return {
    address: t.address,
    state: probed ? (PROBE_STATES[code] as ProbeState) : 'unprobed',
    verdict: VERDICT_CODES[snapshot.verdict[row] as number] as Verdict,
    failing: snapshot.failing[row] === 1,
    expected: t.expected,
    required: t.required,
    ...(probed && {
      sinceMs,
      sinceStart: snapshot.changed[row] === 0 && sinceMs <= snapshot.firstTakenAtMs,
      unchanged: snapshot.changed[row] === 0,
      probedAtMs: snapshot.probedAtMs[row] as number,
      latencySeconds: snapshot.durationSeconds[row] as number,
    }),
    ...(error !== undefined && { error }),
  };
}

function stripRank({
  rank: _rank,
  cells: _cells,
  nodes: _nodes,
  lastNode: _lastNode,
  ...column
}: ColumnTally): StatusColumn {
  return column;
}

/** Nodes each port applies to in scope, for "on 3 of 5 nodes". */
function scopeColumns(columns: readonly ColumnTally[]): ReadonlyMap<number, ColumnTally> {
  return new Map(columns.map((c) => [c.port, c]));
}

function byStateRecord(counts: readonly number[]): Record<CellState, number> {
  return Object.fromEntries(
    CELL_STATES.map((s, i) => [s, counts[s === 'unprobed' ? UNPROBED_INDEX : i] ?? 0]),
  ) as Record<CellState, number>;
}

function totalsOf(
  targets: number,
  byState: readonly number[],
  failing: number,
  failingNodes: number,
): StatusTotals {
  return { targets, byState: byStateRecord(byState), failing, failingNodes };
}
