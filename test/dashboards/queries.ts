/** The committed dashboards and the PromQL in them, with Grafana's variables filled in. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { METRICS, type MetricName } from '../../src/metrics/names.js';

export const DASHBOARD_DIR = join(import.meta.dirname, '../../dashboards');

export interface Target {
  readonly refId: string;
  readonly expr: string;
  readonly legendFormat?: string;
  readonly instant?: boolean;
  readonly datasource?: { readonly type: string; readonly uid: string };
}

export interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly gridPos: {
    readonly x: number;
    readonly y: number;
    readonly w: number;
    readonly h: number;
  };
  readonly datasource?: { readonly type: string; readonly uid: string };
  readonly targets?: readonly Target[];
  readonly panels?: readonly Panel[];
  readonly repeat?: string;
  readonly fieldConfig?: {
    readonly defaults: { readonly mappings?: readonly unknown[] };
    readonly overrides: readonly unknown[];
  };
  readonly transformations?: readonly {
    readonly id: string;
    readonly options: {
      readonly excludeByName?: Readonly<Record<string, boolean>>;
      readonly renameByName?: Readonly<Record<string, string>>;
    };
  }[];
}

export interface TemplateVariable {
  readonly name: string;
  readonly type: string;
  readonly query: string | { readonly query: string };
  readonly multi?: boolean;
  readonly includeAll?: boolean;
  readonly allValue?: string | null;
}

export interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly Panel[];
  readonly templating: { readonly list: readonly TemplateVariable[] };
}

export interface DashboardFile {
  readonly file: string;
  readonly dashboard: Dashboard;
}

export function loadDashboards(): DashboardFile[] {
  return readdirSync(DASHBOARD_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({
      file,
      dashboard: JSON.parse(readFileSync(join(DASHBOARD_DIR, file), 'utf8')) as Dashboard,
    }));
}

/** Every panel, rows' nested panels included. */
export function panelsOf(dashboard: Dashboard): Panel[] {
  return dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

export interface PanelQuery {
  readonly uid: string;
  readonly panel: Panel;
  readonly target: Target;
}

export function queriesOf(dashboard: Dashboard): PanelQuery[] {
  return panelsOf(dashboard).flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({ uid: dashboard.uid, panel, target })),
  );
}

/** Values for Grafana's own variables. */
const BUILT_IN: Readonly<Record<string, string>> = {
  __rate_interval: '1m',
  __interval: '30s',
  __range: '1h',
};

/**
 * `expr` with $var and ${var} replaced, as Grafana does it: built-ins and the names in
 * `values`; anything else (such as label_replace's `$1`) stays as it is.
 */
export function substitute(expr: string, values: Readonly<Record<string, string>>): string {
  return expr.replace(
    /\$\{(\w+)\}|\$(\w+)/g,
    (whole, braced: string | undefined, bare: string | undefined) => {
      const name = (braced ?? bare) as string;
      return values[name] ?? BUILT_IN[name] ?? whole;
    },
  );
}

/** Every query variable of the dashboard set to All (`.*`). */
export function allSelected(dashboard: Dashboard): Record<string, string> {
  return Object.fromEntries(
    dashboard.templating.list.filter((v) => v.type === 'query').map((v) => [v.name, '.*']),
  );
}

export function variableQuery(v: TemplateVariable): string {
  return typeof v.query === 'string' ? v.query : v.query.query;
}

/** The series selector and label of `label_values(<selector>, <label>)`. */
export function parseLabelValues(query: string): { selector: string; label: string } {
  const m = /^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/s.exec(query.trim());
  if (!m) throw new Error(`not a label_values(<selector>, <label>) query: ${query}`);
  return { selector: m[1] as string, label: m[2] as string };
}

/**
 * The column titles a table can show: every label its queries' series can carry (their
 * metrics' labels and the scrape's, or only the by() labels of an outer aggregation), less
 * what its organize transformations hide, under the names they give.
 */
export function tableColumnTitles(panel: Panel): string[] {
  const scrape = [
    'job',
    'instance',
    'namespace',
    'service',
    'pod',
    'container',
    'endpoint',
    'cluster',
  ];
  const labels = new Set<string>();
  for (const t of panel.targets ?? []) {
    const outer = /^\s*(?:max|min|sum|count|avg) by \(([^)]*)\)/.exec(t.expr);
    if (outer) {
      for (const l of (outer[1] as string).split(',')) labels.add(l.trim());
      continue;
    }
    for (const m of t.expr.matchAll(/\b(imanager_[a-z_]+)\b/g)) {
      for (const l of METRICS[m[1] as MetricName]?.labels ?? []) labels.add(l);
    }
    for (const l of scrape) labels.add(l);
  }
  let columns = [...labels];
  for (const tr of panel.transformations ?? []) {
    if (tr.id !== 'organize') continue;
    const hidden = tr.options.excludeByName ?? {};
    const renamed = tr.options.renameByName ?? {};
    columns = columns.filter((c) => !hidden[c]).map((c) => renamed[c] ?? c);
  }
  return columns;
}
