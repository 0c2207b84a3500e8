import type { MonitoringConfig } from '../config.js';
import { clusterLabels, on, selector } from '../promql.js';
import {
  cpuBusy,
  diskUsed,
  memoryUsed,
  notAsExpected,
  SCRAPE_LABELS,
  scopeOf,
  sinceWhenTable,
} from './common.js';
import {
  barGauge,
  type Dashboard,
  dashboard,
  fieldOverride,
  gauge,
  organize,
  row,
  stat,
  stateMappings,
  stateTimeline,
  table,
  timeseries,
} from './grafana.js';

const USAGE_STEPS = [
  { value: 0.8, color: 'orange' },
  { value: 0.9, color: 'red' },
];

/**
 * One section per node: iManager's node exporter (9101) figures beside the node's port
 * states, so a port that closed when the disk filled up or the CPU pegged shows as such.
 */
export function nodes(config: MonitoringConfig): Dashboard {
  const scope = scopeOf(config);
  const { selected, cluster } = scope;
  // The port variable narrows the per-port panels: an alert's dashboard link sets it.
  const selectedPorts = [...selected, 'port=~"$port"'];
  const requiredOpen = selector('required="true"', 'expected="open"', ...selected);
  const catalogPorts = selector('category!="nodeport"', ...selectedPorts);
  const byNode = (...labels: string[]) =>
    `by (${[...clusterLabels(config), ...labels].join(', ')})`;
  return dashboard({
    uid: 'imanager-ports-nodes',
    title: 'iManager ports / Nodes',
    description:
      "Each node's port states next to the CPU, memory and disk figures of iManager's node exporter on 9101.",
    variables: [...scope.clusterVariables, scope.vantage, scope.node, scope.port],
    items: [
      table(
        {
          title: 'Nodes',
          description:
            "Readiness and roles from discovery, required ports not open from the selected vantages, ICMP, and the node exporter's figures.",
          width: 24,
          height: 8,
          queries: [
            {
              expr: `max ${byNode('node', 'address', 'roles', 'kubelet_version', 'ready')} (imanager_node_info${selector(...cluster, 'node=~"$node"')})`,
              instant: true,
              table: true,
            },
            {
              expr: `sum ${byNode('node')} (1 - imanager_port_up${requiredOpen})`,
              instant: true,
              table: true,
            },
            {
              expr: `min ${byNode('node')} (imanager_node_icmp_up${selector(...selected)})`,
              instant: true,
              table: true,
            },
            { expr: cpuBusy(config), instant: true, table: true },
            { expr: `max ${byNode('node')} (${memoryUsed(config)})`, instant: true, table: true },
            { expr: `max ${byNode('node')} (${diskUsed(config)})`, instant: true, table: true },
          ],
          transformations: [
            { id: 'joinByField', options: { byField: 'node', mode: 'outer' } },
            organize(
              [
                'Time',
                'Time 1',
                'Time 2',
                'Time 3',
                'Time 4',
                'Time 5',
                'Time 6',
                'Value #A',
                ...SCRAPE_LABELS,
              ],
              {
                'Value #B': 'Required ports not open',
                'Value #C': 'ICMP',
                'Value #D': 'CPU busy',
                'Value #E': 'Memory used',
                'Value #F': 'Disk used (fullest)',
                kubelet_version: 'kubelet',
              },
            ),
          ],
          overrides: [
            fieldOverride('Required ports not open', {
              'custom.cellOptions': { type: 'color-background' },
              thresholds: {
                mode: 'absolute',
                steps: [
                  { color: 'green', value: null },
                  { color: 'red', value: 1 },
                ],
              },
            }),
            fieldOverride('ICMP', {
              mappings: [
                {
                  type: 'value',
                  options: {
                    '0': { text: 'no answer', color: 'red', index: 0 },
                    '1': { text: 'answers', color: 'green', index: 1 },
                  },
                },
              ],
              'custom.cellOptions': { type: 'color-text' },
            }),
            ...['CPU busy', 'Memory used', 'Disk used (fullest)'].map((field) =>
              fieldOverride(field, {
                unit: 'percentunit',
                decimals: 1,
                'custom.cellOptions': { type: 'gauge', mode: 'basic' },
                min: 0,
                max: 1,
                thresholds: {
                  mode: 'absolute',
                  steps: [{ color: 'green', value: null }, ...USAGE_STEPS],
                },
              }),
            ),
          ],
        },
        { field: 'Required ports not open', desc: true },
      ),
      row('$node', 'node'),
      stat({
        title: 'Ports not open',
        description: 'Required ports expected open that are not open on this node.',
        width: 4,
        height: 5,
        queries: [
          { expr: `count(imanager_port_up${requiredOpen} == 0) or vector(0)`, instant: true },
        ],
        steps: [{ value: 1, color: 'red' }],
      }),
      gauge({
        title: 'CPU busy',
        width: 4,
        height: 5,
        queries: [{ expr: cpuBusy(config), instant: true }],
        unit: 'percentunit',
        min: 0,
        max: 1,
        steps: USAGE_STEPS,
      }),
      gauge({
        title: 'Memory used',
        width: 4,
        height: 5,
        queries: [{ expr: memoryUsed(config), instant: true }],
        unit: 'percentunit',
        min: 0,
        max: 1,
        steps: USAGE_STEPS,
      }),
      barGauge({
        title: 'Disk used',
        description: 'Each mounted filesystem, leaving out in-memory and container layers.',
        width: 8,
        height: 5,
        queries: [{ expr: diskUsed(config), legend: '{{mountpoint}}', instant: true }],
        unit: 'percentunit',
        min: 0,
        max: 1,
        steps: USAGE_STEPS,
      }),
      stat({
        title: 'ICMP round trip',
        width: 4,
        height: 5,
        queries: [
          { expr: `max(imanager_node_icmp_rtt_seconds${selector(...selected)})`, instant: true },
        ],
        unit: 's',
        baseColor: 'blue',
      }),
      stateTimeline({
        title: 'Catalog ports',
        description: 'The state of each catalog port on this node over time.',
        width: 12,
        height: 10,
        queries: [
          {
            expr: `imanager_port_state${catalogPorts}`,
            legend: '{{port}} {{port_name}} ({{vantage}})',
          },
        ],
        mappings: stateMappings(),
      }),
      timeseries({
        title: 'CPU and memory',
        width: 12,
        height: 10,
        queries: [
          { expr: cpuBusy(config), legend: 'CPU busy' },
          { expr: memoryUsed(config), legend: 'memory used' },
        ],
        unit: 'percentunit',
        min: 0,
        max: 1,
      }),
      sinceWhenTable(
        'Not as expected, since when',
        'Ports on this node that are not as expected: the state, since when, and for how long.',
        notAsExpected(...selectedPorts),
        selectedPorts,
        { width: 12, height: 8 },
      ),
      timeseries({
        title: 'Connect time',
        description:
          'How long the TCP handshake of each open catalog port takes, from each vantage.',
        width: 12,
        height: 8,
        queries: [
          {
            expr:
              `imanager_port_connect_duration_seconds${selector(...selectedPorts)}\n` +
              `  and ${on(config, 'vantage', 'node', 'address', 'protocol', 'port')} (imanager_port_state${catalogPorts} == 0)`,
            legend: '{{port}} ({{vantage}})',
          },
        ],
        unit: 's',
      }),
    ],
  });
}
