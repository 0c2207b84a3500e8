/**
 * One fault, one alert: for every fault the runbook describes, Prometheus' own rule
 * engine (promtool test rules) evaluates the whole rule file over a cluster scraped the
 * way the Prometheus Operator scrapes it (cluster.ts), and the set of firing alerts is
 * exactly the one expected, nothing else; with no Alertmanager inhibit rules at all.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import type { ProbeState } from '../../src/probe/types.js';
import type { Target } from '../../src/targets/types.js';
import {
  constant,
  EXPORTER_NAMESPACE,
  exporterInstance,
  from,
  inputSeries,
  labelText,
  type Mode,
  NODES,
  type Scenario,
  STEPS,
  stateValue,
  type Timeline,
  targetLabels,
  targetsOf,
} from './cluster.js';
import { promtool } from './tools.js';

const RULES = join(import.meta.dirname, '../../alerts/imanager-ports.rules.yml');

/** Faults start here, two minutes in. */
const START = 2;

/** Late enough for every `for` (ProbeCycleTooSlow's 15m the longest) to have passed. */
const SETTLED = '20m';

type Labels = Readonly<Record<string, string>>;

interface Check {
  /** When, as a promtool duration. */
  readonly at: string;
  /** Exactly the alerts firing then, by their labels beyond alertname and alertstate. */
  readonly firing: readonly { readonly alertname: string; readonly labels: Labels }[];
}

interface Fault {
  readonly name: string;
  readonly scenario: Scenario;
  readonly checks: readonly Check[];
}

function targetOf(mode: Mode, vantage: string, node: string, portName: string): Target {
  const found = targetsOf(vantage, mode).find((t) => t.node === node && t.portName === portName);
  if (!found) throw new Error(`no target ${portName} on ${node} from ${vantage}`);
  return found;
}

/** The labels of a port alert on a target: the target's, the kept namespace, the severity. */
function portAlert(alertname: string, severity: string, target: Target) {
  return {
    alertname,
    labels: { severity, ...targetLabels(target), namespace: EXPORTER_NAMESPACE },
  };
}

const nodeUnreachable = (node: string) => ({
  alertname: 'ImanagerNodeUnreachable',
  labels: { severity: 'critical', node, namespace: EXPORTER_NAMESPACE },
});

/** Breaks the targets `which` selects from START on, into `state`. */
function breaking(which: (t: Target) => boolean, state: ProbeState) {
  return (t: Target): Timeline | undefined =>
    which(t) ? from(START, stateValue(state)) : undefined;
}

const port = (node: string, portName: string) => (t: Target) =>
  t.node === node && t.portName === portName;
const wholeNode = (node: string) => (t: Target) => t.node === node;
const down = from(START, 0, 1);

/** From the external vantage, the internal ports are closed (dropped) as they should be. */
function external(fault: (t: Target) => Timeline | undefined) {
  return (t: Target) =>
    fault(t) ?? (t.expected === 'closed' ? constant(stateValue('timeout')) : undefined);
}

const central = (node: string, portName: string) => targetOf('central', 'central', node, portName);

const FAULTS: readonly Fault[] = [
  {
    name: 'the kubelet stops on worker-1: 10250 refused',
    scenario: { mode: 'central', state: breaking(port('worker-1', 'kubelet'), 'refused') },
    checks: [
      {
        at: SETTLED,
        firing: [
          portAlert('ImanagerRequiredPortClosed', 'critical', central('worker-1', 'kubelet')),
        ],
      },
    ],
  },
  {
    name: 'a firewall drops 10250 on worker-1: timeout',
    scenario: { mode: 'central', state: breaking(port('worker-1', 'kubelet'), 'timeout') },
    checks: [
      {
        at: SETTLED,
        firing: [
          portAlert('ImanagerRequiredPortClosed', 'critical', central('worker-1', 'kubelet')),
        ],
      },
    ],
  },
  {
    name: 'a firewall rejects 6443 on cp-1: rejected',
    scenario: { mode: 'central', state: breaking(port('cp-1', 'kube-apiserver'), 'rejected') },
    checks: [
      {
        at: SETTLED,
        firing: [
          portAlert('ImanagerRequiredPortClosed', 'critical', central('cp-1', 'kube-apiserver')),
        ],
      },
    ],
  },
  {
    name: 'the iManager UI (31100) refused on worker-1: one alert, not also a required-port one',
    scenario: { mode: 'central', state: breaking(port('worker-1', 'imanager-ui'), 'refused') },
    checks: [
      {
        at: SETTLED,
        firing: [
          portAlert(
            'ImanagerExternalPortUnreachable',
            'critical',
            central('worker-1', 'imanager-ui'),
          ),
        ],
      },
    ],
  },
  {
    name: 'the Kubernetes UI (31234) dropped on cp-1',
    scenario: { mode: 'central', state: breaking(port('cp-1', 'kubernetes-ui'), 'timeout') },
    checks: [
      {
        at: SETTLED,
        firing: [
          portAlert(
            'ImanagerExternalPortUnreachable',
            'critical',
            central('cp-1', 'kubernetes-ui'),
          ),
        ],
      },
    ],
  },
  {
    name: 'a GIS environment NodePort refused on worker-2',
    scenario: { mode: 'central', state: breaking(port('worker-2', 'http'), 'refused') },
    checks: [
      {
        at: SETTLED,
        firing: [portAlert('ImanagerNodePortUnreachable', 'critical', central('worker-2', 'http'))],
      },
    ],
  },
  {
    name: "iManager's node exporter stops on worker-1: one alert, not also a required-port one",
    scenario: {
      mode: 'central',
      state: breaking(port('worker-1', 'node-exporter'), 'refused'),
      nodeExporterUp: (node) => (node === 'worker-1' ? down : undefined),
    },
    checks: [
      {
        at: SETTLED,
        firing: [
          {
            alertname: 'ImanagerNodeExporterDown',
            labels: {
              severity: 'warning',
              job: 'node-exporter',
              instance: '198.18.0.2:9101',
              namespace: 'imanager',
              address: '198.18.0.2',
              node: 'worker-1',
            },
          },
        ],
      },
    ],
  },
  {
    name: 'a firewall drops 9101 from the exporter only: Prometheus still scrapes it',
    scenario: { mode: 'central', state: breaking(port('worker-1', 'node-exporter'), 'timeout') },
    checks: [
      {
        at: SETTLED,
        firing: [
          portAlert('ImanagerRequiredPortClosed', 'critical', central('worker-1', 'node-exporter')),
        ],
      },
    ],
  },
  {
    name: 'the node exporter stops where Prometheus does not scrape it: the probe tells',
    scenario: {
      mode: 'central',
      state: breaking(port('worker-1', 'node-exporter'), 'refused'),
      nodeExporterUp: () => null,
    },
    checks: [
      {
        at: SETTLED,
        firing: [
          portAlert('ImanagerNodeExporterDown', 'warning', central('worker-1', 'node-exporter')),
        ],
      },
    ],
  },
  {
    name: 'worker-2 goes dark, every port dropped, ICMP off (central)',
    scenario: {
      mode: 'central',
      state: breaking(wholeNode('worker-2'), 'timeout'),
      nodeExporterUp: (node) => (node === 'worker-2' ? down : undefined),
    },
    checks: [{ at: SETTLED, firing: [nodeUnreachable('worker-2')] }],
  },
  {
    name: 'worker-2 is gone and the kernel says so: every port unreachable',
    scenario: {
      mode: 'central',
      state: breaking(wholeNode('worker-2'), 'unreachable'),
      nodeExporterUp: (node) => (node === 'worker-2' ? down : undefined),
    },
    checks: [{ at: SETTLED, firing: [nodeUnreachable('worker-2')] }],
  },
  {
    name: 'worker-2 goes dark in DaemonSet mode: its own agent is cut off with it',
    scenario: {
      mode: 'daemonset',
      state: breaking(wholeNode('worker-2'), 'timeout'),
      exporterUp: (vantage) => (vantage === 'worker-2' ? down : undefined),
      nodeExporterUp: (node) => (node === 'worker-2' ? down : undefined),
    },
    checks: [{ at: SETTLED, firing: [nodeUnreachable('worker-2')] }],
  },
  {
    name: 'the agent on worker-1 crashes, the node is fine (DaemonSet)',
    scenario: {
      mode: 'daemonset',
      exporterUp: (vantage) => (vantage === 'worker-1' ? down : undefined),
    },
    checks: [
      {
        at: SETTLED,
        firing: [
          {
            alertname: 'ImanagerExporterDown',
            labels: {
              severity: 'critical',
              job: 'imanager-port-exporter',
              instance: exporterInstance('worker-1'),
              namespace: EXPORTER_NAMESPACE,
              pod: 'ipe-imanager-port-exporter-worker-1',
              service: 'ipe-imanager-port-exporter',
              endpoint: 'http',
              container: 'imanager-port-exporter',
              address: '198.18.0.2',
              node: 'worker-1',
            },
          },
        ],
      },
    ],
  },
  {
    name: 'the central exporter crashes',
    scenario: { mode: 'central', exporterUp: () => down },
    checks: [
      {
        at: SETTLED,
        firing: [
          {
            alertname: 'ImanagerExporterDown',
            labels: {
              severity: 'critical',
              job: 'imanager-port-exporter',
              instance: exporterInstance('central'),
              namespace: EXPORTER_NAMESPACE,
              pod: 'ipe-imanager-port-exporter-central',
              service: 'ipe-imanager-port-exporter',
              endpoint: 'http',
              container: 'imanager-port-exporter',
              address: '198.18.0.100',
            },
          },
        ],
      },
    ],
  },
  {
    name: "the exporter's scrape job is gone",
    scenario: { mode: 'central', withoutExporterJob: true, exporterUp: () => constant(0) },
    checks: [
      {
        at: SETTLED,
        firing: [{ alertname: 'ImanagerExporterDown', labels: { severity: 'critical' } }],
      },
    ],
  },
  {
    name: "worker-1's name stops resolving: every probe of it fails on the exporter's side",
    scenario: { mode: 'central', state: breaking(wholeNode('worker-1'), 'error') },
    checks: [
      {
        at: SETTLED,
        firing: [
          {
            alertname: 'ImanagerTargetsNotProbed',
            labels: { severity: 'critical', vantage: 'central', namespace: EXPORTER_NAMESPACE },
          },
        ],
      },
    ],
  },
  {
    name: 'etcd answers from outside the cluster (external vantage)',
    scenario: {
      mode: 'external',
      state: external((t) => (port('cp-1', 'etcd-client')(t) ? from(START, 0, 2) : undefined)),
    },
    checks: [
      {
        at: SETTLED,
        firing: [
          portAlert(
            'ImanagerInternalPortExposed',
            'warning',
            targetOf('external', 'external', 'cp-1', 'etcd-client'),
          ),
        ],
      },
    ],
  },
  {
    name: 'the kubelet on worker-1 keeps restarting: open and closed a minute each',
    scenario: {
      mode: 'central',
      state: (t) =>
        port('worker-1', 'kubelet')(t)
          ? Array.from({ length: STEPS }, (_, i) => (i >= START && i % 2 === 1 ? 1 : 0))
          : undefined,
    },
    checks: [
      {
        at: SETTLED,
        firing: [portAlert('ImanagerPortFlapping', 'warning', central('worker-1', 'kubelet'))],
      },
    ],
  },
  {
    name: 'the Kubernetes API fails for every agent (DaemonSet)',
    scenario: { mode: 'daemonset', exporterFamilies: () => ({ imanager_discovery_up: down }) },
    checks: [
      {
        at: SETTLED,
        firing: [
          {
            alertname: 'ImanagerDiscoveryFailing',
            labels: { severity: 'warning', source: 'kubernetes', namespace: EXPORTER_NAMESPACE },
          },
        ],
      },
    ],
  },
  {
    name: 'a bad config reaches every agent (DaemonSet)',
    scenario: {
      mode: 'daemonset',
      exporterFamilies: () => ({ imanager_config_last_reload_successful: down }),
    },
    checks: [
      {
        at: SETTLED,
        firing: [
          {
            alertname: 'ImanagerConfigReloadFailed',
            labels: { severity: 'warning', namespace: EXPORTER_NAMESPACE },
          },
        ],
      },
    ],
  },
  {
    name: 'probe passes take 45 s',
    scenario: {
      mode: 'central',
      exporterFamilies: () => ({ imanager_probe_cycle_duration_seconds: from(START, 45, 5) }),
    },
    checks: [
      {
        at: SETTLED,
        firing: [
          {
            alertname: 'ImanagerProbeCycleTooSlow',
            labels: { severity: 'warning', namespace: EXPORTER_NAMESPACE },
          },
        ],
      },
    ],
  },
];

/** One promtool unit test: the scenario's series, and ALERTS at each check. */
function unitTest(fault: Fault) {
  return {
    name: fault.name,
    interval: '1m',
    input_series: inputSeries(fault.scenario),
    promql_expr_test: fault.checks.map((check) => ({
      expr: 'ALERTS{alertstate="firing"}',
      eval_time: check.at,
      exp_samples: check.firing.map((a) => ({
        labels: labelText('ALERTS', { alertname: a.alertname, alertstate: 'firing', ...a.labels }),
        value: 1,
      })),
    })),
  };
}

const ruleFile = parse(readFileSync(RULES, 'utf8')) as {
  groups: { rules: { alert?: string }[] }[];
};
const ALERTS = ruleFile.groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : [])));

describe('one fault, one alert (promtool, no inhibit rules)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'imanager-faults-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('raises exactly the one expected alert for each fault', () => {
    const file = join(dir, 'faults.yml');
    writeFileSync(
      file,
      stringify({ rule_files: [RULES], evaluation_interval: '1m', tests: FAULTS.map(unitTest) }),
    );
    const run = promtool(['test', 'rules', file]);
    assert.equal(run.status, 0, run.output);
    for (const fault of FAULTS) {
      const counts = fault.checks.map((c) => c.firing.length).join(', ');
      process.stdout.write(`# ${fault.name}: ${counts} alert(s)\n`);
    }
  });

  // The certificate's expiry is days away in any fault this bed can make: its promtool
  // test (alerts/tests/exporter.yml) and test/e2e/reload-truth.test.ts cover it.
  it('covers every alert but the NodePort range check and the certificate expiry with a fault', () => {
    const raised = new Set(
      FAULTS.flatMap((f) => f.checks.flatMap((c) => c.firing.map((a) => a.alertname))),
    );
    assert.deepEqual(
      ALERTS.filter((a) => !raised.has(a)),
      ['ImanagerNodePortOutOfRange', 'ImanagerWebCertificateExpiring'],
    );
  });

  it('would catch a second alert for a fault', () => {
    const [first] = FAULTS;
    assert.ok(first);
    const file = join(dir, 'wrong.yml');
    const wrong = { ...first, checks: [{ at: SETTLED, firing: [] }] };
    writeFileSync(
      file,
      stringify({ rule_files: [RULES], evaluation_interval: '1m', tests: [unitTest(wrong)] }),
    );
    const run = promtool(['test', 'rules', file]);
    assert.notEqual(run.status, 0, run.output);
    assert.match(run.output, /ImanagerRequiredPortClosed/);
  });
});

export { NODES };
