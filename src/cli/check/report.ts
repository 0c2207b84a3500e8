/**
 * What `check` found, and how it reads: pure functions from probe results to the
 * verdict, the JSON document and the table. No I/O here, so each is tested from
 * literals.
 */
import type { ClusterNode, SourceStatus } from '../../discovery/types.js';
import { STATE_GUIDE } from '../../probe/states.js';
import { PROBE_STATES, type ProbeResult, type ProbeState } from '../../probe/types.js';
import type { ExpectedState, Target } from '../../targets/types.js';
import { type Judgement, judge } from '../../targets/verdict.js';
import { paint, renderMarkdownTable, renderTextTable, type Table, type Tone } from '../table.js';
import type { NotProbed } from './not-probed.js';
import { errorInWords } from './words.js';

export interface CheckedTarget {
  readonly target: Target;
  readonly result: ProbeResult;
}

export interface CheckReport {
  readonly vantage: string;
  readonly discovery: SourceStatus;
  /** In discovery's order; the table groups by them. */
  readonly nodes: readonly ClusterNode[];
  readonly checked: readonly CheckedTarget[];
  readonly durationSeconds: number;
  /** What this vantage leaves out, and why. Default none. */
  readonly notProbed?: readonly NotProbed[];
}

/** `ok`, or not as expected on a required target (`failed`) or an optional one. */
export type Verdict = 'ok' | 'failed' | 'failed-optional';

export function verdictOf({ target, result }: CheckedTarget): Verdict {
  const judgement = judge(target, result.state);
  if (!judgement.notAsExpected) return 'ok';
  return judgement.failing ? 'failed' : 'failed-optional';
}

/** What a state means for the operator's next step. */
export function meaning({ target, result }: CheckedTarget): string {
  return meaningOf(judge(target, result.state), result);
}

function meaningOf(judgement: Judgement, result: ProbeResult): string {
  if (judgement.verdict === 'exposed') return 'answers here: exposed';
  if (result.state === 'error') return `not probed: ${errorInWords(result.error)}`;
  return STATE_GUIDE[result.state].short;
}

/** The state and its meaning: `refused: nothing listens`. */
export function explain(checked: CheckedTarget): string {
  return `${checked.result.state}: ${meaning(checked)}`;
}

/** The port's name as a reader knows it: the catalog id, or namespace/service:port. */
export function displayName(target: Target): string {
  const nodePort = target.nodePort;
  if (!nodePort) return target.portName;
  return `${nodePort.namespace}/${nodePort.service}:${target.portName}`;
}

export interface CheckSummary {
  readonly nodes: number;
  readonly targets: number;
  readonly asExpected: number;
  readonly requiredNotAsExpected: number;
  readonly optionalNotAsExpected: number;
  /** Targets whose probe could not run here (state error: no address, no descriptor). */
  readonly notProbed: number;
  /** Targets by state, every state present. */
  readonly states: Readonly<Record<ProbeState, number>>;
  readonly durationSeconds: number;
}

export function summarize(report: CheckReport): CheckSummary {
  const states = Object.fromEntries(PROBE_STATES.map((state) => [state, 0])) as Record<
    ProbeState,
    number
  >;
  let ok = 0;
  let required = 0;
  let optional = 0;
  const nodes = new Set<string>();
  for (const checked of report.checked) {
    states[checked.result.state] += 1;
    nodes.add(checked.target.node);
    const verdict = verdictOf(checked);
    if (verdict === 'ok') ok += 1;
    else if (verdict === 'failed') required += 1;
    else optional += 1;
  }
  return {
    nodes: nodes.size,
    targets: report.checked.length,
    asExpected: ok,
    requiredNotAsExpected: required,
    optionalNotAsExpected: optional,
    notProbed: states.error,
    states,
    durationSeconds: report.durationSeconds,
  };
}

/** True when discovery saw the whole cluster and every required target is as expected. */
export function isOk(report: CheckReport): boolean {
  return report.discovery.up && report.checked.every((c) => verdictOf(c) !== 'failed');
}

/** One target in `check --output=json`. The shape is a public interface: add, never rename. */
export interface CheckJsonTarget {
  readonly node: string;
  readonly address: string;
  /** The IP literal probed ("" when the name did not resolve). */
  readonly ip: string;
  readonly port: number;
  readonly protocol: string;
  readonly portName: string;
  readonly component: string;
  readonly category: string;
  readonly scope: string;
  readonly expected: ExpectedState;
  readonly required: boolean;
  readonly state: ProbeState;
  readonly asExpected: boolean;
  /** Connect time when a connect finished (open, refused, rejected); null otherwise. */
  readonly latencySeconds: number | null;
  /** What the state means here, in words: `nothing listens`, `host name does not resolve`. */
  readonly reason: string;
  /** The errno, for scripts. */
  readonly error?: string;
  /** The node's roles. */
  readonly roles: readonly string[];
  readonly namespace?: string;
  readonly service?: string;
  readonly group?: string;
}

export interface CheckJson {
  readonly ok: boolean;
  readonly vantage: string;
  /** Where the probes came from, in words: `central (in the cluster)`, `this machine`. */
  readonly from: string;
  readonly discovery: { readonly source: string; readonly up: boolean };
  readonly targets: readonly CheckJsonTarget[];
  readonly notProbed: readonly NotProbed[];
  readonly summary: CheckSummary;
}

/** States whose duration is a finished connect: a handshake, a reset or a firewall's answer. */
const CONNECT_FINISHED: ReadonlySet<ProbeState> = new Set(['open', 'refused', 'rejected']);

export function toCheckJson(report: CheckReport): CheckJson {
  const roles = new Map(report.nodes.map((node) => [node.name, node.roles]));
  return {
    ok: isOk(report),
    vantage: report.vantage,
    from: vantageWords(report),
    discovery: { source: report.discovery.source, up: report.discovery.up },
    targets: ordered(report).map(jsonTarget(roles)),
    notProbed: report.notProbed ?? [],
    summary: summarize(report),
  };
}

/** One target's JSON, judged once (the verdict and the reason both need it). */
function jsonTarget(
  roles: ReadonlyMap<string, readonly string[]>,
): (checked: CheckedTarget) => CheckJsonTarget {
  return ({ target, result }) => {
    const judgement = judge(target, result.state);
    return {
      node: target.node,
      address: target.address,
      ip: target.ip,
      port: target.port,
      protocol: target.protocol,
      portName: target.portName,
      component: target.component,
      category: target.category,
      scope: target.scope,
      expected: target.expected,
      required: target.required,
      state: result.state,
      asExpected: !judgement.notAsExpected,
      // Microseconds are all a connect time can tell.
      latencySeconds: CONNECT_FINISHED.has(result.state)
        ? Math.round(result.durationSeconds * 1e6) / 1e6
        : null,
      reason: meaningOf(judgement, result),
      ...(result.error !== undefined && { error: result.error }),
      roles: roles.get(target.node) ?? [],
      ...(target.nodePort && {
        namespace: target.nodePort.namespace,
        service: target.nodePort.service,
        group: target.nodePort.group,
      }),
    };
  };
}

/**
 * `check --output=json`'s text: indented, with each target on one line of its own. Tens
 * of thousands of targets indented field by field were 13 MB at 21,000 targets and a
 * sixth of check's time; on a line each they are a third smaller, and still read one
 * target a line in a pager or with grep. The same JSON value either way.
 */
export function renderCheckJson(json: CheckJson): string {
  const TARGETS = '\n  "targets": []';
  const outline = JSON.stringify({ ...json, targets: [] }, null, 2);
  if (json.targets.length === 0) return `${outline}\n`;
  const at = outline.indexOf(TARGETS);
  const lines = json.targets.map((target) => JSON.stringify(target)).join(',\n    ');
  return `${outline.slice(0, at)}\n  "targets": [\n    ${lines}\n  ]${outline.slice(at + TARGETS.length)}\n`;
}

/**
 * Where the probes came from, in words that match the mode: `central` is the in-cluster
 * Deployment, so a check on static nodes from a workstation says `this machine`.
 */
export function vantageWords(report: Pick<CheckReport, 'vantage' | 'discovery'>): string {
  switch (report.vantage) {
    case 'central':
      return report.discovery.source === 'kubernetes' ? 'central (in the cluster)' : 'this machine';
    case 'external':
      return 'external (outside the cluster)';
    default:
      return `node ${report.vantage}`;
  }
}

/**
 * Nodes in discovery's order (nodes it did not list after, by name), then ports
 * ascending, then addresses. Grouped by node first and each group sorted alone: one
 * sort of 21,000 targets looked a node's rank up twice per comparison, a sixth of
 * check's report.
 */
function ordered(report: CheckReport): CheckedTarget[] {
  const groups = new Map<string, CheckedTarget[]>(report.nodes.map((node) => [node.name, []]));
  const unlisted: string[] = [];
  for (const checked of report.checked) {
    const group = groups.get(checked.target.node);
    if (group) group.push(checked);
    else {
      groups.set(checked.target.node, [checked]);
      unlisted.push(checked.target.node);
    }
  }
  const out: CheckedTarget[] = [];
  const listed = report.nodes.map((node) => node.name);
  for (const name of [...new Set(listed), ...unlisted.sort(compareText)]) {
    const group = (groups.get(name) ?? []).sort(
      (a, b) => a.target.port - b.target.port || compareText(a.target.address, b.target.address),
    );
    for (const checked of group) out.push(checked);
  }
  return out;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function formatLatency(result: ProbeResult): string {
  if (result.state !== 'open') return '-';
  const ms = result.durationSeconds * 1000;
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

const TONE_OF: Readonly<Record<Verdict, Tone>> = {
  ok: 'good',
  failed: 'bad',
  'failed-optional': 'warn',
};

function resultText(checked: CheckedTarget, verdict: Verdict): string {
  if (verdict === 'ok') return 'ok';
  const why = meaning(checked);
  return verdict === 'failed' ? `FAIL ${why}` : `optional, ${why}`;
}

const COLUMNS = [
  { header: 'port', align: 'right' },
  'name',
  'expected',
  'state',
  { header: 'latency', align: 'right' },
  'result',
] as const;

function row(checked: CheckedTarget) {
  const verdict = verdictOf(checked);
  const tone = TONE_OF[verdict];
  const { target, result } = checked;
  return [
    String(target.port),
    displayName(target),
    { text: target.expected, tone: 'dim' as const },
    { text: result.state, tone: verdict === 'ok' ? ('plain' as const) : tone },
    formatLatency(result),
    { text: resultText(checked, verdict), tone },
  ];
}

export interface CheckTextOptions {
  readonly colour: boolean;
  /** Only the ports not as expected in the tables. Default false. */
  readonly failuresOnly?: boolean;
  /** The terminal's width: the result column wraps to fit it. */
  readonly width?: number;
}

/** The ports of one node that fail for one cause: one line of the summary. */
export interface FailureGroup {
  readonly node: string;
  readonly addresses: readonly string[];
  /** `refused: nothing listens`. */
  readonly cause: string;
  readonly required: boolean;
  readonly targets: readonly CheckedTarget[];
  /** Every port of the node fails this way: the node, not its ports, is the news. */
  readonly wholeNode: boolean;
}

/** Failures by node (discovery's order), then by cause; required before optional. */
export function failureGroups(report: CheckReport): FailureGroup[] {
  const perNode = new Map<string, number>();
  for (const { target } of report.checked) {
    perNode.set(target.node, (perNode.get(target.node) ?? 0) + 1);
  }
  const groups = new Map<
    string,
    { node: string; cause: string; required: boolean; targets: CheckedTarget[] }
  >();
  for (const checked of ordered(report)) {
    const verdict = verdictOf(checked);
    if (verdict === 'ok') continue;
    // A probe that never ran has no state worth naming: its reason is the cause.
    const cause = checked.result.state === 'error' ? meaning(checked) : explain(checked);
    const key = `${checked.target.node}\u0000${cause}`;
    const group = groups.get(key) ?? {
      node: checked.target.node,
      cause,
      required: false,
      targets: [],
    };
    group.targets.push(checked);
    group.required ||= verdict === 'failed';
    groups.set(key, group);
  }
  // Required first; the sort is stable, so node order stays within each.
  return [...groups.values()]
    .sort((a, b) => Number(b.required) - Number(a.required))
    .map((group) => ({
      ...group,
      addresses: [...new Set(group.targets.map((c) => c.target.address))],
      wholeNode: group.targets.length === perNode.get(group.node) && group.targets.length > 1,
    }));
}

function portList(targets: readonly CheckedTarget[]): string {
  return targets
    .map((checked) => {
      const optional = verdictOf(checked) === 'failed-optional' ? ' (optional)' : '';
      return `${checked.target.port} ${displayName(checked.target)}${optional}`;
    })
    .join(', ');
}

function failureLine(group: FailureGroup): string {
  const label = group.required ? 'FAIL' : 'optional';
  const where = `${group.node} (${group.addresses.join(', ')})`;
  const what = group.wholeNode ? `all ${group.targets.length} ports` : portList(group.targets);
  return `${label} ${where}: ${group.cause}: ${what}`;
}

/** The summary, then a table per node (only failing rows with failuresOnly), then the counts. */
export function renderCheckText(report: CheckReport, options: CheckTextOptions): string {
  const { colour } = options;
  let text = '';
  const groups = failureGroups(report);
  if (groups.length > 0) {
    text += `${paint('Not as expected:', 'bad', colour)}\n`;
    for (const group of groups) {
      text += `  ${paint(failureLine(group), group.required ? 'bad' : 'warn', colour)}\n`;
    }
    text += '\n';
  }
  const byNode = new Map<string, CheckedTarget[]>();
  for (const checked of ordered(report)) {
    if (options.failuresOnly && verdictOf(checked) === 'ok') continue;
    const group = byNode.get(checked.target.node);
    if (group) group.push(checked);
    else byNode.set(checked.target.node, [checked]);
  }
  const roles = new Map(report.nodes.map((node) => [node.name, node.roles.join(', ')]));
  for (const [node, group] of byNode) {
    const addresses = [...new Set(group.map((c) => c.target.address))].join(', ');
    const nodeRoles = roles.get(node);
    const failed = group.some((c) => verdictOf(c) === 'failed');
    text += `${paint(node, failed ? 'bad' : 'plain', colour)}  ${addresses}`;
    text += nodeRoles ? `  ${paint(`(${nodeRoles})`, 'dim', colour)}\n` : '\n';
    const table: Table = { columns: COLUMNS, rows: group.map(row) };
    text += `${renderTextTable(table, {
      colour,
      indent: '  ',
      ...(options.width !== undefined && { width: options.width }),
    })}\n`;
  }
  for (const line of notProbedLines(report)) text += `${paint(line, 'dim', colour)}\n`;
  return `${text}${summaryLines(report, colour).join('\n')}\n`;
}

function notProbedLines(report: CheckReport): string[] {
  const from = vantageWords(report);
  return (report.notProbed ?? []).map((item) => {
    const nodes = item.nodes.length === 1 ? item.nodes[0] : `${item.nodes.length} nodes`;
    return `Not probed from ${from}: ${item.ports.join(', ')} on ${nodes}: ${item.reason}.`;
  });
}

function summaryLines(report: CheckReport, colour: boolean): string[] {
  const s = summarize(report);
  const seconds =
    s.durationSeconds < 10 ? s.durationSeconds.toFixed(2) : s.durationSeconds.toFixed(0);
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const from = vantageWords(report);
  const probed = s.targets - s.notProbed;
  let line =
    probed === 0
      ? `${plural(s.nodes, 'node')}, ${plural(s.targets, 'port')}: none could be probed from ${from}`
      : `${plural(s.nodes, 'node')}, ${plural(s.targets, 'port')} checked from ${from} in ${seconds} s: ${s.asExpected} as expected`;
  if (probed > 0 && s.notProbed > 0) line += `, ${s.notProbed} could not be probed`;
  if (s.requiredNotAsExpected > 0) {
    line += `, ${paint(`${s.requiredNotAsExpected} required not`, 'bad', colour)}`;
  }
  if (s.optionalNotAsExpected > 0) {
    line += `, ${paint(`${s.optionalNotAsExpected} optional not`, 'warn', colour)}`;
  }
  const lines = [`${line}.`];
  if (!report.discovery.up) {
    lines.push(
      paint(
        `${report.discovery.source} discovery is not healthy: the nodes and NodePorts above may be incomplete.`,
        'bad',
        colour,
      ),
    );
  }
  return lines;
}

/** Markdown for a ticket: the failures as a list, one table with a node column, the counts. */
export function renderCheckMarkdown(report: CheckReport): string {
  const groups = failureGroups(report);
  const blocks: string[] = [];
  if (groups.length > 0) {
    blocks.push(
      `**Not as expected**\n\n${groups.map((group) => `- ${markdownText(failureLine(group))}`).join('\n')}`,
    );
  }
  const columns = ['node', 'address', ...COLUMNS];
  const rows = ordered(report).map((checked) => [
    checked.target.node,
    checked.target.address,
    ...row(checked),
  ]);
  blocks.push(renderMarkdownTable({ columns, rows }).trimEnd());
  const notProbedText = notProbedLines(report);
  if (notProbedText.length > 0) {
    blocks.push(notProbedText.map((line) => `- ${markdownText(line)}`).join('\n'));
  }
  blocks.push(summaryLines(report, false).map(markdownText).join('  \n'));
  return `${blocks.join('\n\n')}\n`;
}

/** Text outside a table: escape what Markdown would read as markup. */
function markdownText(text: string): string {
  return text.replace(/[\\`*_[\]<>|#]/g, (c) => `\\${c}`);
}
