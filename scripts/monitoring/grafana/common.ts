/** Variables, expressions and panels that more than one dashboard shows. */
import type { MonitoringConfig } from '../config.js';
import { onNode, raw, selector, TARGET_DETAIL_LABELS, withTargetDetails } from '../promql.js';
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

export const VANTAGE: Variable = {
  name: 'vantage',
  label: 'Vantage',
  query: 'label_values(imanager_port_up, vantage)',
  multi: true,
};

export const NODE: Variable = {
  name: 'node',
  label: 'Node',
  query: 'label_values(imanager_port_up{vantage=~"$vantage"}, node)',
  multi: true,
};

export const GROUP: Variable = {
  name: 'group',
  label: 'NodePort group',
  query: 'label_values(imanager_nodeport_info, group)',
  multi: true,
};

export const NAMESPACE: Variable = {
  name: 'k8s_namespace',
  label: 'Namespace',
  query: 'label_values(imanager_nodeport_info{group=~"$group"}, k8s_namespace)',
  multi: true,
};

/** The targets the vantage and node variables select. */
export const SELECTED = ['vantage=~"$vantage"', 'node=~"$node"'] as const;

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
  return onNode(config, expr, 'node=~"$node"');
}

/** The node exporter's CPU busy ratio per node, 0-1. */
export function cpuBusy(config: MonitoringConfig): string {
  const idle = `node_cpu_seconds_total${selector(config.nodeExporterSelector, 'mode="idle"')}`;
  return `1 - avg by (node) (\n  ${perNode(config, `rate(${idle}[$__rate_interval])`)}\n)`;
}

/** The node exporter's memory in use per node, 0-1: all but what is available. */
export function memoryUsed(config: MonitoringConfig): string {
  const ne = selector(config.nodeExporterSelector);
  return perNode(
    config,
    `1 - node_memory_MemAvailable_bytes${ne} / node_memory_MemTotal_bytes${ne}`,
  );
}

/** The node exporter's disk in use per node and mount point, 0-1. */
export function diskUsed(config: MonitoringConfig): string {
  const fs = selector(config.nodeExporterSelector, `fstype!~${raw(config.ignoredFilesystemTypes)}`);
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
    'job',
    'instance',
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
