/**
 * The status page's words and small pieces: state and group names, the state badge
 * (exposures in their own colour), "since", links that keep the filter, paging.
 */
import { STATE_GUIDE } from '../../probe/states.js';
import { PROBE_STATES, type ProbeState } from '../../probe/types.js';
import type { CellState, Paged, StatusFilter, StatusView } from '../status-view.js';
import { absolute, ago, escapeHtml, when } from './html.js';
import type { PortGroup } from './summary.js';

export const STATE_WORDS: Readonly<Record<CellState, string>> = {
  ...(Object.fromEntries(PROBE_STATES.map((state) => [state, state])) as Record<
    ProbeState,
    string
  >),
  unprobed: 'not probed yet',
};
export const STATE_MEANING: Readonly<Record<CellState, string>> = {
  ...(Object.fromEntries(
    PROBE_STATES.map((state) => [state, STATE_GUIDE[state].meaning]),
  ) as Record<ProbeState, string>),
  unprobed: 'no result yet',
};
export const GROUP_WORDS: Readonly<Record<PortGroup, string>> = {
  catalog: 'Catalog and custom ports',
  'basic-service': 'NodePorts: basic services',
  'gis-environment': 'NodePorts: GIS environments',
  other: 'NodePorts: other',
};
export function stateBadge(verdict: string, state: ProbeState | CellState): string {
  if (verdict === 'exposed') return '<span class="state exposed">exposed (open)</span>';
  return `<span class="state ${state}">${escapeHtml(STATE_WORDS[state])}</span>`;
}
export function portName(f: {
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
export function members(list: readonly string[], more: number): string {
  if (list.length === 0) return '';
  return `<span class="members">${list.map(escapeHtml).join(', ')}${more > 0 ? ` and ${more} more` : ''}</span>`;
}
/**
 * "3 min ago" for a change this process saw; "since start" or "since first probed" when
 * it saw none: the port may have been so for longer, and the page must not suggest when.
 */
export function since(
  atMs: number,
  seen: { readonly sinceStart?: boolean; readonly unchanged?: boolean },
  view: StatusView,
): string {
  if (!seen.sinceStart && !seen.unchanged) return when(atMs, view.nowMs);
  const word = seen.sinceStart ? 'since start' : 'since first probed';
  return `<time datetime="${new Date(atMs).toISOString()}" title="no change seen since the exporter first probed it">${word}</time> <small>${absolute(atMs)}, ${ago(view.nowMs - atMs)}</small>`;
}
export function nodeLink(name: string, filter: StatusFilter): string {
  return `<a href="${escapeHtml(queryFor({ ...filter, node: name }))}">${escapeHtml(name)}</a>`;
}
/** A query-only relative link: it keeps the page's own path, behind any proxy prefix. */
export function queryFor(
  filter: StatusFilter,
  extra: Readonly<Record<string, string>> = {},
): string {
  const params = new URLSearchParams();
  if (filter.node !== undefined) params.set('node', filter.node);
  if (filter.group !== undefined) params.set('group', filter.group);
  for (const [key, value] of Object.entries(extra)) params.set(key, value);
  return `?${params.toString()}`;
}
/** Links to the other pages of a paged list, keeping the filter. */
export function pager(
  paged: Paged<unknown>,
  filter: StatusFilter,
  param: string,
  what: string,
): string {
  if (paged.pages <= 1) return '';
  const link = (page: number, text: string) =>
    `<a href="${escapeHtml(queryFor(filter, { [param]: String(page) }))}">${text}</a>`;
  const parts = [`<span>Page ${paged.page} of ${paged.pages} (${paged.total} ${what})</span>`];
  if (paged.page > 1) parts.push(link(1, 'first'), link(paged.page - 1, 'previous'));
  if (paged.page < paged.pages) parts.push(link(paged.page + 1, 'next'), link(paged.pages, 'last'));
  return `<nav class="pages" data-pages="${param}">${parts.join('')}</nav>`;
}
