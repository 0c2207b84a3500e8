import { PROBE_STATES, type ProbeState } from '../../src/probe/types.js';
import type { MonitoringConfig } from './config.js';
import { raw, selector, withNodeAddress } from './promql.js';

export type Severity = 'critical' | 'warning';

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: { readonly severity: Severity };
  readonly annotations: {
    readonly summary: string;
    readonly description: string;
    readonly runbook_url: string;
  };
}

export interface RuleGroup {
  readonly name: string;
  readonly rules: readonly AlertRule[];
}

/** A Prometheus rule file: plain `groups:`, as promtool and a PrometheusRule both take it. */
export interface RuleFile {
  readonly groups: readonly RuleGroup[];
}

/** The target of a port alert in words: port, its name and program, node and address. */
const PORT_ON_NODE =
  'port {{ $labels.port }}/{{ $labels.protocol }} ({{ $labels.port_name }}, {{ $labels.component }})' +
  ' on node {{ $labels.node }} ({{ $labels.address }})';

/**
 * What the probe found, read from the alert's value (the expressions return
 * imanager_port_state), and the next step it calls for: refused and timeout send the
 * operator to different places.
 */
function stateAndNextStep(refused: string, timeout: string): string {
  // $value is a float: the template compares it with a float literal.
  const is = (state: ProbeState) => `eq $value ${PROBE_STATES.indexOf(state)}.0`;
  return (
    `{{ if ${is('refused')} }}the connection is refused, so nothing listens there: ${refused}` +
    `{{ else if ${is('timeout')} }}the connection times out, so packets are dropped on the way: ${timeout}` +
    `{{ else if ${is('unreachable')} }}the node is unreachable (no route to it): check that it is up and on the network.` +
    `{{ else if ${is('error')} }}the probe failed on the exporter's side: see the exporter's log.` +
    '{{ else }}the exporter does not say why.{{ end }}'
  );
}

const FIREWALL_STEP =
  'open the port in the firewall of the node (firewalld, iptables, nftables) and in any security group between the vantage and the node.';

/**
 * A closed-port expression whose value is imanager_port_state, so the description can
 * tell refused from timeout through $value: unlike a state label, the value may change
 * while the alert keeps its identity and its `for`. The `or` keeps the alert firing, with
 * an unknown state, should imanager_port_state be missing.
 */
function notOpen(matchers: string): string {
  const up = `imanager_port_up${matchers}`;
  return (
    `# value: imanager_port_state (1 refused, 2 timeout, 3 unreachable, 4 error, 5 rejected)\n` +
    `(${up} == 0) + imanager_port_state${matchers}\n` +
    `or\n` +
    `${up} == 0\n`
  );
}

function rule(
  config: MonitoringConfig,
  alert: string,
  spec: Omit<AlertRule, 'alert' | 'labels' | 'annotations'> & {
    readonly severity: Severity;
    readonly summary: string;
    readonly description: string;
  },
): AlertRule {
  return {
    alert,
    expr: spec.expr,
    for: spec.for,
    labels: { severity: spec.severity },
    annotations: {
      summary: spec.summary,
      description: spec.description,
      runbook_url: `${config.runbookUrl}#${alert.toLowerCase()}`,
    },
  };
}

function portRules(config: MonitoringConfig): AlertRule[] {
  const requiredCatalog = selector('category!="nodeport"', 'required="true"', 'expected="open"');
  const requiredExternal = selector(
    'category!="nodeport"',
    'scope="external"',
    'required="true"',
    'expected="open"',
  );
  const requiredNodePorts = selector('category="nodeport"', 'required="true"', 'expected="open"');
  const requiredOpen = selector('required="true"', 'expected="open"');
  return [
    rule(config, 'ImanagerRequiredPortClosed', {
      expr: notOpen(requiredCatalog),
      for: config.for.requiredPortClosed,
      severity: 'critical',
      summary:
        'Required port {{ $labels.port }} ({{ $labels.port_name }}) is closed on {{ $labels.node }}',
      description:
        `Required ${PORT_ON_NODE} is not open from vantage {{ $labels.vantage }}: ` +
        stateAndNextStep(
          'check that {{ $labels.component }} runs on the node and listens on that port and address.',
          FIREWALL_STEP,
        ),
    }),
    rule(config, 'ImanagerExternalPortUnreachable', {
      expr: notOpen(requiredExternal),
      for: config.for.externalPortUnreachable,
      severity: 'critical',
      summary:
        'External port {{ $labels.port }} ({{ $labels.port_name }}) is unreachable on {{ $labels.node }}',
      description:
        `External ${PORT_ON_NODE}, which users outside the cluster come in through, ` +
        'is not open from vantage {{ $labels.vantage }}: ' +
        stateAndNextStep(
          'check the {{ $labels.component }} Service and its pods (kubectl get svc,pods -A).',
          FIREWALL_STEP,
        ),
    }),
    rule(config, 'ImanagerNodePortUnreachable', {
      expr: notOpen(requiredNodePorts),
      for: config.for.nodePortUnreachable,
      severity: 'critical',
      summary:
        'NodePort {{ $labels.port }} of {{ $labels.k8s_namespace }}/{{ $labels.k8s_service }} is closed on {{ $labels.node }}',
      description:
        'NodePort {{ $labels.port }}/{{ $labels.protocol }} ({{ $labels.port_name }}) of service ' +
        '{{ $labels.k8s_service }} in namespace {{ $labels.k8s_namespace }} (group {{ $labels.group }}) ' +
        'on node {{ $labels.node }} ({{ $labels.address }}) is not open from vantage {{ $labels.vantage }}: ' +
        stateAndNextStep(
          'the service has no ready endpoint, or kube-proxy does not run on the node; check kubectl -n {{ $labels.k8s_namespace }} get endpointslices -l kubernetes.io/service-name={{ $labels.k8s_service }}.',
          FIREWALL_STEP,
        ),
    }),
    rule(config, 'ImanagerInternalPortExposed', {
      expr: `imanager_port_up${selector('expected="closed"', 'required="true"')} == 1\n`,
      for: config.for.internalPortExposed,
      severity: 'warning',
      summary:
        'Internal port {{ $labels.port }} ({{ $labels.port_name }}) answers from {{ $labels.vantage }} on {{ $labels.node }}',
      description:
        `Internal ${PORT_ON_NODE} answers from vantage {{ $labels.vantage }}, where it must be closed: ` +
        '{{ $labels.component }} is exposed outside the cluster. Block the port at the edge of the cluster ' +
        "network and allow it only between the cluster's nodes.",
    }),
    rule(config, 'ImanagerPortFlapping', {
      expr: `changes(imanager_port_up${requiredOpen}[${config.flapping.window}]) >= ${config.flapping.changes}\n`,
      for: config.for.portFlapping,
      severity: 'warning',
      summary:
        'Port {{ $labels.port }} ({{ $labels.port_name }}) on {{ $labels.node }} keeps opening and closing',
      description:
        `Required ${PORT_ON_NODE} changed between open and closed {{ $value | humanize }} times ` +
        `in the last ${config.flapping.window} as seen from vantage {{ $labels.vantage }}, each time too briefly ` +
        'to raise a closed-port alert. Look for a crash-looping {{ $labels.component }} (restart counts, ' +
        'kubectl describe pod) or a flapping network link or firewall rule.',
    }),
  ];
}

function nodeRules(config: MonitoringConfig): AlertRule[] {
  const nodeExporterUp = `up${selector(
    config.nodeExporterSelector,
    `instance=~${raw(config.nodeExporterInstanceAddress)}`,
  )}`;
  const nodeExporterProbe = `imanager_port_up${selector(
    'port_name="node-exporter"',
    'required="true"',
    'expected="open"',
  )}`;
  return [
    rule(config, 'ImanagerNodeUnreachable', {
      expr:
        'imanager_node_icmp_up == 0\n' +
        '# a node whose TCP ports answer is up: a firewall drops ICMP there\n' +
        'unless on(vantage, node) (imanager_port_up == 1)\n' +
        'unless on(job, instance) (imanager_icmp_enabled == 0)\n',
      for: config.for.nodeUnreachable,
      severity: 'critical',
      summary: 'Node {{ $labels.node }} is unreachable from {{ $labels.vantage }}',
      description:
        'Node {{ $labels.node }} ({{ $labels.address }}) answers neither ICMP echo nor any probed TCP ' +
        'port from vantage {{ $labels.vantage }}, so every port on it counts as closed: the node is ' +
        'down or cut off. Check its power and network, then kubectl get node {{ $labels.node }}.',
    }),
    rule(config, 'ImanagerNodeExporterDown', {
      expr:
        "# Prometheus cannot scrape iManager's node exporter,\n" +
        `${withNodeAddress(config, `${nodeExporterUp} == 0`)}\n` +
        "or\n# or, where Prometheus does not scrape it, the exporter's probe of its port fails.\n" +
        `(${nodeExporterProbe} == 0)\n` +
        `  unless on(address) ${withNodeAddress(config, nodeExporterUp)}\n`,
      for: config.for.nodeExporterDown,
      severity: 'warning',
      summary:
        "iManager's node exporter is down on {{ with $labels.node }}{{ . }}{{ else }}{{ $labels.instance }}{{ end }}",
      description:
        '{{ if $labels.node }}The probe of node-exporter port {{ $labels.port }} on node {{ $labels.node }} ' +
        '({{ $labels.address }}) fails from vantage {{ $labels.vantage }}' +
        "{{ else }}Prometheus cannot scrape iManager's node exporter at {{ $labels.instance }} (job {{ $labels.job }}){{ end }}: " +
        'the CPU, memory and disk figures of that node are missing. Check that the node exporter ' +
        'runs on the node and listens on port 9101.',
    }),
    rule(config, 'ImanagerNodePortOutOfRange', {
      expr:
        '(imanager_nodeport_in_range == 0)\n' +
        '  * ignoring(group, type, traffic_policy) group_left(group)\n' +
        '  imanager_nodeport_info{group!="other"}\n',
      for: config.for.nodePortOutOfRange,
      severity: 'warning',
      summary:
        'NodePort {{ $labels.node_port }} of {{ $labels.k8s_namespace }}/{{ $labels.k8s_service }} is outside the NodePort range',
      description:
        'NodePort {{ $labels.node_port }} of service {{ $labels.k8s_service }} in namespace ' +
        '{{ $labels.k8s_namespace }} (port {{ $labels.service_port }}, group {{ $labels.group }}) lies outside ' +
        'the NodePort range the exporter is configured with (default 30000-32767), so firewall rules ' +
        'opened for that range do not cover it on any node. Open this port on every node, or set the ' +
        "exporter's range to the API server's --service-node-port-range.",
    }),
  ];
}

function exporterRules(config: MonitoringConfig): AlertRule[] {
  const exporterUp = `up${selector(config.exporterSelector)}`;
  return [
    rule(config, 'ImanagerExporterDown', {
      expr: `${exporterUp} == 0\nor\nabsent(${exporterUp})\n`,
      for: config.for.exporterDown,
      severity: 'critical',
      summary: 'The iManager port exporter is down',
      description:
        '{{ if $labels.instance }}Prometheus cannot scrape the iManager port exporter at ' +
        '{{ $labels.instance }} (job {{ $labels.job }}){{ else }}Prometheus has no scrape target for ' +
        `the iManager port exporter (${config.exporterSelector}){{ end }}: no port alert can fire while ` +
        'it is down. Check its pod (kubectl get pods -l app.kubernetes.io/name=imanager-port-exporter -A) ' +
        'and its log.',
    }),
    rule(config, 'ImanagerDiscoveryFailing', {
      expr: 'imanager_discovery_up == 0\n',
      for: config.for.discoveryFailing,
      severity: 'warning',
      summary: 'Discovery source {{ $labels.source }} of the iManager port exporter is failing',
      description:
        'Discovery source {{ $labels.source }} of the exporter at {{ $labels.instance }} fails to sync: ' +
        'it keeps probing the nodes and NodePorts it knew last, so new ones are not watched. Check ' +
        "the exporter's log and its RBAC (get, list and watch on nodes, services, endpointslices).",
    }),
    rule(config, 'ImanagerProbeCycleTooSlow', {
      expr: `imanager_probe_cycle_duration_seconds > ${config.probeCycleSlowSeconds}\n`,
      for: config.for.probeCycleTooSlow,
      severity: 'warning',
      summary: 'The iManager port exporter at {{ $labels.instance }} probes too slowly',
      description:
        'The last full pass of the exporter at {{ $labels.instance }} over its targets took ' +
        `{{ $value | humanizeDuration }}, over ${config.probeCycleSlowSeconds}s, so port states are older ` +
        'than they look. Raise the probes in flight, lower the probe timeout, or shard the targets ' +
        'over more replicas.',
    }),
    rule(config, 'ImanagerConfigReloadFailed', {
      expr: 'imanager_config_last_reload_successful == 0\n',
      for: config.for.configReloadFailed,
      severity: 'warning',
      summary: 'The iManager port exporter at {{ $labels.instance }} rejected its new config',
      description:
        'The exporter at {{ $labels.instance }} rejected its last config reload and runs on the ' +
        'config before it. Its log names the bad field and value; fix the file and reload.',
    }),
  ];
}

/** The alert rules, in the groups they are shipped in. */
export function ruleFile(config: MonitoringConfig): RuleFile {
  return {
    groups: [
      { name: 'imanager-ports', rules: portRules(config) },
      { name: 'imanager-nodes', rules: nodeRules(config) },
      { name: 'imanager-port-exporter', rules: exporterRules(config) },
    ],
  };
}
