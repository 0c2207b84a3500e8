/** Variables, expressions and panels that more than one dashboard shows. */
import type { MonitoringConfig } from '../config.js';
import {
  clusterLabels,
  onNode,
  raw,
  selector,
  TARGET_DETAIL_LABELS,
  withTargetDetails,
} from '../promql.js';
import {
  fieldOverride,
  type Json,
  organize,
  type Panel,
  PLAIN_STRING_CELLS,
  stateMappings,
  table,
  type Variable,
} from './grafana.js';

/**
 * The variables and matchers every dashboard shares, for one config: with a cluster
 * label, a `cluster` variable comes first and every selector matches it.
 */
export interface Scope {
  /** `cluster=~"$cluster"`, or none where the config names no cluster label. */
  readonly cluster: readonly string[];
  /** The targets the cluster, vantage and node variables select. */
  readonly selected: readonly string[];
  /** The cluster variable, where there is one: put it first. */
  readonly clusterVariables: readonly Variable[];
  readonly vantage: Variable;
  readonly node: Variable;
  readonly port: Variable;
  readonly group: Variable;
  readonly k8sNamespace: Variable;
}

export function scopeOf(config: MonitoringConfig): Scope {
  const label = config.clusterLabel;
  const cluster = label === '' ? [] : [`${label}=~"$cluster"`];
  const within = (...matchers: string[]) => selector(...cluster, ...matchers);
  return {
    cluster,
    selected: [...cluster, 'vantage=~"$vantage"', 'node=~"$node"'],
    clusterVariables:
      label === ''
        ? []
        : [
            {
              name: 'cluster',
              label: 'Cluster',
              query: `label_values(imanager_exporter_build_info, ${label})`,
              multi: true,
            },
          ],
    vantage: {
      name: 'vantage',
      label: 'Vantage',
      query: `label_values(imanager_port_up${within()}, vantage)`,
      multi: true,
    },
    node: {
      name: 'node',
      label: 'Node',
      query: `label_values(imanager_port_up${within('vantage=~"$vantage"')}, node)`,
      multi: true,
    },
    port: {
      name: 'port',
      label: 'Port',
      query: `label_values(imanager_port_up${within('vantage=~"$vantage"', 'node=~"$node"')}, port)`,
      multi: true,
    },
    group: {
      name: 'group',
      label: 'NodePort group',
      query: `label_values(imanager_nodeport_info${within()}, group)`,
      multi: true,
    },
    k8sNamespace: {
      name: 'k8s_namespace',
      label: 'Namespace',
      query: `label_values(imanager_nodeport_info${within('group=~"$group"')}, k8s_namespace)`,
      multi: true,
    },
  };
}

/**
 * Labels the scrape attaches (the Prometheus Operator's among them): tables leave them
 * out, so that its `service` and `namespace` are not shown beside the NodePort's.
 */
export const SCRAPE_LABELS = [
  'job',
  'instance',
  'namespace',
  'service',
  'pod',
  'container',
  'endpoint',
] as const;

/**
 * Targets not as expected: required and expected open but not open (value: the state),
 * or expected closed but open (value 0).
 */
export function notAsExpected(...matchers: readonly string[]): string {
  return (
    `imanager_port_state${selector('required="true"', 'expected="open"', ...matchers)} > 0\n` +
    `or\n` +
    `imanager_port_state${selector('required="true"', 'expected="closed"', ...matchers)} == 0`
  );
}

/** A node exporter figure per node, for the nodes the node variable selects. */
export function perNode(config: MonitoringConfig, expr: string): string {
  return onNode(config, expr, [...scopeOf(config).cluster, 'node=~"$node"'].join(', '));
}

/** The node exporter's CPU busy ratio per node, 0-1. */
export function cpuBusy(config: MonitoringConfig): string {
  const cluster = scopeOf(config).cluster;
  const idle = `node_cpu_seconds_total${selector(config.nodeExporterSelector, ...cluster, 'mode="idle"')}`;
  const by = [...clusterLabels(config), 'node'].join(', ');
  return `1 - avg by (${by}) (\n  ${perNode(config, `rate(${idle}[$__rate_interval])`)}\n)`;
}

/** The node exporter's memory in use per node, 0-1: all but what is available. */
export function memoryUsed(config: MonitoringConfig): string {
  const ne = selector(config.nodeExporterSelector, ...scopeOf(config).cluster);
  return perNode(
    config,
    `1 - node_memory_MemAvailable_bytes${ne} / node_memory_MemTotal_bytes${ne}`,
  );
}

/** The node exporter's disk in use per node and mount point, 0-1. */
export function diskUsed(config: MonitoringConfig): string {
  const fs = selector(
    config.nodeExporterSelector,
    ...scopeOf(config).cluster,
    `fstype!~${raw(config.ignoredFilesystemTypes)}`,
  );
  return perNode(config, `1 - node_filesystem_avail_bytes${fs} / node_filesystem_size_bytes${fs}`);
}

const STATE_COLUMN = 'State';

/**
 * A table of targets with their state, since when and for how long: `failing` selects
 * the targets (its value is imanager_port_state), imanager_port_last_change_timestamp_seconds
 * gives the time. The three instant queries return rows with the same labels, which
 * the merge transformation turns into one row per target.
 */
export function sinceWhenTable(
  title: string,
  description: string,
  failing: string,
  lastChangeMatchers: readonly string[],
  size: { readonly width: number; readonly height: number },
): Panel {
  const lastChange = withTargetDetails(
    `imanager_port_last_change_timestamp_seconds${selector(...lastChangeMatchers)}`,
    failing,
  );
  const shown = ['node', 'port', 'port_name', 'component', 'k8s_namespace', 'k8s_service', 'group'];
  const hidden = [
    'Time',
    '__name__',
    ...SCRAPE_LABELS,
    'protocol',
    ...TARGET_DETAIL_LABELS.filter((l) => !shown.includes(l) && l !== 'category'),
  ];
  return table(
    {
      title,
      description,
      ...size,
      queries: [
        { expr: failing, instant: true, table: true },
        { expr: `1000 * (\n${lastChange}\n)`, instant: true, table: true },
        { expr: `time() - (\n${lastChange}\n)`, instant: true, table: true },
      ],
      transformations: [
        organize(hidden),
        { id: 'merge', options: {} },
        organize(
          [],
          {
            'Value #A': STATE_COLUMN,
            'Value #B': 'Since',
            'Value #C': 'For',
            port_name: 'port name',
            k8s_service: 'service',
          },
          [
            'vantage',
            'node',
            'address',
            'port',
            'port_name',
            'component',
            'category',
            'k8s_namespace',
            'k8s_service',
            'group',
            'Value #A',
            'Value #B',
            'Value #C',
          ],
        ),
      ],
      overrides: [
        fieldOverride(STATE_COLUMN, {
          mappings: stateMappingsWithExposed(),
          'custom.cellOptions': { type: 'color-background' },
        }),
        fieldOverride('Since', { unit: 'dateTimeAsIso' }),
        fieldOverride('For', { unit: 'dtdurations' }),
      ],
    },
    { field: 'For', desc: true },
  );
}

/** In a table of failures an open port is one that should be closed. */
function stateMappingsWithExposed(): Json[] {
  const options: Record<string, Json> = {};
  stateMappings().forEach((m, index) => {
    options[String(m.value)] =
      m.value === 0
        ? { text: 'open (exposed)', color: 'orange', index }
        : { text: m.text, color: m.color, index };
  });
  return [{ type: 'value', options }];
}

/**
 * A node x port matrix of states: `expr` returns imanager_port_state by `row` and
 * `column`; Grafana's grouping-to-matrix transformation lays it out.
 */
export function stateMatrix(
  title: string,
  description: string,
  expr: string,
  row: string,
  column: string,
  size: { readonly width: number; readonly height: number },
): Panel {
  const panel = table({
    title,
    description,
    ...size,
    queries: [{ expr, instant: true, table: true }],
    mappings: stateMappings(),
    baseColor: 'text',
    transformations: [
      {
        id: 'groupingToMatrix',
        options: { columnField: column, rowField: row, valueField: 'Value', emptyValue: 'empty' },
      },
    ],
    overrides: [PLAIN_STRING_CELLS],
  });
  return {
    ...panel,
    custom: {
      align: 'center',
      cellOptions: { type: 'color-background', mode: 'basic' },
      inspect: false,
      filterable: false,
    },
  };
}

/**
 * 1 while every exporter Prometheus scrapes is up and was scraped within
 * staleAfterSeconds, else 0, and 0 when Prometheus scrapes none at all: the overview's
 * first panel, red whenever the other figures are incomplete or old.
 */
export function dataFresh(config: MonitoringConfig): string {
  const up = `up${selector(config.exporterSelector, ...scopeOf(config).cluster)}`;
  return `min(\n  ${up}\n  * (time() - timestamp(${up}) < bool ${config.staleAfterSeconds})\n) or vector(0)`;
}

/** The value a figure takes when no exporter is fresh: a stat shows it as "no data", in red. */
export const STALE = -1;

/** STALE, mapped: added to the mappings of every count on the overview. */
export const STALE_MAPPING = { value: STALE, text: 'no data', color: 'red' } as const;

/**
 * `count` (with `or vector(0)`) while at least one exporter is up and fresh, else STALE:
 * with the exporter dead a count of 0 would read as all is well.
 */
export function unlessStale(config: MonitoringConfig, count: string): string {
  const up = `up${selector(config.exporterSelector, ...scopeOf(config).cluster)}`;
  const fresh = `count(${up} == 1 and (time() - timestamp(${up})) < ${config.staleAfterSeconds})`;
  return `(\n  (${count})\n  and on() (${fresh} > 0)\n)\nor on()\nvector(${STALE})`;
}
