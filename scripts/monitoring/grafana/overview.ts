import type { MonitoringConfig } from '../config.js';
import { selector } from '../promql.js';
import {
  GROUP,
  NODE,
  notAsExpected,
  SELECTED,
  sinceWhenTable,
  stateMatrix,
  VANTAGE,
} from './common.js';
import { type Dashboard, dashboard, stat, stateMappings, stateTimeline } from './grafana.js';

const RED_FROM_ONE = [{ value: 1, color: 'red' }];

/** The page to open first: what is closed now, where, since when. */
export function overview(_config: MonitoringConfig): Dashboard {
  const requiredClosed = selector(
    'category!="nodeport"',
    'required="true"',
    'expected="open"',
    ...SELECTED,
  );
  const nodePortsClosed = selector(
    'category="nodeport"',
    'required="true"',
    'expected="open"',
    'group=~"$group"',
    ...SELECTED,
  );
  return dashboard({
    uid: 'imanager-ports-overview',
    title: 'iManager ports / Overview',
    description:
      'Which iManager ports on which nodes are open, refused or dropped, and since when.',
    variables: [VANTAGE, NODE, GROUP],
    items: [
      stat({
        title: 'Required ports closed',
        description:
          'Required catalog ports (not NodePorts) expected open and not open: each one raises ImanagerRequiredPortClosed.',
        width: 4,
        height: 4,
        queries: [
          { expr: `count(imanager_port_up${requiredClosed} == 0) or vector(0)`, instant: true },
        ],
        steps: RED_FROM_ONE,
      }),
      stat({
        title: 'Nodes unreachable',
        description: 'Nodes answering neither ICMP echo nor any TCP port.',
        width: 4,
        height: 4,
        queries: [
          {
            expr:
              `count(count by (node) (\n  imanager_node_icmp_up${selector(...SELECTED)} == 0\n` +
              '  unless on(vantage, node) (imanager_port_up == 1)\n)) or vector(0)',
            instant: true,
          },
        ],
        steps: RED_FROM_ONE,
      }),
      stat({
        title: 'NodePorts closed',
        description:
          'Required NodePorts (groups basic-service and gis-environment) not open, counted once per node.',
        width: 4,
        height: 4,
        queries: [
          { expr: `count(imanager_port_up${nodePortsClosed} == 0) or vector(0)`, instant: true },
        ],
        steps: RED_FROM_ONE,
      }),
      stat({
        title: 'Internal ports exposed',
        description: 'Ports expected closed from this vantage that answer.',
        width: 4,
        height: 4,
        queries: [
          {
            expr: `count(imanager_port_up${selector('required="true"', 'expected="closed"', ...SELECTED)} == 1) or vector(0)`,
            instant: true,
          },
        ],
        steps: [{ value: 1, color: 'orange' }],
      }),
      stat({
        title: 'Optional ports closed',
        description:
          'Closed ports that never page: NFS where unused, NodePorts of group other, ...',
        width: 4,
        height: 4,
        queries: [
          {
            expr: `count(imanager_port_up${selector('required="false"', 'expected="open"', ...SELECTED)} == 0) or vector(0)`,
            instant: true,
          },
        ],
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
              `sum(imanager_port_up${selector('required="true"', 'expected="open"', ...SELECTED)})\n` +
              `/\ncount(imanager_port_up${selector('required="true"', 'expected="open"', ...SELECTED)})`,
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
        'max by (node, port) (\n' +
          `  label_join(imanager_port_state${selector('category!="nodeport"', 'expected!="closed"', ...SELECTED)}, "port", " ", "port", "port_name")\n` +
          ')',
        'node',
        'port',
        { width: 24, height: 10 },
      ),
      sinceWhenTable(
        'Not as expected, since when',
        'Required ports that are not open, and ports expected closed that answer: the state, since when it holds, and for how long.',
        notAsExpected(...SELECTED),
        SELECTED,
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
            expr: `imanager_port_state${selector('required="true"', 'expected="open"', ...SELECTED)} > 0`,
            legend: '{{node}} {{port}} {{port_name}}',
          },
        ],
        mappings: stateMappings(),
      }),
    ],
  });
}
