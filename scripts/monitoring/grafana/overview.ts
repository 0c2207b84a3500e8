import type { MonitoringConfig } from '../config.js';
import { clusterLabels, nodeDown, selector } from '../promql.js';
import {
  dataFresh,
  notAsExpected,
  STALE_MAPPING,
  scopeOf,
  sinceWhenTable,
  stateMatrix,
  unlessStale,
} from './common.js';
import { type Dashboard, dashboard, stat, stateMappings, stateTimeline } from './grafana.js';

const RED_FROM_ONE = [{ value: 1, color: 'red' }];

/** The page to open first: is the data fresh, what is closed now, where, since when. */
export function overview(config: MonitoringConfig): Dashboard {
  const scope = scopeOf(config);
  const { selected } = scope;
  const requiredClosed = selector(
    'category!="nodeport"',
    'required="true"',
    'expected="open"',
    ...selected,
  );
  const nodePortsClosed = selector(
    'category="nodeport"',
    'required="true"',
    'expected="open"',
    'group=~"$group"',
    ...selected,
  );
  const count = (expr: string) => unlessStale(config, `count(${expr}) or vector(0)`);
  const nodesBy = [...clusterLabels(config), 'node'].join(', ');
  return dashboard({
    uid: 'imanager-ports-overview',
    title: 'iManager ports / Overview',
    description:
      'Which iManager ports on which nodes are open, refused or dropped, and since when.',
    variables: [...scope.clusterVariables, scope.vantage, scope.node, scope.group],
    items: [
      stat({
        title: 'Data',
        description: `Red when an exporter is down, Prometheus scrapes none, or the last scrape is older than ${config.staleAfterSeconds} s: the figures beside it are then incomplete or old.`,
        width: 3,
        height: 4,
        queries: [{ expr: dataFresh(config), instant: true }],
        mappings: [
          { value: 0, text: 'stale', color: 'red' },
          { value: 1, text: 'fresh', color: 'green' },
        ],
      }),
      stat({
        title: 'Required ports closed',
        description:
          'Required catalog ports (not NodePorts) expected open and not open, on nodes that are up.',
        width: 4,
        height: 4,
        queries: [{ expr: count(`imanager_port_up${requiredClosed} == 0`), instant: true }],
        mappings: [STALE_MAPPING],
        steps: RED_FROM_ONE,
      }),
      stat({
        title: 'Nodes down',
        description:
          'Nodes that answer on none of their probed ports from a selected vantage (and to no echo where ICMP runs): each raises ImanagerNodeUnreachable. Needs no ICMP.',
        width: 3,
        height: 4,
        queries: [
          {
            expr: count(`count by (${nodesBy}) (\n${nodeDown(config, selected)})`),
            instant: true,
          },
        ],
        mappings: [STALE_MAPPING],
        steps: RED_FROM_ONE,
      }),
      stat({
        title: 'NodePorts closed',
        description:
          'Required NodePorts (groups basic-service and gis-environment) not open, counted once per node.',
        width: 3,
        height: 4,
        queries: [{ expr: count(`imanager_port_up${nodePortsClosed} == 0`), instant: true }],
        mappings: [STALE_MAPPING],
        steps: RED_FROM_ONE,
      }),
      stat({
        title: 'Internal ports exposed',
        description: 'Ports expected closed from this vantage that answer.',
        width: 4,
        height: 4,
        queries: [
          {
            expr: count(
              `imanager_port_up${selector('required="true"', 'expected="closed"', ...selected)} == 1`,
            ),
            instant: true,
          },
        ],
        mappings: [STALE_MAPPING],
        steps: [{ value: 1, color: 'orange' }],
      }),
      stat({
        title: 'Optional ports closed',
        description:
          'Closed ports that never page: NFS where unused, NodePorts of group other, ...',
        width: 3,
        height: 4,
        queries: [
          {
            expr: count(
              `imanager_port_up${selector('required="false"', 'expected="open"', ...selected)} == 0`,
            ),
            instant: true,
          },
        ],
        mappings: [STALE_MAPPING],
        baseColor: 'blue',
      }),
      stat({
        title: 'Required ports open',
        description: 'Share of the required targets expected open that are open.',
        width: 4,
        height: 4,
        queries: [
          {
            expr:
              `sum(imanager_port_up${selector('required="true"', 'expected="open"', ...selected)})\n` +
              `/\ncount(imanager_port_up${selector('required="true"', 'expected="open"', ...selected)})`,
            instant: true,
          },
        ],
        unit: 'percentunit',
        decimals: 1,
        baseColor: 'red',
        steps: [
          { value: 0.95, color: 'orange' },
          { value: 1, color: 'green' },
        ],
      }),
      stateMatrix(
        'Catalog ports by node',
        'The last state of every catalog port on every node (worst over the selected vantages); ports expected closed from a vantage are left out.',
        `max by (${[...clusterLabels(config), 'node', 'port'].join(', ')}) (\n` +
          `  label_join(imanager_port_state${selector('category!="nodeport"', 'expected!="closed"', ...selected)}, "port", " ", "port", "port_name")\n` +
          ')',
        'node',
        'port',
        { width: 24, height: 10 },
      ),
      sinceWhenTable(
        'Not as expected, since when',
        'Required ports that are not open, and ports expected closed that answer: the state, since when it holds, and for how long.',
        notAsExpected(...selected),
        selected,
        { width: 24, height: 10 },
      ),
      stateTimeline({
        title: 'Required ports not open, over time',
        description:
          'Only ports that were not open at some time in the range appear; a gap is open.',
        width: 24,
        height: 10,
        queries: [
          {
            expr: `imanager_port_state${selector('required="true"', 'expected="open"', ...selected)} > 0`,
            legend: '{{node}} {{port}} {{port_name}}',
          },
        ],
        mappings: stateMappings(),
      }),
    ],
  });
}
