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
import type { DiscoverySnapshot, SourceStatus } from '../discovery/types.js';
import { PROBE_STATES } from '../probe/types.js';
import { ago, escapeHtml, plural, when } from './status/html.js';
import { type PageData, StatusData } from './status/latest.js';
import { failingList, recoveredList } from './status/lists-html.js';
import { portsSection } from './status/ports-html.js';
import type { StatusStore } from './status/snapshot.js';
import { STATUS_CSS } from './status/style.js';
import { GROUP_WORDS, STATE_WORDS } from './status/words.js';
import {
  PORT_GROUPS,
  queryFromParams,
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
  /** Discovery's latest snapshot (the nodes), for the page's own snapshots (without `data`). */
  readonly snapshot?: () => DiscoverySnapshot | undefined;
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
  const own = data
    ? undefined
    : new StatusData(source?.store ?? NO_STORE, {
        now,
        ...(source?.snapshot && { snapshot: source.snapshot }),
      });
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

function totalsLine(view: StatusView): string {
  const { totals } = view;
  if (totals.targets === 0) return '';
  const parts = [...PROBE_STATES, 'unprobed' as const]
    .filter((s) => totals.byState[s] > 0)
    .map((s) => `${totals.byState[s]} ${STATE_WORDS[s]}`);
  const nodes = view.matrix?.nodes.length ?? view.nodeTable?.total ?? 0;
  return `<p class="totals">${plural(totals.targets, 'target')} on ${plural(nodes, 'node')}: ${parts.join(', ')}.</p>`;
}
