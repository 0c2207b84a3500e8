/**
 * Just enough of Grafana's dashboard JSON (schemaVersion 39, Grafana 10 and later) to
 * build our four dashboards: every panel takes its data source from the `datasource`
 * variable, so one import serves any Prometheus.
 */
import { PORT_STATES } from '../promql.js';

// Grafana, not JavaScript, fills in ${datasource}: the dashboard's data source variable.
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax
export const DATASOURCE = { type: 'prometheus', uid: '${datasource}' } as const;

/** Tags every dashboard carries; the dashboards' link bar lists the others by them. */
const TAGS = ['imanager', 'imanager-port-exporter'];

export type Json =
  | string
  | number
  | boolean
  | null
  | readonly Json[]
  | { readonly [k: string]: Json };

export interface Query {
  readonly expr: string;
  /** Legend template, `{{label}}`; Grafana's automatic legend when absent. */
  readonly legend?: string;
  /** One value per series at the end of the range, as stats and tables want. */
  readonly instant?: boolean;
  /** Rows of labels instead of series: tables. */
  readonly table?: boolean;
}

/** A value mapping: value -> text and color. */
export interface Mapping {
  readonly value: number;
  readonly text: string;
  readonly color: string;
}

/** Steps above a base color: `[{ value: 1, color: 'red' }]` turns red from 1 on. */
export interface Step {
  readonly value: number;
  readonly color: string;
}

export interface PanelSpec {
  readonly title: string;
  readonly description?: string;
  readonly width: number;
  readonly height: number;
  readonly queries: readonly Query[];
  readonly unit?: string;
  readonly min?: number;
  readonly max?: number;
  readonly decimals?: number;
  readonly mappings?: readonly Mapping[];
  readonly baseColor?: string;
  readonly steps?: readonly Step[];
  readonly overrides?: readonly Json[];
  readonly transformations?: readonly Json[];
}

export interface Panel {
  readonly type: string;
  readonly spec: PanelSpec;
  readonly options: Json;
  readonly custom?: Json;
}

export interface Row {
  readonly type: 'row';
  readonly title: string;
  /** Variable whose values each get a copy of the row and its panels. */
  readonly repeat?: string;
}

export type Item = Panel | Row;

export function stateMappings(): Mapping[] {
  return PORT_STATES.map((s) => ({ value: s.value, text: s.name, color: s.color }));
}

function mappingsJson(mappings: readonly Mapping[]): Json[] {
  if (mappings.length === 0) return [];
  const options: Record<string, Json> = {};
  mappings.forEach((m, index) => {
    options[String(m.value)] = { text: m.text, color: m.color, index };
  });
  return [{ type: 'value', options }];
}

function target(query: Query, refId: string): Json {
  const t: Record<string, Json> = {
    datasource: DATASOURCE,
    refId,
    expr: query.expr,
    instant: query.instant ?? false,
    range: !(query.instant ?? false),
    format: query.table ? 'table' : 'time_series',
    legendFormat: query.legend ?? '__auto',
  };
  return t;
}

const LEGEND_BOTTOM = { showLegend: true, displayMode: 'list', placement: 'bottom', calcs: [] };

export function stat(spec: PanelSpec, colorMode: 'background' | 'value' = 'background'): Panel {
  return {
    type: 'stat',
    spec,
    options: {
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      colorMode,
      graphMode: 'none',
      justifyMode: 'auto',
      orientation: 'auto',
      textMode: 'value',
      wideLayout: true,
      showPercentChange: false,
    },
  };
}

export function gauge(spec: PanelSpec): Panel {
  return {
    type: 'gauge',
    spec,
    options: {
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      showThresholdLabels: false,
      showThresholdMarkers: true,
    },
  };
}

export function barGauge(spec: PanelSpec): Panel {
  return {
    type: 'bargauge',
    spec,
    options: {
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      displayMode: 'gradient',
      orientation: 'horizontal',
      showUnfilled: true,
      valueMode: 'color',
      namePlacement: 'auto',
      sizing: 'auto',
      minVizHeight: 16,
      minVizWidth: 8,
      maxVizHeight: 300,
    },
  };
}

/** A table whose cells take their background from the mappings and thresholds. */
export function table(
  spec: PanelSpec,
  sortBy?: { readonly field: string; readonly desc: boolean },
): Panel {
  return {
    type: 'table',
    spec,
    options: {
      showHeader: true,
      cellHeight: 'sm',
      footer: { show: false, reducer: ['sum'], countRows: false, fields: '' },
      sortBy: sortBy ? [{ displayName: sortBy.field, desc: sortBy.desc }] : [],
    },
    custom: { align: 'auto', cellOptions: { type: 'auto' }, inspect: false, filterable: true },
  };
}

export function stateTimeline(spec: PanelSpec): Panel {
  return {
    type: 'state-timeline',
    spec,
    options: {
      mergeValues: true,
      showValue: 'never',
      alignValue: 'left',
      rowHeight: 0.9,
      legend: { showLegend: true, displayMode: 'list', placement: 'bottom' },
      tooltip: { mode: 'single', sort: 'none' },
    },
    custom: {
      lineWidth: 0,
      fillOpacity: 80,
      hideFrom: { legend: false, tooltip: false, viz: false },
    },
  };
}

export function timeseries(
  spec: PanelSpec,
  look: { readonly stacked?: boolean; readonly thresholdLine?: boolean } = {},
): Panel {
  return {
    type: 'timeseries',
    spec,
    options: {
      legend: LEGEND_BOTTOM,
      tooltip: { mode: 'multi', sort: 'desc' },
    },
    custom: {
      drawStyle: 'line',
      lineInterpolation: 'linear',
      lineWidth: 1,
      fillOpacity: look.stacked ? 60 : 10,
      gradientMode: 'none',
      showPoints: 'never',
      spanNulls: false,
      stacking: { mode: look.stacked ? 'normal' : 'none', group: 'A' },
      axisPlacement: 'auto',
      thresholdsStyle: { mode: look.thresholdLine ? 'line' : 'off' },
      hideFrom: { legend: false, tooltip: false, viz: false },
    },
  };
}

export function row(title: string, repeat?: string): Row {
  return repeat === undefined ? { type: 'row', title } : { type: 'row', title, repeat };
}

/** Cells of string columns keep their plain look in a table colored by value. */
export const PLAIN_STRING_CELLS: Json = {
  matcher: { id: 'byType', options: 'string' },
  properties: [{ id: 'custom.cellOptions', value: { type: 'auto' } }],
};

export function fieldOverride(field: string, properties: Readonly<Record<string, Json>>): Json {
  return {
    matcher: { id: 'byName', options: field },
    properties: Object.entries(properties).map(([id, value]) => ({ id, value })),
  };
}

/** Grafana's organize transformation: hide, rename and order the columns of a table. */
export function organize(
  hide: readonly string[],
  rename: Readonly<Record<string, string>> = {},
  order: readonly string[] = [],
): Json {
  return {
    id: 'organize',
    options: {
      excludeByName: Object.fromEntries(hide.map((f) => [f, true])),
      renameByName: rename,
      indexByName: Object.fromEntries(order.map((f, i) => [f, i])),
    },
  };
}

function panelJson(panel: Panel, id: number, gridPos: Json): Json {
  const { spec } = panel;
  const defaults: Record<string, Json> = {
    mappings: mappingsJson(spec.mappings ?? []),
    thresholds: {
      mode: 'absolute',
      steps: [
        { color: spec.baseColor ?? 'green', value: null },
        ...(spec.steps ?? []).map((s) => ({ color: s.color, value: s.value })),
      ],
    },
    color: { mode: panel.type === 'timeseries' ? 'palette-classic' : 'thresholds' },
  };
  if (spec.unit !== undefined) defaults.unit = spec.unit;
  if (spec.min !== undefined) defaults.min = spec.min;
  if (spec.max !== undefined) defaults.max = spec.max;
  if (spec.decimals !== undefined) defaults.decimals = spec.decimals;
  if (panel.custom !== undefined) defaults.custom = panel.custom;
  const json: Record<string, Json> = {
    id,
    type: panel.type,
    title: spec.title,
    description: spec.description ?? '',
    gridPos,
    datasource: DATASOURCE,
    targets: spec.queries.map((q, i) => target(q, String.fromCharCode(65 + i))),
    fieldConfig: { defaults, overrides: [...(spec.overrides ?? [])] },
    options: panel.options,
  };
  if (spec.transformations) json.transformations = [...spec.transformations];
  return json;
}

/** Lays the items out left to right, 24 columns wide; a row starts a new line. */
function layout(items: readonly Item[]): Json[] {
  const out: Json[] = [];
  let x = 0;
  let y = 0;
  let lineHeight = 0;
  let id = 1;
  for (const item of items) {
    if (!('spec' in item)) {
      y += lineHeight;
      x = 0;
      lineHeight = 0;
      const rowJson: Record<string, Json> = {
        id: id++,
        type: 'row',
        title: item.title,
        collapsed: false,
        gridPos: { x: 0, y, w: 24, h: 1 },
        panels: [],
      };
      if (item.repeat) rowJson.repeat = item.repeat;
      out.push(rowJson);
      y += 1;
      continue;
    }
    const { width, height } = item.spec;
    if (x + width > 24) {
      y += lineHeight;
      x = 0;
      lineHeight = 0;
    }
    out.push(panelJson(item, id++, { x, y, w: width, h: height }));
    x += width;
    lineHeight = Math.max(lineHeight, height);
  }
  return out;
}

export interface Variable {
  readonly name: string;
  readonly label: string;
  /** `label_values(<series selector>, <label>)`. */
  readonly query: string;
  /** Several values and an All option that matches everything, for `=~` matchers. */
  readonly multi: boolean;
}

function variableJson(v: Variable): Json {
  return {
    name: v.name,
    label: v.label,
    type: 'query',
    datasource: DATASOURCE,
    definition: v.query,
    query: { query: v.query, refId: 'PrometheusVariableQueryEditor-VariableQuery', qryType: 1 },
    refresh: 2,
    sort: 1,
    multi: v.multi,
    includeAll: v.multi,
    allValue: v.multi ? '.*' : null,
    current: v.multi ? { selected: true, text: ['All'], value: ['$__all'] } : {},
    options: [],
    hide: 0,
    regex: '',
    skipUrlSync: false,
  };
}

const DATASOURCE_VARIABLE: Json = {
  name: 'datasource',
  label: 'Data source',
  type: 'datasource',
  query: 'prometheus',
  current: {},
  options: [],
  refresh: 1,
  regex: '',
  hide: 0,
  includeAll: false,
  multi: false,
  skipUrlSync: false,
};

export interface DashboardSpec {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly variables: readonly Variable[];
  readonly items: readonly Item[];
}

export interface Dashboard {
  readonly uid: string;
  readonly [k: string]: Json;
}

export function dashboard(spec: DashboardSpec): Dashboard {
  return {
    id: null,
    uid: spec.uid,
    title: spec.title,
    description: spec.description,
    tags: TAGS,
    timezone: 'browser',
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    fiscalYearStartMonth: 0,
    liveNow: false,
    weekStart: '',
    links: [
      {
        title: 'iManager ports',
        type: 'dashboards',
        tags: ['imanager-port-exporter'],
        asDropdown: true,
        includeVars: true,
        keepTime: true,
        icon: 'external link',
        targetBlank: false,
        tooltip: '',
        url: '',
      },
    ],
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
      ],
    },
    templating: { list: [DATASOURCE_VARIABLE, ...spec.variables.map(variableJson)] },
    panels: layout(spec.items),
  };
}
