/**
 * Ports by node, as HTML: the legend, the matrix of nodes x ports with each node's roles,
 * connect time and ping beside its name, or above its size the paged table of nodes;
 * with a node filter, that node's ports one per line.
 */
import { PROBE_STATES } from '../../probe/types.js';
import type {
  CellState,
  Paged,
  StatusCell,
  StatusColumn,
  StatusFilter,
  StatusNode,
  StatusView,
} from '../status-view.js';
import { absolute, escapeHtml, ms, plural, shorten } from './html.js';
import { PORT_GROUPS, type PortGroup } from './summary.js';
import {
  GROUP_WORDS,
  nodeLink,
  pager,
  portName,
  STATE_MEANING,
  STATE_WORDS,
  since,
  stateBadge,
} from './words.js';

export function portsSection(view: StatusView): string {
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
/** The matrix's HTML per view's matrix: it has no relative time, so a cached view reuses it. */
const MATRIX_HTML = new WeakMap<object, string>();
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
  // Escaped once per column and per node, not once per cell.
  const labels = columns.map((c) => escapeHtml(`${c.port} ${c.name}`));
  const rows = m.nodes
    .map((node) => {
      const row = m.cells.get(node.name);
      const name = escapeHtml(node.name);
      let cells = '';
      for (let i = 0; i < columns.length; i++) {
        const c = columns[i] as StatusColumn;
        cells += cell(name, labels[i] as string, row?.get(c.port));
      }
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
/** One cell; `node` and `label` come escaped. Short: a matrix of 6,000 cells carries 6,000 titles. */
function cell(node: string, label: string, c: StatusCell | undefined): string {
  if (!c) return '<td></td>';
  const classes = c.failing ? ' class="fail"' : quiet(c) ? ' class="quiet"' : '';
  const mark = c.verdict === 'exposed' ? '!' : c.failing ? '&#x2717;' : '';
  let title = `${node} ${label}: ${STATE_WORDS[c.state]}`;
  if (c.error !== undefined && c.state !== 'open') title += ` (${escapeHtml(c.error)})`;
  if (c.expected !== 'open') title += `, expected ${c.expected}`;
  if (!c.required) title += ', not required';
  if (c.verdict === 'exposed') title += ': exposed';
  if (c.latencySeconds !== undefined && c.state === 'open') title += `, ${ms(c.latencySeconds)}`;
  if (c.sinceMs !== undefined) {
    const word = c.sinceStart ? 'since start' : c.unchanged ? 'since first probed' : 'since';
    title += `; ${word} ${absolute(c.sinceMs)}`;
  }
  return `<td data-state="${c.state}" data-verdict="${c.verdict}"${classes} title="${title}">${mark}</td>`;
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
