/** The lists of what fails and what recovered in the last hour, as HTML. */
import { STATE_GUIDE } from '../../probe/states.js';
import type { FailureRow, RecoveryRow, StatusView } from '../status-view.js';
import { absolute, duration, escapeHtml, plural, when } from './html.js';
import { members, nodeLink, pager, portName, since, stateBadge } from './words.js';

export function failingList(view: StatusView): string {
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
export function recoveredList(view: StatusView): string {
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
