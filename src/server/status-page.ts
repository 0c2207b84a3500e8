/**
 * The status page at `/`: which vantage, version and discovery it shows, what fails
 * grouped by node and cause (worst first), what recovered in the last hour, and the
 * nodes x ports matrix coloured by state (a table of nodes, paged, above its size).
 * One self-contained HTML string: inline CSS, no script, no fonts, no external asset,
 * since iManager clusters are often air-gapped. Filters are a plain GET form and the
 * page reloads itself with a meta refresh, so it all works without JavaScript.
 *
 * It is built from the page's snapshot (status/latest.ts), taken at each cycle's end
 * in slices, never from the live store: a request does bounded work.
 */
import type { SourceStatus } from '../discovery/types.js';
import { STATE_GUIDE } from '../probe/states.js';
import { PROBE_STATES, type ProbeState } from '../probe/types.js';
import { absolute, ago, duration, escapeHtml, ms, plural, shorten, when } from './status/html.js';
import { type PageData, StatusData } from './status/latest.js';
import type { StatusStore } from './status/snapshot.js';
import { STATUS_CSS } from './status/style.js';
import {
  type CellState,
  type FailureRow,
  type Paged,
  PORT_GROUPS,
  type PortGroup,
  queryFromParams,
  type RecoveryRow,
  type StatusCell,
  type StatusColumn,
  type StatusFilter,
  type StatusNode,
  type StatusQuery,
  StatusQueryError,
  type StatusView,
  statusView,
} from './status-view.js';

export { ago, escapeHtml };

/** Where the page reads its data, for createApp. */
export interface StatusSource {
  readonly store: StatusStore;
  /**
   * Snapshots taken at each cycle's end (the exporter's). Absent, the page takes one
   * at each request, in slices all the same.
   */
  readonly data?: StatusData;
  /** Seconds between probe cycles now (it may change on reload); the page reloads at this pace. */
  readonly intervalSeconds: () => number;
  /** Wall-clock ms, for "since" times. Default Date.now. */
  readonly now?: () => number;
  /** Where the probes go from: `central`, a node name, or `external`. */
  readonly vantage?: () => string;
  /** The discovery source's state. */
  readonly discovery?: () => SourceStatus;
}

/** What the header says besides the data. */
export interface StatusPageInfo {
  readonly version: string;
  /** The page reloads itself after this many seconds. */
  readonly refreshSeconds: number;
  readonly intervalSeconds?: number;
  readonly vantage?: string;
  readonly discovery?: SourceStatus;
}

/** The page may only style itself: no script, no fetch, no frame, no foreign form target. */
export const STATUS_PAGE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export const STATUS_PAGE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': STATUS_PAGE_CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  // The page is a snapshot of now: a cached copy would show stale states.
  'Cache-Control': 'no-store',
};

/** A reload faster than this would only load the server; probes rarely run faster. */
export const MIN_REFRESH_SECONDS = 5;

/** With one node shown, every NodePort fits; with many, the matrix is capped. */
const NODEPORT_COLUMNS_ALL_NODES = 40;
/** Above this many nodes the node choice is a text field: 5,000 options would be most of the page. */
const MAX_NODE_OPTIONS = 300;

const NO_STORE: StatusStore = {
  leaseColumns: () => ({
    table: {
      size: 0,
      targets: [],
      labelBytes: Buffer.alloc(0),
      labelStart: new Uint32Array(1),
      identifyingEnd: new Uint32Array(0),
      state: new Uint8Array(0),
      durationSeconds: new Float64Array(0),
      probedAtMs: new Float64Array(0),
      lastChangeMs: new Float64Array(0),
      error: [],
    },
    release: () => {},
  }),
  nodes: () => [],
  icmpResults: () => [],
};

/** The reload pace for a probe interval: the interval, never under MIN_REFRESH_SECONDS. */
export function refreshSecondsFor(intervalSeconds: number): number {
  if (!Number.isFinite(intervalSeconds)) return MIN_REFRESH_SECONDS;
  return Math.max(MIN_REFRESH_SECONDS, Math.ceil(intervalSeconds));
}

/** A page to send: 200, 400 for a query it cannot show, 404 for a node it does not know. */
export interface StatusResponse {
  readonly status: 200 | 400 | 404;
  readonly body: string;
}

/**
 * The page renderer createApp mounts at `/`: takes the request's query, resolves with
 * the page. Without a source it shows an exporter with no targets.
 */
export function createStatusPage(options: {
  readonly version: string;
  readonly source?: StatusSource;
}): (query: Readonly<Record<string, unknown>>) => Promise<StatusResponse> {
  const source = options.source;
  const now = source?.now ?? Date.now;
  const interval = source?.intervalSeconds ?? (() => 15);
  // Without the exporter's snapshots, one per request: tests and bare apps see the store as it is.
  const data = source?.data;
  const views = new ViewCache();
  const own = data ? undefined : new StatusData(source?.store ?? NO_STORE, { now });
  return async (params) => {
    const info: StatusPageInfo = {
      version: options.version,
      refreshSeconds: refreshSecondsFor(interval()),
      intervalSeconds: interval(),
      ...(source?.vantage && { vantage: source.vantage() }),
      ...(source?.discovery && { discovery: source.discovery() }),
    };
    let query: ReturnType<typeof queryFromParams>;
    try {
      query = queryFromParams(params);
    } catch (err) {
      if (err instanceof StatusQueryError) {
        return { status: 400, body: renderBadQuery(err, info, now()) };
      }
      throw err;
    }
    const latest = own ? await own.capture() : await (data as StatusData).current();
    const view = views.get(latest, query, () =>
      statusView(latest, now(), query, {
        maxNodePortColumns: query.filter.node === undefined ? NODEPORT_COLUMNS_ALL_NODES : 100_000,
      }),
    );
    // A view made for an earlier request of this snapshot: only "now" moves.
    const fresh = { ...view, nowMs: now() };
    return { status: fresh.unknownNode ? 404 : 200, body: renderStatusPage(fresh, info) };
  };
}

/** Views per snapshot kept for the next request of the same query. */
const VIEWS_PER_SNAPSHOT = 16;

/**
 * The views of the latest snapshot by query: several clients reloading the same page
 * each cycle cost one view per cycle, not one each. Dropped with their snapshot.
 */
class ViewCache {
  #of: PageData | undefined;
  readonly #views = new Map<string, StatusView>();

  get(data: PageData, query: StatusQuery, make: () => StatusView): StatusView {
    if (this.#of !== data) {
      this.#of = data;
      this.#views.clear();
    }
    const key = JSON.stringify([
      query.filter.node,
      query.filter.group,
      query.failingPage,
      query.nodePage,
    ]);
    let view = this.#views.get(key);
    if (!view) {
      view = make();
      if (this.#views.size >= VIEWS_PER_SNAPSHOT) {
        const oldest = this.#views.keys().next().value;
        if (oldest !== undefined) this.#views.delete(oldest);
      }
      this.#views.set(key, view);
    }
    return view;
  }
}

/** The matrix's HTML per view's matrix: it has no relative time, so a cached view reuses it. */
const MATRIX_HTML = new WeakMap<object, string>();

const STATE_WORDS: Readonly<Record<CellState, string>> = {
  ...(Object.fromEntries(PROBE_STATES.map((state) => [state, state])) as Record<
    ProbeState,
    string
  >),
  unprobed: 'not probed yet',
};

const STATE_MEANING: Readonly<Record<CellState, string>> = {
  ...(Object.fromEntries(
    PROBE_STATES.map((state) => [state, STATE_GUIDE[state].meaning]),
  ) as Record<ProbeState, string>),
  unprobed: 'no result yet',
};

const GROUP_WORDS: Readonly<Record<PortGroup, string>> = {
  catalog: 'Catalog and custom ports',
  'basic-service': 'NodePorts: basic services',
  'gis-environment': 'NodePorts: GIS environments',
  other: 'NodePorts: other',
};

function head(title: string, refreshSeconds: number | undefined): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${refreshSeconds === undefined ? '' : `<meta http-equiv="refresh" content="${refreshSeconds}">\n`}<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<style>${STATUS_CSS}</style>
</head>`;
}

/** The header: what the page shows, from where, how fresh. */
function banner(info: StatusPageInfo, nowMs: number): string {
  const facts: string[] = [];
  if (info.vantage !== undefined) {
    facts.push(fact('Vantage', escapeHtml(info.vantage), 'vantage', vantageNote(info.vantage)));
  }
  facts.push(fact('Version', escapeHtml(info.version), 'version'));
  if (info.intervalSeconds !== undefined) {
    facts.push(fact('Probes every', `${formatSeconds(info.intervalSeconds)}`, 'interval'));
  }
  if (info.discovery) facts.push(discoveryFact(info.discovery, nowMs));
  return `<header>
<h1>iManager port exporter</h1>
<nav><a href="metrics">Metrics</a><a href="-/healthy">Health</a><a href="-/ready">Readiness</a></nav>
</header>
<dl class="facts" id="facts">${facts.join('')}</dl>`;
}

function vantageNote(vantage: string): string {
  if (vantage === 'central') return 'probes sent from inside the cluster';
  if (vantage === 'external')
    return 'probes sent from outside the cluster: internal ports must not answer';
  return `probes sent from node ${vantage}`;
}

function fact(term: string, value: string, id: string, title?: string): string {
  return `<div data-fact="${id}"${title ? ` title="${escapeHtml(title)}"` : ''}><dt>${term}</dt><dd>${value}</dd></div>`;
}

function discoveryFact(d: SourceStatus, nowMs: number): string {
  const last =
    d.lastSuccessSeconds === undefined
      ? 'never synced'
      : `synced ${ago(nowMs - d.lastSuccessSeconds * 1000)}`;
  const value = d.up
    ? `${escapeHtml(d.source)} up, ${last}`
    : `<span class="down">${escapeHtml(d.source)} failing, ${last}: showing the last known nodes</span>`;
  return fact('Discovery', value, 'discovery');
}

function formatSeconds(seconds: number): string {
  return Number.isInteger(seconds) ? `${seconds} s` : `${seconds.toFixed(1)} s`;
}

/** The page for a query it cannot show: what was wrong, and what is valid. */
export function renderBadQuery(err: StatusQueryError, info: StatusPageInfo, nowMs: number): string {
  const valid =
    err.valid.length > 0
      ? `<p>Valid values: ${err.valid.map((v) => `<a href="?group=${escapeHtml(v)}"><code>${escapeHtml(v)}</code></a>`).join(', ')}, or none for every port.</p>`
      : '';
  return `${head('Bad request - iManager port exporter', undefined)}
<body>
${banner(info, nowMs)}
<main>
<p class="verdict bad" id="problem">Cannot show this page: ${escapeHtml(err.message)}.</p>
${valid}
<p><a href="?">Show every node and port</a></p>
</main>
</body>
</html>
`;
}

/** The whole page for a view. Every value from the cluster or the config is escaped. */
export function renderStatusPage(view: StatusView, info: StatusPageInfo): string {
  const title = `${view.totals.failing > 0 ? `${view.totals.failing} failing - ` : ''}iManager port exporter`;
  return `${head(title, info.refreshSeconds)}
<body>
${banner(info, view.nowMs)}
<main>
${summary(view, info.refreshSeconds)}
${filterForm(view)}
${failingList(view)}
${recoveredList(view)}
${portsSection(view)}
${totalsLine(view)}
</main>
</body>
</html>
`;
}

function summary(view: StatusView, refreshSeconds: number): string {
  const { totals, filter } = view;
  let verdict: string;
  if (view.unknownNode) {
    verdict = `<p class="verdict bad" id="verdict">No node named ${escapeHtml(filter.node as string)} has targets${
      view.allNodes.length > 0
        ? `: pick one of the ${plural(view.allNodes.length, 'node')} below`
        : ''
    }.</p>`;
  } else if (totals.targets === 0) {
    verdict = `<p class="verdict" id="verdict">${emptyMessage(view)}</p>`;
  } else if (totals.failing > 0) {
    verdict = `<p class="verdict bad" id="verdict">${plural(totals.failing, 'required port')} not as expected on ${plural(totals.failingNodes, 'node')}.</p>`;
  } else if (totals.byState.unprobed === totals.targets) {
    verdict = '<p class="verdict" id="verdict">Probing: no results yet.</p>';
  } else {
    verdict = '<p class="verdict good" id="verdict">Every required port is as expected.</p>';
  }
  // A filter that shows nothing still says when probing last ran, over everything.
  const lastMs = totals.targets > 0 ? view.lastProbeMs : view.lastProbeAnyMs;
  const scope = totals.targets > 0 ? '' : ' (of any target)';
  const last =
    lastMs === undefined
      ? 'No probe has finished yet.'
      : `Last probe${scope} ${when(lastMs, view.nowMs)}.`;
  return `${verdict}
<p class="muted">${last} Data from ${ago(view.nowMs - view.takenAtMs)}; this page reloads itself every ${refreshSeconds} s.</p>`;
}

function emptyMessage(view: StatusView): string {
  const { node, group } = view.filter;
  if (node !== undefined && group !== undefined) {
    return `${escapeHtml(node)} has no ports in ${escapeHtml(GROUP_WORDS[group])}.`;
  }
  if (group !== undefined) {
    return `No ports in ${escapeHtml(GROUP_WORDS[group])}: ${
      group === 'catalog'
        ? 'every catalog port is disabled in the configuration'
        : 'the cluster has no NodePort in this group'
    }.`;
  }
  return 'No targets yet: no node or port has been found to probe.';
}

function filterForm(view: StatusView): string {
  const groups = PORT_GROUPS.filter((g) => view.groups.includes(g) || view.filter.group === g);
  const groupOptions = groups
    .map((g) => option(g, GROUP_WORDS[g], view.filter.group === g))
    .join('');
  let nodeChoice: string;
  if (view.allNodes.length > MAX_NODE_OPTIONS) {
    nodeChoice = `<label>Node <input name="node" value="${escapeHtml(view.filter.node ?? '')}" placeholder="all ${view.allNodes.length} nodes" size="16"></label>`;
  } else {
    const nodeOptions = view.allNodes
      .map((name) => option(name, name, view.filter.node === name))
      .join('');
    // A node asked for but not (or no longer) known stays selectable, so the form says what is shown.
    const unknownNode = view.unknownNode
      ? option(view.filter.node as string, `${view.filter.node} (unknown)`, true)
      : '';
    nodeChoice = `<label>Node <select name="node"><option value="">All nodes</option>${unknownNode}${nodeOptions}</select></label>`;
  }
  return `<form method="get">
${nodeChoice}
<label>Group <select name="group"><option value="">All ports</option>${groupOptions}</select></label>
<button type="submit">Show</button>
<a href="?">Clear</a>
</form>`;
}

function option(value: string, label: string, selected: boolean): string {
  return `<option value="${escapeHtml(value)}"${selected ? ' selected' : ''}>${escapeHtml(label)}</option>`;
}

function legend(): string {
  const states = (Object.keys(STATE_WORDS) as CellState[])
    .map(
      (s) =>
        `<span title="${escapeHtml(STATE_MEANING[s])}"><i class="sw ${s}"></i>${STATE_WORDS[s]}</span>`,
    )
    .join('');
  return `<div class="legend" id="legend">${states}
<span data-legend="exposed"><i class="sw exposed">!</i>exposed: answers where it must be closed</span>
<span><i class="sw refused fail">&#x2717;</i>required, expected open, not open</span>
<span><i class="sw refused quiet"></i>faded: as expected closed, not required, or not judged</span>
<span><i class="sw none"></i>port does not apply to the node</span>
</div>
<div class="legend">Columns:${PORT_GROUPS.map((g) => `<span><i class="sw grp-${g}"></i>${GROUP_WORDS[g]}</span>`).join('')}</div>`;
}

function failingList(view: StatusView): string {
  const { failing } = view;
  if (failing.total === 0) return '';
  const rows = failing.rows.map((f) => failingRow(f, view)).join('\n');
  return `<h2>What fails: ${plural(view.totals.failing, 'port')} in ${plural(failing.total, 'row')}, worst first</h2>
<table class="list" id="failing">
<thead><tr><th>Where</th><th>Port</th><th>State</th><th>Since</th><th>What to do</th></tr></thead>
<tbody>
${rows}
</tbody></table>
${pager(failing, view.filter, 'page', 'rows of what fails')}`;
}

function stateBadge(verdict: string, state: ProbeState | CellState): string {
  if (verdict === 'exposed') return '<span class="state exposed">exposed (open)</span>';
  return `<span class="state ${state}">${escapeHtml(STATE_WORDS[state])}</span>`;
}

function failingRow(f: FailureRow, view: StatusView): string {
  let where: string;
  let port: string;
  if (f.kind === 'port') {
    where = `${f.nodes === f.of ? `every node (${f.nodes})` : `${f.nodes} of ${plural(f.of, 'node')}`}${members(f.members, f.moreMembers)}`;
    port = portName(f);
  } else if (f.kind === 'node') {
    where = `${nodeLink(f.node as string, view.filter)} <small>${escapeHtml(f.address ?? '')}</small>`;
    port = `${plural(f.count, 'port')}${members(f.members, f.moreMembers)}`;
  } else {
    where = `${nodeLink(f.node as string, view.filter)} <small>${escapeHtml(f.address ?? '')}</small>`;
    port = portName(f);
  }
  const error =
    f.error !== undefined && f.state !== 'open' ? ` <small>${escapeHtml(f.error)}</small>` : '';
  const down = f.nodeDown ? '<span class="badge">nothing answers</span>' : '';
  const hint = f.nodeDown ? `${escapeHtml(STATE_GUIDE.unreachable.action)}` : escapeHtml(f.hint);
  const attrs = [
    `data-kind="${f.kind}"`,
    f.node !== undefined ? `data-node="${escapeHtml(f.node)}"` : '',
    f.port !== undefined ? `data-port="${f.port}"` : '',
    `data-state="${f.state}"`,
    `data-verdict="${f.verdict}"`,
    `data-count="${f.count}"`,
  ]
    .filter(Boolean)
    .join(' ');
  return `<tr ${attrs}><td data-label="Where">${where}</td><td data-label="Port">${port}</td><td data-label="State" class="state-cell">${stateBadge(f.verdict, f.state)}${down}${error}</td><td data-label="Since">${since(f.sinceMs, f, view)}</td><td data-label="What to do">${hint}</td></tr>`;
}

function portName(f: {
  readonly port?: number;
  readonly name?: string;
  readonly component?: string;
  readonly nodePort?: { readonly namespace: string; readonly service: string };
}): string {
  const what = f.nodePort
    ? `${escapeHtml(f.nodePort.namespace)}/${escapeHtml(f.nodePort.service)} <small>${escapeHtml(f.name ?? '')}</small>`
    : `${escapeHtml(f.name ?? '')}${f.component && f.component !== f.name ? ` <small>${escapeHtml(f.component)}</small>` : ''}`;
  return `<b>${f.port}</b> ${what}`;
}

function members(list: readonly string[], more: number): string {
  if (list.length === 0) return '';
  return `<span class="members">${list.map(escapeHtml).join(', ')}${more > 0 ? ` and ${more} more` : ''}</span>`;
}

/**
 * "3 min ago" for a change this process saw; "since start" or "since first probed" when
 * it saw none: the port may have been so for longer, and the page must not suggest when.
 */
function since(
  atMs: number,
  seen: { readonly sinceStart?: boolean; readonly unchanged?: boolean },
  view: StatusView,
): string {
  if (!seen.sinceStart && !seen.unchanged) return when(atMs, view.nowMs);
  const word = seen.sinceStart ? 'since start' : 'since first probed';
  return `<time datetime="${new Date(atMs).toISOString()}" title="no change seen since the exporter first probed it">${word}</time> <small>${absolute(atMs)}, ${ago(view.nowMs - atMs)}</small>`;
}

function recoveredList(view: StatusView): string {
  const { rows, total } = view.recoveries;
  if (total === 0) return '';
  const body = rows.map((r) => recoveredRow(r, view)).join('\n');
  const more =
    total > rows.length ? `<p class="muted">${total - rows.length} more not listed.</p>` : '';
  return `<h2>Recovered in the last hour (${total})</h2>
<table class="list" id="recovered">
<thead><tr><th>Where</th><th>Port</th><th>Was</th><th>Failed</th><th>Recovered</th></tr></thead>
<tbody>
${body}
</tbody></table>
${more}`;
}

function recoveredRow(r: RecoveryRow, view: StatusView): string {
  const where =
    r.kind === 'port'
      ? `${plural(r.count, 'node')}${members(r.members, r.moreMembers)}`
      : nodeLink(r.node as string, view.filter);
  const port =
    r.kind === 'node'
      ? `${plural(r.count, 'port')}${members(r.members, r.moreMembers)}`
      : portName(r);
  return `<tr data-kind="${r.kind}"${r.node !== undefined ? ` data-node="${escapeHtml(r.node)}"` : ''}${r.port !== undefined ? ` data-port="${r.port}"` : ''}><td data-label="Where">${where}</td><td data-label="Port">${port}</td><td data-label="Was">${stateBadge(r.wasVerdict, r.wasState)}</td><td data-label="Failed">for ${duration(r.recoveredAtMs - r.failedSinceMs)} <small>from ${absolute(r.failedSinceMs)}</small></td><td data-label="Recovered">${when(r.recoveredAtMs, view.nowMs)}</td></tr>`;
}

function portsSection(view: StatusView): string {
  if (view.matrix) {
    return `<h2>Ports by node</h2>
${legend()}
${matrix(view)}
${view.ports ? portList(view) : ''}`;
  }
  if (view.nodeTable) {
    return `<h2>Nodes (${view.nodeTable.total})</h2>
<p class="muted">Too many targets to draw every port: one row per node. Pick a node or a group to see its ports.</p>
${nodeTable(view.nodeTable, view)}`;
  }
  return '';
}

function matrix(view: StatusView): string {
  const m = view.matrix;
  if (!m || m.nodes.length === 0 || m.columns.length === 0) return '';
  const cached = MATRIX_HTML.get(m);
  if (cached !== undefined) return cached;
  const html = matrixHtml(view, m);
  MATRIX_HTML.set(m, html);
  return html;
}

function matrixHtml(view: StatusView, m: NonNullable<StatusView['matrix']>): string {
  const { columns, hidden } = m;
  const headCells = columns.map(columnHeader).join('');
  const groupHead = groupRuns(columns)
    .map(
      ({ group, span }) =>
        `<th class="group grp-${group}" colspan="${span}" title="${escapeHtml(GROUP_WORDS[group])}">${escapeHtml(span > 2 ? GROUP_WORDS[group] : '')}</th>`,
    )
    .join('');
  const moreHead =
    hidden.columns > 0
      ? `<th class="more" title="NodePorts not shown as columns">+${hidden.columns} NodePorts</th>`
      : '';
  const rows = m.nodes
    .map((node) => {
      const row = m.cells.get(node.name);
      const cells = columns.map((c) => cell(node, c, row?.get(c.port))).join('');
      const more =
        hidden.columns > 0
          ? `<td class="more">${node.hiddenFailing > 0 ? `&#x2717; ${node.hiddenFailing}` : ''}</td>`
          : '';
      return `<tr data-node="${escapeHtml(node.name)}">${nodeHeader(node, view.filter)}${cells}${more}</tr>`;
    })
    .join('\n');
  const note =
    hidden.columns > 0
      ? `<p class="muted">${plural(hidden.columns, 'more NodePort')} not shown as columns${hidden.failing > 0 ? ` (${hidden.failing} failing cells, all in the list above)` : ''}: filter by node or group to see them.</p>`
      : '';
  return `<div class="scroll"><table class="matrix" id="matrix">
<thead><tr><th></th>${groupHead}${hidden.columns > 0 ? '<th></th>' : ''}</tr><tr><th></th>${headCells}${moreHead}</tr></thead>
<tbody>
${rows}
</tbody></table></div>
${note}`;
}

/** Consecutive columns of one group, for the header row that names the groups. */
function groupRuns(columns: readonly StatusColumn[]): { group: PortGroup; span: number }[] {
  const runs: { group: PortGroup; span: number }[] = [];
  for (const c of columns) {
    const last = runs[runs.length - 1];
    if (last && last.group === c.group) last.span++;
    else runs.push({ group: c.group, span: 1 });
  }
  return runs;
}

function columnHeader(c: StatusColumn): string {
  const what = c.nodePort
    ? `${c.nodePort.namespace}/${c.nodePort.service} port ${c.name}, ${GROUP_WORDS[c.group]}`
    : `${c.name}: ${c.component}, ${c.category}, ${c.scope}`;
  const label = shorten(c.nodePort ? c.nodePort.service : c.name, 22);
  return `<th class="port" data-port="${c.port}" title="${escapeHtml(`${c.port}/tcp ${what}`)}"><b>${c.port}</b> ${escapeHtml(label)}</th>`;
}

/** Roles, connect time and ping under the name: readable without hovering. */
function nodeAbout(node: StatusNode): string {
  const parts: string[] = [];
  if (node.roles.length > 0) parts.push(escapeHtml(node.roles.join(', ')));
  if (node.latency) parts.push(`connect ${ms(node.latency.meanSeconds)}`);
  if (node.icmp?.rttSeconds !== undefined) parts.push(`ping ${ms(node.icmp.rttSeconds)}`);
  return parts.join(' &middot; ');
}

function badges(node: StatusNode): string {
  return [
    node.ready ? '' : '<span class="badge">NotReady</span>',
    node.icmp && !node.icmp.up ? '<span class="badge">no ping</span>' : '',
    node.nothingAnswers ? '<span class="badge">nothing answers</span>' : '',
  ].join('');
}

function nodeHeader(node: StatusNode, filter: StatusFilter): string {
  const about = nodeAbout(node);
  return `<th scope="row">${nodeLink(node.name, filter)} <small>${escapeHtml(node.address)}</small>${badges(node)}${about ? `<span class="about">${about}</span>` : ''}</th>`;
}

function cell(node: StatusNode, column: StatusColumn, c: StatusCell | undefined): string {
  if (!c) return '<td></td>';
  const classes = c.failing ? 'fail' : quiet(c) ? 'quiet' : '';
  const mark = c.verdict === 'exposed' ? '!' : c.failing ? '&#x2717;' : '';
  // Short: a matrix of 6,000 cells carries 6,000 of these.
  const parts = [`${node.name} ${column.port} ${column.name}: ${STATE_WORDS[c.state]}`];
  if (c.error !== undefined && c.state !== 'open') parts.push(` (${c.error})`);
  if (c.expected !== 'open') parts.push(`, expected ${c.expected}`);
  if (!c.required) parts.push(', not required');
  if (c.verdict === 'exposed') parts.push(': exposed');
  if (c.latencySeconds !== undefined && c.state === 'open') parts.push(`, ${ms(c.latencySeconds)}`);
  if (c.sinceMs !== undefined) {
    const word = c.sinceStart ? 'since start' : c.unchanged ? 'since first probed' : 'since';
    parts.push(`; ${word} ${absolute(c.sinceMs)}`);
  }
  return `<td data-state="${c.state}" data-verdict="${c.verdict}"${classes ? ` class="${classes}"` : ''} title="${escapeHtml(parts.join(''))}">${mark}</td>`;
}

/** Nothing to do about this cell: faded, so the cells that need work stand out. */
function quiet(c: StatusCell): boolean {
  if (c.verdict === 'unprobed') return false;
  if (c.verdict === 'neutral') return true;
  if (c.verdict === 'ok') return c.state !== 'open';
  return !c.required;
}

/** One node's ports as a list: state, connect time and since when, without hovering. */
function portList(view: StatusView): string {
  const ports = view.ports ?? [];
  if (ports.length === 0) return '';
  const rows = ports
    .map((p) => {
      const state = stateBadge(p.verdict, p.state);
      const latency =
        p.latencySeconds !== undefined && p.state === 'open' ? ms(p.latencySeconds) : '';
      const sinceText = p.sinceMs === undefined ? '' : since(p.sinceMs, p, view);
      const note = [
        p.expected === 'open' ? '' : `expected ${p.expected}`,
        p.required ? '' : 'not required',
        p.error !== undefined && p.state !== 'open' ? escapeHtml(p.error) : '',
      ]
        .filter(Boolean)
        .join(', ');
      return `<tr data-port="${p.column.port}" data-state="${p.state}" data-verdict="${p.verdict}"><td data-label="Port">${portName({ ...p.column, port: p.column.port })}</td><td data-label="State">${state}${note ? ` <small>${note}</small>` : ''}</td><td data-label="Connect">${latency}</td><td data-label="Since">${sinceText}</td></tr>`;
    })
    .join('\n');
  return `<h2>Ports of ${escapeHtml(view.filter.node ?? '')}</h2>
<table class="list" id="ports">
<thead><tr><th>Port</th><th>State</th><th>Connect</th><th>Since</th></tr></thead>
<tbody>
${rows}
</tbody></table>`;
}

function nodeTable(table: Paged<StatusNode>, view: StatusView): string {
  const rows = table.rows
    .map((n) => {
      const states = [...PROBE_STATES, 'unprobed' as const]
        .filter((s) => n.byState[s] > 0)
        .map((s) => `<span class="state ${s}">${n.byState[s]} ${STATE_WORDS[s]}</span>`)
        .join(' ');
      return `<tr data-node="${escapeHtml(n.name)}"><td data-label="Node">${nodeLink(n.name, view.filter)} <small>${escapeHtml(n.address)}</small>${badges(n)}<span class="members">${escapeHtml(n.roles.join(', '))}</span></td><td data-label="Failing">${n.failing > 0 ? `<b>${n.failing}</b>` : '0'} of ${n.targets}</td><td data-label="States">${states}</td><td data-label="Connect">${n.latency ? `${ms(n.latency.meanSeconds)} <small>max ${ms(n.latency.maxSeconds)}</small>` : ''}</td><td data-label="Ping">${n.icmp?.rttSeconds !== undefined ? ms(n.icmp.rttSeconds) : n.icmp ? 'no answer' : ''}</td></tr>`;
    })
    .join('\n');
  return `<table class="list" id="nodes">
<thead><tr><th>Node</th><th>Failing</th><th>States</th><th>Connect</th><th>Ping</th></tr></thead>
<tbody>
${rows}
</tbody></table>
${pager(table, view.filter, 'nodes', 'nodes')}`;
}

/** Links to the other pages of a paged list, keeping the filter. */
function pager(paged: Paged<unknown>, filter: StatusFilter, param: string, what: string): string {
  if (paged.pages <= 1) return '';
  const link = (page: number, text: string) =>
    `<a href="${escapeHtml(queryFor(filter, { [param]: String(page) }))}">${text}</a>`;
  const parts = [`<span>Page ${paged.page} of ${paged.pages} (${paged.total} ${what})</span>`];
  if (paged.page > 1) parts.push(link(1, 'first'), link(paged.page - 1, 'previous'));
  if (paged.page < paged.pages) parts.push(link(paged.page + 1, 'next'), link(paged.pages, 'last'));
  return `<nav class="pages" data-pages="${param}">${parts.join('')}</nav>`;
}

function nodeLink(name: string, filter: StatusFilter): string {
  return `<a href="${escapeHtml(queryFor({ ...filter, node: name }))}">${escapeHtml(name)}</a>`;
}

/** A query-only relative link: it keeps the page's own path, behind any proxy prefix. */
function queryFor(filter: StatusFilter, extra: Readonly<Record<string, string>> = {}): string {
  const params = new URLSearchParams();
  if (filter.node !== undefined) params.set('node', filter.node);
  if (filter.group !== undefined) params.set('group', filter.group);
  for (const [key, value] of Object.entries(extra)) params.set(key, value);
  return `?${params.toString()}`;
}

function totalsLine(view: StatusView): string {
  const { totals } = view;
  if (totals.targets === 0) return '';
  const parts = [...PROBE_STATES, 'unprobed' as const]
    .filter((s) => totals.byState[s] > 0)
    .map((s) => `${totals.byState[s]} ${STATE_WORDS[s]}`);
  const nodes = view.matrix?.nodes.length ?? view.nodeTable?.total ?? 0;
  return `<p class="totals">${plural(totals.targets, 'target')} on ${plural(nodes, 'node')}: ${parts.join(', ')}.</p>`;
}
