/**
 * The rows of the lists of what fails and what recovered, from the tallies' groups: the
 * page's words for each group (where, which port, since when, what to do), one page of
 * them at a time.
 */
import type { ProbeState } from '../../probe/types.js';
import type { Target } from '../../targets/types.js';
import { judge } from '../../targets/verdict.js';
import { groupItems } from './grouping.js';
import type { PageData } from './latest.js';
import type { StatusFilter } from './query.js';
import { type ColumnTally, type FailureGroup, groupOf, type PortGroup } from './summary.js';

/** One row of what fails: a node, a port on several nodes, or one target. */
export interface FailureRow {
  readonly kind: 'node' | 'port' | 'target';
  /** Node rows and target rows. */
  readonly node?: string;
  readonly address?: string;
  /** Port rows and target rows. */
  readonly port?: number;
  readonly name?: string;
  readonly component?: string;
  readonly group?: PortGroup;
  readonly nodePort?: { readonly namespace: string; readonly service: string };
  readonly verdict: 'down' | 'exposed' | 'unknown';
  readonly state: ProbeState;
  readonly error?: string;
  /** Targets in the row. */
  readonly count: number;
  /** Port rows: nodes it fails on, of the nodes it applies to in scope. */
  readonly nodes: number;
  readonly of: number;
  /** Node rows: the ports; port rows: the nodes; the first few. */
  readonly members: readonly string[];
  readonly moreMembers: number;
  readonly nodeDown: boolean;
  /** The oldest change among its targets. */
  readonly sinceMs: number;
  /** No change of its targets seen since this process first probed them, in its first cycle. */
  readonly sinceStart: boolean;
  /** No change of its targets seen since this process first probed them. */
  readonly unchanged: boolean;
  readonly hint: string;
}

/** A required target that answers as expected again, or several at once. */
export interface RecoveryRow {
  readonly kind: 'node' | 'port' | 'target';
  readonly node?: string;
  readonly port?: number;
  readonly name?: string;
  readonly nodePort?: { readonly namespace: string; readonly service: string };
  readonly wasState: ProbeState;
  readonly wasVerdict: 'down' | 'exposed' | 'unknown';
  readonly count: number;
  readonly members: readonly string[];
  readonly moreMembers: number;
  readonly failedSinceMs: number;
  readonly recoveredAtMs: number;
}

export interface Paged<T> {
  readonly rows: readonly T[];
  /** All rows over all pages. */
  readonly total: number;
  /** 1-based, clamped to the pages there are. */
  readonly page: number;
  readonly pages: number;
}

const MAX_MEMBERS = 6;

export function failurePage(
  groups: readonly FailureGroup[],
  data: PageData,
  columns: ReadonlyMap<number, ColumnTally>,
  askedPage: number,
  perPage: number,
): Paged<FailureRow> {
  const pages = Math.max(1, Math.ceil(groups.length / perPage));
  const page = clampPage(askedPage, pages);
  const rows = groups
    .slice((page - 1) * perPage, page * perPage)
    .map((g) => failureRow(g, data, columns));
  return { rows, total: groups.length, page, pages };
}

function failureRow(
  group: FailureGroup,
  data: PageData,
  columns: ReadonlyMap<number, ColumnTally>,
): FailureRow {
  const { snapshot } = data;
  const first = group.items[0] as number;
  const t = snapshot.targets[first] as Target;
  const [verdict, state] = group.cause.split('/') as [FailureRow['verdict'], ProbeState];
  const error = snapshot.error[first];
  const sameError = group.items.every((row) => snapshot.error[row] === error);
  let unchanged = true;
  let sinceStart = true;
  for (const row of group.items) {
    if (snapshot.changed[row] === 1) unchanged = false;
    if ((snapshot.lastChangeMs[row] as number) > snapshot.firstTakenAtMs) sinceStart = false;
  }
  sinceStart &&= unchanged;
  const nodes = new Set(group.items.map((row) => (snapshot.targets[row] as Target).node));
  const shownMembers = group.items.slice(0, MAX_MEMBERS).map((row) => {
    const m = snapshot.targets[row] as Target;
    return group.kind === 'port'
      ? m.node
      : `${m.port} ${m.nodePort ? m.nodePort.service : m.portName}`;
  });
  const onePort = group.kind !== 'node';
  return {
    kind: group.kind,
    ...(group.kind !== 'port' && { node: t.node, address: t.address }),
    ...(onePort && {
      port: t.port,
      name: t.portName,
      component: t.component,
      group: groupOf(t),
      ...(t.nodePort && {
        nodePort: { namespace: t.nodePort.namespace, service: t.nodePort.service },
      }),
    }),
    verdict,
    state,
    ...(error !== undefined && sameError && { error }),
    count: group.items.length,
    nodes: nodes.size,
    of: group.kind === 'port' ? Math.max(nodes.size, columns.get(t.port)?.nodes ?? 0) : nodes.size,
    members: group.kind === 'target' ? [] : shownMembers,
    moreMembers: group.kind === 'target' ? 0 : Math.max(0, group.items.length - MAX_MEMBERS),
    nodeDown: group.nodeDown,
    sinceMs: group.sinceMs,
    sinceStart,
    unchanged,
    hint: judge({ expected: verdict === 'exposed' ? 'closed' : 'open', required: true }, state)
      .advice,
  };
}

export function recoveryRows(
  data: PageData,
  filter: StatusFilter,
  maxRows: number,
): { rows: RecoveryRow[]; total: number } {
  const recoveries = data.snapshot.recoveries.filter(
    (r) =>
      (filter.node === undefined || r.target.node === filter.node) &&
      (filter.group === undefined || groupOf(r.target) === filter.group),
  );
  // What recovered at one moment in one way groups as what fails does.
  const groups = groupItems(
    recoveries,
    (r) => ({
      node: r.target.node,
      port: r.target.port,
      cause: `${r.wasVerdict}/${r.wasState}/${Math.floor(r.recoveredAtMs / 60_000)}`,
    }),
    () => false,
  );
  const rows = groups.slice(0, maxRows).map((g): RecoveryRow => {
    const first = g.items[0] as (typeof recoveries)[number];
    const t = first.target;
    return {
      kind: g.kind,
      ...(g.kind !== 'port' && { node: t.node }),
      ...(g.kind !== 'node' && {
        port: t.port,
        name: t.portName,
        ...(t.nodePort && {
          nodePort: { namespace: t.nodePort.namespace, service: t.nodePort.service },
        }),
      }),
      wasState: first.wasState,
      wasVerdict: first.wasVerdict,
      count: g.items.length,
      members:
        g.kind === 'target'
          ? []
          : g.items
              .slice(0, MAX_MEMBERS)
              .map((r) =>
                g.kind === 'port' ? r.target.node : `${r.target.port} ${r.target.portName}`,
              ),
      moreMembers: g.kind === 'target' ? 0 : Math.max(0, g.items.length - MAX_MEMBERS),
      failedSinceMs: Math.min(...g.items.map((r) => r.failedSinceMs)),
      recoveredAtMs: Math.max(...g.items.map((r) => r.recoveredAtMs)),
    };
  });
  return { rows, total: groups.length };
}

export function clampPage(page: number, pages: number): number {
  return Math.min(Math.max(1, Math.floor(page)), pages);
}
