/**
 * The status page at `/`: the matrix of nodes x ports coloured by state, the list of
 * what fails and since when, and filters by node and group. One self-contained HTML
 * string: inline CSS, no script, no fonts, no external asset of any kind, since
 * iManager clusters are often air-gapped. Filters are a plain GET form and the page
 * reloads itself with a meta refresh, so it all works without JavaScript.
 */
import { STATE_GUIDE } from '../probe/states.js';
import { PROBE_STATES, type ProbeState } from '../probe/types.js';
import {
  type CellState,
  type FailingTarget,
  filterFromQuery,
  PORT_GROUPS,
  type PortGroup,
  type StatusCell,
  type StatusColumn,
  type StatusFilter,
  type StatusNode,
  type StatusStore,
  type StatusView,
  statusView,
} from './status-view.js';

/** Where the page reads its data, for createApp. */
export interface StatusSource {
  readonly store: StatusStore;
  /** Seconds between probe cycles now (it may change on reload); the page reloads at this pace. */
  readonly intervalSeconds: () => number;
  /** Wall-clock ms, for "since" times. Default Date.now. */
  readonly now?: () => number;
}

export interface StatusPageInfo {
  readonly version: string;
  /** The page reloads itself after this many seconds. */
  readonly refreshSeconds: number;
  /** At most this many rows in the list of what fails. Default 200. */
  readonly maxFailingRows?: number;
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
const NODEPORT_COLUMNS_ONE_NODE = 1000;
const DEFAULT_MAX_FAILING_ROWS = 200;

const NO_STORE: StatusStore = {
  targets: () => [],
  result: () => undefined,
  nodes: () => [],
  icmpResults: () => [],
};

/** The reload pace for a probe interval: the interval, never under MIN_REFRESH_SECONDS. */
export function refreshSecondsFor(intervalSeconds: number): number {
  if (!Number.isFinite(intervalSeconds)) return MIN_REFRESH_SECONDS;
  return Math.max(MIN_REFRESH_SECONDS, Math.ceil(intervalSeconds));
}

/**
 * The page renderer createApp mounts at `/`: takes the request's query, returns the
 * HTML. Without a source it shows an exporter with no targets.
 */
export function createStatusPage(options: {
  readonly version: string;
  readonly source?: StatusSource;
}): (query: Readonly<Record<string, unknown>>) => string {
  const store = options.source?.store ?? NO_STORE;
  const now = options.source?.now ?? Date.now;
  const interval = options.source?.intervalSeconds ?? (() => 15);
  return (query) => {
    const filter = filterFromQuery(query);
    const view = statusView(store, now(), {
      filter,
      maxNodePortColumns:
        filter.node === undefined ? NODEPORT_COLUMNS_ALL_NODES : NODEPORT_COLUMNS_ONE_NODE,
    });
    return renderStatusPage(view, {
      version: options.version,
      refreshSeconds: refreshSecondsFor(interval()),
    });
  };
}

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text safe in element content and in quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

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

const CSS = `
:root{--open:#2e9d4a;--refused:#d33a2c;--timeout:#f0a202;--unreachable:#7b2d8e;--error:#80868f;--rejected:#c2185b;--line:#d7dae0;--muted:#5f6670}
*{box-sizing:border-box}
body{margin:0;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1d2127;background:#fff}
header{padding:12px 20px;background:#1f2d3d;color:#fff;display:flex;flex-wrap:wrap;gap:4px 24px;align-items:baseline}
header h1{font-size:18px;margin:0}
header a{color:#cfe3ff}
header nav{margin-left:auto;display:flex;gap:14px}
main{padding:12px 20px}
h2{font-size:16px;margin:20px 0 8px}
.verdict{font-size:16px;font-weight:600;margin:4px 0}
.verdict.bad{color:var(--refused)}
.verdict.good{color:var(--open)}
.muted,small{color:var(--muted)}
form{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:center;margin:10px 0;padding:8px 12px;background:#f4f6f9;border:1px solid var(--line);border-radius:4px}
select,button{font:inherit;padding:2px 6px}
.legend{display:flex;flex-wrap:wrap;gap:6px 18px;margin:8px 0;font-size:13px}
.legend span{display:inline-flex;align-items:center;gap:6px}
.sw{display:inline-block;width:16px;height:16px;border-radius:2px;text-align:center;line-height:16px;font-size:12px;font-weight:700;color:#fff}
.scroll{overflow:auto;max-width:100%;border:1px solid var(--line)}
table{border-collapse:collapse}
.matrix th,.matrix td{border:1px solid #fff}
.matrix thead th{vertical-align:bottom;font-weight:400;font-size:12px;padding:4px 2px}
.matrix thead th.port{background:#f4f6f9;writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;text-align:left}
.matrix thead th.group{text-align:left;font-size:11px;white-space:nowrap;overflow:hidden;max-width:0;padding:2px 4px;color:#fff}
.matrix thead th.port b{font-weight:600}
.grp-catalog{background:#1f2d3d}
.grp-basic-service{background:#3b7dd8}
.grp-gis-environment{background:#15898a}
.grp-other{background:#7d848d}
.matrix tbody th{position:sticky;left:0;background:#fff;text-align:left;font-weight:400;white-space:nowrap;padding:2px 10px 2px 4px;border-right:1px solid var(--line)}
.matrix td{width:22px;min-width:22px;height:22px;padding:0;text-align:center;font-size:12px;font-weight:700;color:#fff;background:#f1f2f4}
td[data-state=open],.sw.open{background:var(--open)}
td[data-state=refused],.sw.refused{background:var(--refused)}
td[data-state=timeout],.sw.timeout{background:var(--timeout)}
td[data-state=unreachable],.sw.unreachable{background:var(--unreachable)}
td[data-state=error],.sw.error{background:var(--error)}
td[data-state=rejected],.sw.rejected{background:var(--rejected)}
td[data-state=unprobed],.sw.unprobed{background:#fff;outline:1px dashed #9aa1ab;outline-offset:-3px}
.matrix td.quiet,.sw.quiet{opacity:.35}
.matrix td.fail,.sw.fail{box-shadow:inset 0 0 0 2px #1d2127}
.matrix td.more{width:auto;padding:0 6px;color:var(--refused);background:#fff}
.sw.none{background:#f1f2f4}
.badge{display:inline-block;padding:0 5px;border-radius:3px;font-size:11px;background:#fde7e5;color:#a3231a;margin-left:4px}
.failing{max-height:45vh}
.failing table{width:100%}
.failing th,.failing td{text-align:left;padding:4px 10px;border-bottom:1px solid var(--line);vertical-align:top}
.failing thead th{position:sticky;top:0;background:#f4f6f9}
.state{display:inline-block;padding:0 6px;border-radius:3px;color:#fff;font-size:12px}
.state.open{background:var(--open)}.state.refused{background:var(--refused)}.state.timeout{background:var(--timeout)}.state.unreachable{background:var(--unreachable)}.state.error{background:var(--error)}.state.rejected{background:var(--rejected)}
.totals{margin:16px 0;font-size:13px;color:var(--muted)}
`;

/** The whole page for a view. Every value from the cluster or the config is escaped. */
export function renderStatusPage(view: StatusView, info: StatusPageInfo): string {
  const maxFailing = info.maxFailingRows ?? DEFAULT_MAX_FAILING_ROWS;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="${info.refreshSeconds}">
<title>${view.totals.failing > 0 ? `${view.totals.failing} failing - ` : ''}iManager port exporter</title>
<link rel="icon" href="data:,">
<style>${CSS}</style>
</head>
<body>
<header>
<h1>iManager port exporter</h1>
<span>Version ${escapeHtml(info.version)}</span>
<nav><a href="metrics">Metrics</a><a href="-/healthy">Health</a><a href="-/ready">Readiness</a></nav>
</header>
<main>
${summary(view, info.refreshSeconds)}
${filterForm(view)}
${failingList(view, maxFailing)}
<h2>Ports by node</h2>
${legend()}
${matrix(view)}
${totalsLine(view)}
</main>
</body>
</html>
`;
}

function summary(view: StatusView, refreshSeconds: number): string {
  const { totals } = view;
  let verdict: string;
  if (totals.targets === 0) {
    verdict =
      view.filter.node !== undefined || view.filter.group !== undefined
        ? '<p class="verdict">No targets match this filter.</p>'
        : '<p class="verdict">No targets yet: no node or port has been found to probe.</p>';
  } else if (totals.failing > 0) {
    verdict = `<p class="verdict bad">${plural(totals.failing, 'required port')} not as expected on ${plural(totals.failingNodes, 'node')}.</p>`;
  } else if (totals.byState.unprobed === totals.targets) {
    verdict = '<p class="verdict">Probing: no results yet.</p>';
  } else {
    verdict = '<p class="verdict good">Every required port is as expected.</p>';
  }
  const last =
    view.lastProbeMs === undefined
      ? 'No probe has finished yet.'
      : `Last probe ${when(view.lastProbeMs, view.nowMs)}.`;
  return `${verdict}
<p class="muted">${last} This page reloads itself every ${refreshSeconds} s.</p>`;
}

function filterForm(view: StatusView): string {
  const nodeOptions = view.allNodes
    .map((name) => option(name, name, view.filter.node === name))
    .join('');
  // A node asked for but not (or no longer) known stays selectable, so the form says what is shown.
  const unknownNode =
    view.filter.node !== undefined && !view.allNodes.includes(view.filter.node)
      ? option(view.filter.node, `${view.filter.node} (unknown)`, true)
      : '';
  const groups = PORT_GROUPS.filter((g) => view.groups.includes(g) || view.filter.group === g);
  const groupOptions = groups
    .map((g) => option(g, GROUP_WORDS[g], view.filter.group === g))
    .join('');
  return `<form method="get">
<label>Node <select name="node"><option value="">All nodes</option>${unknownNode}${nodeOptions}</select></label>
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
  return `<div class="legend">${states}
<span><i class="sw refused fail">&#x2717;</i>required, expected open, not open</span>
<span><i class="sw open fail">!</i>exposed: open, expected closed</span>
<span><i class="sw refused quiet"></i>faded: as expected closed, not required, or not judged</span>
<span><i class="sw none"></i>port does not apply to the node</span>
</div>
<div class="legend">Columns:${PORT_GROUPS.map((g) => `<span><i class="sw grp-${g}"></i>${GROUP_WORDS[g]}</span>`).join('')}</div>`;
}

function failingList(view: StatusView, maxRows: number): string {
  const { failing } = view;
  if (failing.length === 0) return '';
  const rows = failing
    .slice(0, maxRows)
    .map((f) => failingRow(f, view))
    .join('\n');
  const more =
    failing.length > maxRows
      ? `<p class="muted">${failing.length - maxRows} more not listed: filter by node or group to see them.</p>`
      : '';
  return `<h2>What fails (${failing.length})</h2>
<div class="scroll failing"><table id="failing">
<thead><tr><th>Node</th><th>Port</th><th>Name</th><th>State</th><th>Since</th><th>What to do</th></tr></thead>
<tbody>
${rows}
</tbody></table></div>
${more}`;
}

function failingRow(f: FailingTarget, view: StatusView): string {
  const name = f.nodePort
    ? `${escapeHtml(f.nodePort.namespace)}/${escapeHtml(f.nodePort.service)} <small>${escapeHtml(f.name)}</small>`
    : `${escapeHtml(f.name)} <small>${escapeHtml(f.component)}</small>`;
  const state = f.verdict === 'exposed' ? 'exposed (open)' : f.state;
  const error =
    f.error !== undefined && f.state !== 'open' ? ` <small>${escapeHtml(f.error)}</small>` : '';
  return `<tr data-node="${escapeHtml(f.node)}" data-port="${f.port}" data-state="${f.state}"><td>${nodeLink(f.node, view.filter)} <small>${escapeHtml(f.address)}</small></td><td>${f.port}</td><td>${name}</td><td><span class="state ${f.state}">${escapeHtml(state)}</span>${error}</td><td>${when(f.sinceMs, view.nowMs)}</td><td>${escapeHtml(f.hint)}</td></tr>`;
}

function matrix(view: StatusView): string {
  if (view.nodes.length === 0 || view.columns.length === 0) return '';
  const { columns, hidden } = view;
  const head = columns.map(columnHeader).join('');
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
  const rows = view.nodes
    .map((node) => {
      const row = view.cells.get(node.name);
      const cells = columns.map((c) => cell(node, c, row?.get(c.port), view.nowMs)).join('');
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
<thead><tr><th></th>${groupHead}${hidden.columns > 0 ? '<th></th>' : ''}</tr><tr><th></th>${head}${moreHead}</tr></thead>
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

function nodeHeader(node: StatusNode, filter: StatusFilter): string {
  const badges = [
    node.ready ? '' : '<span class="badge">NotReady</span>',
    node.icmp && !node.icmp.up ? '<span class="badge">no ping</span>' : '',
  ].join('');
  const roles = node.roles.length > 0 ? `roles: ${node.roles.join(', ')}` : '';
  const ping = node.icmp?.rttSeconds !== undefined ? `; ping ${ms(node.icmp.rttSeconds)}` : '';
  return `<th scope="row" title="${escapeHtml(`${node.address} ${roles}${ping}`)}">${nodeLink(node.name, filter)} <small>${escapeHtml(node.address)}</small>${badges}</th>`;
}

function cell(
  node: StatusNode,
  column: StatusColumn,
  c: StatusCell | undefined,
  nowMs: number,
): string {
  if (!c) return '<td></td>';
  const classes = c.failing ? 'fail' : quiet(c) ? 'quiet' : '';
  const mark = !c.failing ? '' : c.verdict === 'exposed' ? '!' : '&#x2717;';
  const parts = [`${node.name} ${column.port}/tcp ${column.name}: ${STATE_WORDS[c.state]}`];
  if (c.error !== undefined && c.state !== 'open') parts.push(` (${c.error})`);
  parts.push(`, expected ${c.expected}`);
  if (!c.required) parts.push(', not required');
  if (c.verdict === 'exposed') parts.push(': exposed');
  if (c.latencySeconds !== undefined) parts.push(`; ${ms(c.latencySeconds)}`);
  if (c.sinceMs !== undefined)
    parts.push(`; since ${absolute(c.sinceMs)}, ${ago(nowMs - c.sinceMs)}`);
  return `<td data-state="${c.state}" data-verdict="${c.verdict}"${classes ? ` class="${classes}"` : ''} title="${escapeHtml(parts.join(''))}">${mark}</td>`;
}

/** Nothing to do about this cell: faded, so the cells that need work stand out. */
function quiet(c: StatusCell): boolean {
  if (c.verdict === 'unprobed') return false;
  if (c.verdict === 'neutral') return true;
  if (c.verdict === 'ok') return c.state !== 'open';
  return !c.required;
}

function nodeLink(name: string, filter: StatusFilter): string {
  return `<a href="${escapeHtml(queryFor({ ...filter, node: name }))}">${escapeHtml(name)}</a>`;
}

/** A query-only relative link: it keeps the page's own path, behind any proxy prefix. */
function queryFor(filter: StatusFilter): string {
  const params = new URLSearchParams();
  if (filter.node !== undefined) params.set('node', filter.node);
  if (filter.group !== undefined) params.set('group', filter.group);
  return `?${params.toString()}`;
}

function totalsLine(view: StatusView): string {
  const { totals } = view;
  if (totals.targets === 0) return '';
  const parts = [...PROBE_STATES, 'unprobed' as const]
    .filter((s) => totals.byState[s] > 0)
    .map((s) => `${totals.byState[s]} ${STATE_WORDS[s]}`);
  return `<p class="totals">${plural(totals.targets, 'target')} on ${plural(view.nodes.length, 'node')}: ${parts.join(', ')}.</p>`;
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}\u2026`;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function ms(seconds: number): string {
  const millis = seconds * 1000;
  return `${millis < 10 ? millis.toFixed(2) : millis.toFixed(0)} ms`;
}

/** Relative and absolute: "3 min ago (2025-01-01 12:00:00 UTC)". */
function when(atMs: number, nowMs: number): string {
  return `<time datetime="${new Date(atMs).toISOString()}" title="${absolute(atMs)}">${ago(nowMs - atMs)}</time> <small>${absolute(atMs)}</small>`;
}

function absolute(atMs: number): string {
  return `${new Date(atMs).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** How long ago, to the unit that matters: "12 s ago", "5 min ago", "3 h 20 min ago", "2 d 4 h ago". */
export function ago(elapsedMs: number): string {
  const s = Math.floor(elapsedMs / 1000);
  if (s < 1) return 'just now';
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 === 0 ? `${h} h ago` : `${h} h ${m % 60} min ago`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d} d ago` : `${d} d ${h % 24} h ago`;
}
