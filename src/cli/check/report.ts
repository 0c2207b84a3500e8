/**
 * What `check` found, and how it reads: pure functions from probe results to the
 * verdict, the JSON document and the table. No I/O here, so each is tested from
 * literals.
 */
import type { ClusterNode, SourceStatus } from '../../discovery/types.js';
import { STATE_GUIDE } from '../../probe/states.js';
import { PROBE_STATES, type ProbeResult, type ProbeState } from '../../probe/types.js';
import type { ExpectedState, Target } from '../../targets/types.js';
import { judge } from '../../targets/verdict.js';
import { paint, renderMarkdownTable, renderTextTable, type Table, type Tone } from '../table.js';

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
  const judgement = judge(target, result.state);
  if (judgement.verdict === 'exposed') return 'answers here: exposed';
  if (result.state === 'error') return `not probed (${result.error ?? 'unknown error'})`;
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
  /** Connect time when open; the time until the failure otherwise. */
  readonly latencySeconds: number;
  readonly error?: string;
  readonly namespace?: string;
  readonly service?: string;
  readonly group?: string;
}

export interface CheckJson {
  readonly ok: boolean;
  readonly vantage: string;
  readonly discovery: { readonly source: string; readonly up: boolean };
  readonly targets: readonly CheckJsonTarget[];
  readonly summary: CheckSummary;
}

export function toCheckJson(report: CheckReport): CheckJson {
  return {
    ok: isOk(report),
    vantage: report.vantage,
    discovery: { source: report.discovery.source, up: report.discovery.up },
    targets: ordered(report).map((checked): CheckJsonTarget => {
      const { target, result } = checked;
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
        asExpected: !judge(target, result.state).notAsExpected,
        // Microseconds are all a connect time can tell.
        latencySeconds: Math.round(result.durationSeconds * 1e6) / 1e6,
        ...(result.error !== undefined && { error: result.error }),
        ...(target.nodePort && {
          namespace: target.nodePort.namespace,
          service: target.nodePort.service,
          group: target.nodePort.group,
        }),
      };
    }),
    summary: summarize(report),
  };
}

/** Nodes in discovery's order, then ports ascending, then addresses. */
function ordered(report: CheckReport): CheckedTarget[] {
  const rank = new Map(report.nodes.map((node, i) => [node.name, i]));
  return [...report.checked].sort(
    (a, b) =>
      (rank.get(a.target.node) ?? rank.size) - (rank.get(b.target.node) ?? rank.size) ||
      compareText(a.target.node, b.target.node) ||
      a.target.port - b.target.port ||
      compareText(a.target.address, b.target.address),
  );
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
  { header: 'name' },
  { header: 'expected' },
  { header: 'state' },
  { header: 'latency', align: 'right' },
  { header: 'result' },
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

/** The table grouped by node, then a summary that names every port not as expected. */
export function renderCheckText(report: CheckReport, options: CheckTextOptions): string {
  const { colour } = options;
  const byNode = new Map<string, CheckedTarget[]>();
  for (const checked of ordered(report)) {
    const group = byNode.get(checked.target.node);
    if (group) group.push(checked);
    else byNode.set(checked.target.node, [checked]);
  }
  const roles = new Map(report.nodes.map((node) => [node.name, node.roles.join(', ')]));
  let text = '';
  for (const [node, group] of byNode) {
    const addresses = [...new Set(group.map((c) => c.target.address))].join(', ');
    const nodeRoles = roles.get(node);
    const failed = group.some((c) => verdictOf(c) === 'failed');
    text += `${paint(node, failed ? 'bad' : 'plain', colour)}  ${addresses}`;
    text += nodeRoles ? `  ${paint(`(${nodeRoles})`, 'dim', colour)}\n` : '\n';
    const table: Table = { columns: COLUMNS, rows: group.map(row) };
    text += `${renderTextTable(table, { colour, indent: '  ' })}\n`;
  }
  return text + summaryText(report, colour);
}

function summaryText(report: CheckReport, colour: boolean): string {
  const s = summarize(report);
  const seconds =
    s.durationSeconds < 10 ? s.durationSeconds.toFixed(2) : s.durationSeconds.toFixed(0);
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  let line = `${plural(s.nodes, 'node')}, ${plural(s.targets, 'port')} checked from ${report.vantage} in ${seconds} s: ${s.asExpected} as expected`;
  if (s.requiredNotAsExpected > 0) {
    line += `, ${paint(`${s.requiredNotAsExpected} required not`, 'bad', colour)}`;
  }
  if (s.optionalNotAsExpected > 0) {
    line += `, ${paint(`${s.optionalNotAsExpected} optional not`, 'warn', colour)}`;
  }
  let text = `${line}.\n`;
  if (!report.discovery.up) {
    text += `${paint(`${report.discovery.source} discovery is not healthy: the nodes and NodePorts above may be incomplete.`, 'bad', colour)}\n`;
  }
  const failures = ordered(report).filter((c) => verdictOf(c) === 'failed');
  for (const checked of failures) {
    const { target } = checked;
    text += `${paint('FAIL', 'bad', colour)} ${target.node} ${hostPort(target.address, target.port)} ${displayName(target)} (${target.component}): ${explain(checked)}\n`;
  }
  return text;
}

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** One Markdown table with a node column, for pasting into a ticket. */
export function renderCheckMarkdown(report: CheckReport): string {
  const columns = [{ header: 'node' }, { header: 'address' }, ...COLUMNS];
  const rows = ordered(report).map((checked) => [
    checked.target.node,
    checked.target.address,
    ...row(checked),
  ]);
  return `${renderMarkdownTable({ columns, rows })}\n${summaryText(report, false)}`;
}
