/**
 * The parts of alerts/runbook.md and README.md that come from data: the state tables from
 * src/probe/states.ts, the inhibit rules from alertmanager.ts, the table of alerts from
 * alerts.ts. Each sits between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`;
 * the text around it is written by hand.
 */
import { PROBE_CAUSES, STATE_GUIDE } from '../../src/probe/states.js';
import { PROBE_STATES } from '../../src/probe/types.js';
import { renderAlertmanager } from './alertmanager.js';
import { documentedAlerts } from './alerts.js';
import type { MonitoringConfig } from './config.js';

export const RUNBOOK_PATH = 'alerts/runbook.md';
export const README_PATH = 'README.md';

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

const CONDITION_WORDS = {
  always: 'always',
  'host up': 'the node answered otherwise',
  'host down': 'nothing else of the node answered',
} as const;

function statesTable(): string {
  return table(
    ['state', 'value', 'what it means', 'what to do'],
    PROBE_STATES.map((s) => {
      const guide = STATE_GUIDE[s];
      return [`\`${s}\``, String(guide.value), guide.meaning, guide.action];
    }),
  );
}

function causesTable(): string {
  return table(
    ['errno', 'sent by (ICMP kind)', 'when', 'state', 'meaning', 'what to do'],
    PROBE_CAUSES.map((c) => {
      const guide = STATE_GUIDE[c.state];
      return [
        `\`${c.errno}\``,
        c.source,
        CONDITION_WORDS[c.condition],
        `\`${c.state}\``,
        guide.meaning,
        guide.action,
      ];
    }),
  );
}

function alertsTable(config: MonitoringConfig): string {
  return table(
    ['alert', 'severity', 'for', 'keeps firing', 'fires when'],
    documentedAlerts(config).map(({ rule, when }) => [
      `\`${rule.alert}\``,
      rule.labels.severity,
      rule.for,
      rule.keep_firing_for ?? '',
      when,
    ]),
  );
}

/** The generated blocks of each document, by name. */
function blocks(config: MonitoringConfig): Record<string, Record<string, string>> {
  return {
    [RUNBOOK_PATH]: {
      states: statesTable(),
      causes: causesTable(),
      inhibit: `\`\`\`yaml\n${renderAlertmanager(config)}\`\`\``,
    },
    [README_PATH]: { alerts: alertsTable(config) },
  };
}

/** `text` with each generated block replaced; an error names a block whose markers are missing. */
export function splice(path: string, text: string, generated: Record<string, string>): string {
  let out = text;
  for (const [name, body] of Object.entries(generated)) {
    const begin = `<!-- generated:${name} -->`;
    const end = `<!-- /generated:${name} -->`;
    const from = out.indexOf(begin);
    const to = out.indexOf(end);
    if (from < 0 || to < from) throw new Error(`${path}: no ${begin} ... ${end} block`);
    out = `${out.slice(0, from + begin.length)}\n${body}\n${out.slice(to)}`;
  }
  return out;
}

/** The documents with their generated blocks brought up to date, by path. */
export function renderDocs(
  config: MonitoringConfig,
  read: (path: string) => string,
): ReadonlyMap<string, string> {
  return new Map(
    Object.entries(blocks(config)).map(([path, generated]) => [
      path,
      splice(path, read(path), generated),
    ]),
  );
}
