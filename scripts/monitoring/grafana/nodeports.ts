import type { MonitoringConfig } from '../config.js';
import { clusterLabels, selector } from '../promql.js';
import { notAsExpected, SCRAPE_LABELS, scopeOf, sinceWhenTable, stateMatrix } from './common.js';
import {
  type Dashboard,
  dashboard,
  fieldOverride,
  organize,
  stat,
  stateMappings,
  stateTimeline,
  table,
} from './grafana.js';

/** NodePorts of iManager's basic services and GIS environments, by service, across nodes. */
export function nodePorts(config: MonitoringConfig): Dashboard {
  const scope = scopeOf(config);
  const { cluster } = scope;
  // The port variable narrows the NodePorts shown: an alert's dashboard link sets it.
  const selected = [...scope.selected, 'port=~"$port"'];
  const chosen = ['group=~"$group"', 'k8s_namespace=~"$k8s_namespace"'];
  const nodePortTargets = selector('category="nodeport"', ...chosen, ...selected);
  const requiredNodePorts = selector(
    'category="nodeport"',
    'required="true"',
    'expected="open"',
    ...chosen,
    ...selected,
  );
  const info = selector(...cluster, ...chosen);
  const inRange = selector(...cluster, 'k8s_namespace=~"$k8s_namespace"');
  const by = (...labels: string[]) => `by (${[...clusterLabels(config), ...labels].join(', ')})`;
  return dashboard({
    uid: 'imanager-ports-nodeports',
    title: 'iManager ports / NodePorts',
    description:
      "The NodePorts of iManager's basic services and GIS environments, by group, namespace and service, on every node.",
    variables: [
      ...scope.clusterVariables,
      scope.vantage,
      scope.group,
      scope.k8sNamespace,
      scope.node,
      scope.port,
    ],
    items: [
      stat({
        title: 'NodePorts',
        description: 'NodePorts the cluster has allocated in the selected groups and namespaces.',
        width: 6,
        height: 4,
        queries: [{ expr: `count(imanager_nodeport_info${info}) or vector(0)`, instant: true }],
        baseColor: 'blue',
      }),
      stat({
        title: 'Closed NodePorts',
        description: 'Required NodePorts expected open that are not, counted once per node.',
        width: 6,
        height: 4,
        queries: [
          { expr: `count(imanager_port_up${requiredNodePorts} == 0) or vector(0)`, instant: true },
        ],
        steps: [{ value: 1, color: 'red' }],
      }),
      stat({
        title: 'Services with a closed NodePort',
        width: 6,
        height: 4,
        queries: [
          {
            expr: `count(count ${by('k8s_namespace', 'k8s_service')} (imanager_port_up${requiredNodePorts} == 0)) or vector(0)`,
            instant: true,
          },
        ],
        steps: [{ value: 1, color: 'red' }],
      }),
      stat({
        title: 'Outside the NodePort range',
        description: 'NodePorts outside the configured range (default 30000-32767).',
        width: 6,
        height: 4,
        queries: [
          {
            expr: `count(imanager_nodeport_in_range${inRange} == 0) or vector(0)`,
            instant: true,
          },
        ],
        steps: [{ value: 1, color: 'orange' }],
      }),
      stateMatrix(
        'NodePorts by node',
        'The last state of every NodePort on every node: a row per service port, a column per node.',
        `max ${by('nodeport', 'node')} (\n` +
          '  label_join(\n' +
          `    label_join(imanager_port_state${nodePortTargets}, "service_name", "/", "k8s_namespace", "k8s_service"),\n` +
          '    "nodeport", ":", "service_name", "port"\n' +
          '  )\n' +
          ')',
        'nodeport',
        'node',
        { width: 24, height: 12 },
      ),
      table(
        {
          title: 'Services',
          description:
            'Each NodePort by group, namespace and service: on how many of the selected nodes it is open.',
          width: 12,
          height: 10,
          queries: [
            {
              expr: `sum ${by('group', 'k8s_namespace', 'k8s_service', 'port')} (imanager_port_up${nodePortTargets})`,
              instant: true,
              table: true,
            },
            {
              expr: `count ${by('group', 'k8s_namespace', 'k8s_service', 'port')} (imanager_port_up${nodePortTargets})`,
              instant: true,
              table: true,
            },
          ],
          transformations: [
            organize(['Time', ...clusterLabels(config)]),
            { id: 'merge', options: {} },
            organize(
              [],
              {
                k8s_namespace: 'namespace',
                k8s_service: 'service',
                port: 'NodePort',
                'Value #A': 'open on nodes',
                'Value #B': 'probed nodes',
              },
              ['group', 'k8s_namespace', 'k8s_service', 'port', 'Value #A', 'Value #B'],
            ),
          ],
        },
        { field: 'group', desc: false },
      ),
      table(
        {
          title: 'Allocation',
          description:
            'What the cluster allocated: service port, NodePort, type, traffic policy, and whether the NodePort lies in the configured range.',
          width: 12,
          height: 10,
          queries: [
            {
              expr:
                `imanager_nodeport_info${info}\n` +
                '  * ignoring(group, type, traffic_policy) group_left()\n' +
                `  imanager_nodeport_in_range${inRange}`,
              instant: true,
              table: true,
            },
          ],
          transformations: [
            organize(['Time', '__name__', ...SCRAPE_LABELS], {
              k8s_namespace: 'namespace',
              k8s_service: 'service',
              service_port: 'service port',
              node_port: 'NodePort',
              traffic_policy: 'traffic policy',
              Value: 'in range',
            }),
          ],
          overrides: [
            fieldOverride('in range', {
              mappings: [
                {
                  type: 'value',
                  options: {
                    '0': { text: 'no', color: 'orange', index: 0 },
                    '1': { text: 'yes', color: 'green', index: 1 },
                  },
                },
              ],
              'custom.cellOptions': { type: 'color-text' },
            }),
          ],
        },
        { field: 'group', desc: false },
      ),
      sinceWhenTable(
        'Not as expected, since when',
        'Required NodePorts that are not open: the state, since when it holds, and for how long.',
        notAsExpected('category="nodeport"', ...chosen, ...selected),
        selected,
        { width: 24, height: 8 },
      ),
      stateTimeline({
        title: 'NodePorts not open, over time',
        description:
          'Only NodePorts that were not open at some time in the range appear; a gap is open.',
        width: 24,
        height: 10,
        queries: [
          {
            expr: `imanager_port_state${requiredNodePorts} > 0`,
            legend: '{{k8s_namespace}}/{{k8s_service}}:{{port}} on {{node}}',
          },
        ],
        mappings: stateMappings(),
      }),
    ],
  });
}
