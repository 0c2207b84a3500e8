/**
 * The alert rules, built so that one fault raises one alert:
 * - a node that answers on no port is one ImanagerNodeUnreachable, and its port alerts
 *   leave it out in their own PromQL (`unless on(...) imanager:node_down`), so that
 *   holds where Alertmanager has no inhibit rules of ours;
 * - the port alerts split the targets between them (internal, external, NodePort, the
 *   node exporter's 9101), and a probe that could not run is the exporter's fault
 *   (ImanagerTargetsNotProbed), not the port's;
 * - node and port alerts keep only the target's labels and the kept scrape labels, so a
 *   restarted exporter (a new pod, a new instance) continues the same alerts, and keep
 *   firing through the gap (`keep_firing_for`) until ImanagerExporterDown has fired.
 * Which states fail comes from src/targets/verdict.ts, their words from src/probe/states.ts.
 */
import { STATE_GUIDE } from '../../src/probe/states.js';
import type { ProbeState } from '../../src/probe/types.js';
import { statesWithVerdict } from '../../src/targets/verdict.js';
import type { MonitoringConfig } from './config.js';
import {
  by,
  clusterLabels,
  HOST_LABELS,
  NODE_DOWN_STATES,
  nodeDown,
  on,
  raw,
  selector,
  stateFilter,
  stateValue,
  TARGET_LABELS,
  withNodeAddress,
} from './promql.js';

export type Severity = 'critical' | 'warning';

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  /** Node and port alerts only: how long they outlast their data (config.keepFiringFor). */
  readonly keep_firing_for?: string;
  readonly labels: { readonly severity: Severity };
  readonly annotations: {
    readonly summary: string;
    readonly description: string;
    readonly runbook_url: string;
    readonly dashboard_url: string;
  };
}

export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
}

export type Rule = AlertRule | RecordingRule;

export interface RuleGroup {
  readonly name: string;
  readonly rules: readonly Rule[];
}

/** A Prometheus rule file: plain `groups:`, as promtool and a PrometheusRule both take it. */
export interface RuleFile {
  readonly groups: readonly RuleGroup[];
}

/**
 * 1 per vantage and node address that answers on no probed port: the one notion of a
 * node that is down, which the node alert counts and every other alert leaves out.
 */
export const NODE_DOWN = 'imanager:node_down';

/** States in which a required port expected open is down (verdict.ts). */
const DOWN_WHEN_OPEN = statesWithVerdict('open', 'down');

/** The target of a port alert in words: port, its name and program, node and address. */
const PORT_ON_NODE =
  'port {{ $labels.port }}/{{ $labels.protocol }} ({{ $labels.port_name }}, {{ $labels.component }})' +
  ' on node {{ $labels.node }} ({{ $labels.address }})';

/**
 * What the probe found and what to do, from STATE_GUIDE, chosen by the alert's value
 * (imanager_port_state): unlike a state label, the value may change while the alert
 * keeps its identity and its `for`.
 */
function stateWords(states: readonly ProbeState[]): string {
  const cases = states.map((state, i) => {
    const guide = STATE_GUIDE[state];
    // $value is a float: the template compares it with a float literal.
    return `{{ ${i === 0 ? 'if' : 'else if'} eq $value ${stateValue(state)}.0 }}${state}: ${guide.meaning}; ${guide.action}.`;
  });
  return `${cases.join('')}{{ end }}`;
}

/** `text` as the start of a sentence. */
function sentence(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** `# value: ...` naming the states an expression keeps and where they come from. */
function valueComment(states: readonly ProbeState[], why: string): string {
  const named = states.map((s) => `${stateValue(s)} ${s}`).join(', ');
  return `# value: imanager_port_state, one of ${named}: ${why}\n`;
}

/** A link into Grafana: the dashboard by uid, with its variables set from the alert's labels. */
function dashboardUrl(config: MonitoringConfig, uid: string, variables: readonly string[]): string {
  const cluster = clusterLabels(config).map(
    (label) => `{{ with $labels.${label} }}&var-cluster={{ . | urlquery }}{{ end }}`,
  );
  const vars = variables.map((v) => `&var-${v}={{ $labels.${v} | urlquery }}`);
  return `${config.grafanaUrl}/d/${uid}?orgId=1${[...cluster, ...vars].join('')}`;
}

interface RuleSpec {
  /** When it fires, in a few words, for the README's table of alerts. */
  readonly when: string;
  readonly expr: string;
  readonly for: string;
  /** An outage alert: it keeps firing through a gap in its data. */
  readonly outage?: boolean;
  readonly severity: Severity;
  readonly summary: string;
  readonly description: string;
  readonly dashboard: { readonly uid: string; readonly variables: readonly string[] };
}

/** An alert rule and what the README says of it. */
export interface DocumentedAlert {
  readonly rule: AlertRule;
  readonly when: string;
}

function rule(config: MonitoringConfig, alert: string, spec: RuleSpec): DocumentedAlert {
  return { rule: alertRule(config, alert, spec), when: spec.when };
}

function alertRule(config: MonitoringConfig, alert: string, spec: RuleSpec): AlertRule {
  return {
    alert,
    expr: spec.expr,
    for: spec.for,
    ...(spec.outage && config.keepFiringFor !== ''
      ? { keep_firing_for: config.keepFiringFor }
      : {}),
    labels: { severity: spec.severity },
    annotations: {
      summary: spec.summary,
      description: spec.description,
      runbook_url: `${config.runbookUrl}#${alert.toLowerCase()}`,
      dashboard_url: dashboardUrl(config, spec.dashboard.uid, spec.dashboard.variables),
    },
  };
}

/** The labels a port alert carries: the target's, and the kept scrape labels. */
function perTarget(config: MonitoringConfig): string {
  return by(config, ...TARGET_LABELS);
}

/** Leaves out the targets of node addresses that are down: ImanagerNodeUnreachable has them. */
function unlessNodeDown(config: MonitoringConfig): string {
  return `# a node that is down raises ImanagerNodeUnreachable instead\nunless ${on(config, ...HOST_LABELS)} ${NODE_DOWN}\n`;
}

/**
 * The targets that `matchers` select and that are down, by target: the expression of a
 * port alert, whose value is the state.
 */
function downTargets(config: MonitoringConfig, matchers: readonly string[]): string {
  return (
    `max ${perTarget(config)} (\n` +
    `  imanager_port_state${selector(...matchers, 'required="true"', 'expected="open"')} ${stateFilter(DOWN_WHEN_OPEN)}\n` +
    ')\n'
  );
}

/** `up` of iManager's node exporter with the node's address as `address`. */
function nodeExporterUp(config: MonitoringConfig, filter = ''): string {
  const up = `up${selector(config.nodeExporterSelector, `instance=~${raw(config.nodeExporterInstanceAddress)}`)}`;
  return withNodeAddress(config, filter === '' ? up : `${up} ${filter}`);
}

/**
 * Node names by address, from the exporter's node list of the last hour: it outlives the
 * exporter, so an alert that takes `node` from it keeps its labels while the exporter is
 * down or restarts.
 */
function nodeByAddress(config: MonitoringConfig): string {
  return `max by (${[...clusterLabels(config), 'address', 'node'].join(', ')}) (last_over_time(imanager_node_info[1h]))`;
}

/** Every line of `text` indented by `spaces`. */
function indent(text: string, spaces: number): string {
  const pad = ' '.repeat(spaces);
  return text
    .split('\n')
    .map((line) => (line === '' ? line : pad + line))
    .join('\n');
}

/** `expr` (with `address`) with the node's name as `node` where an address names a node. */
function withNodeName(config: MonitoringConfig, expr: string): string {
  const nodes = nodeByAddress(config);
  return (
    `(\n  ${expr}\n    * ${on(config, 'address')} group_left(node) ${nodes}\n` +
    `  or\n  ${expr}\n    unless ${on(config, 'address')} ${nodes}\n)`
  );
}

function nodeDownRecord(config: MonitoringConfig): RecordingRule {
  return { record: NODE_DOWN, expr: nodeDown(config) };
}

function portRules(config: MonitoringConfig): (RecordingRule | DocumentedAlert)[] {
  const catalog = ['category!="nodeport"'];
  const nodes = { uid: 'imanager-ports-nodes', variables: ['vantage', 'node', 'port'] };
  const downValue = valueComment(
    DOWN_WHEN_OPEN,
    'the states in which a port expected open is down',
  );
  return [
    nodeDownRecord(config),
    rule(config, 'ImanagerRequiredPortClosed', {
      when: 'a required internal catalog port expected open is down; the description says refused, timeout, unreachable or rejected, and what to do',
      expr:
        downValue +
        '(\n' +
        indent(
          downTargets(config, [...catalog, 'scope="internal"', 'port_name!="node-exporter"']) +
            "# iManager's node exporter (9101) only where Prometheus scrapes it: only this vantage fails\n" +
            'or\n' +
            downTargets(config, [...catalog, 'port_name="node-exporter"']) +
            `  and ${on(config, 'address')} ${nodeExporterUp(config, '== 1')}\n`,
          2,
        ) +
        ')\n' +
        unlessNodeDown(config),
      for: config.for.requiredPortClosed,
      outage: true,
      severity: 'critical',
      summary:
        'Required port {{ $labels.port }} ({{ $labels.port_name }}) is not open on {{ $labels.node }}',
      description: `Required ${PORT_ON_NODE} is not open from vantage {{ $labels.vantage }}. ${stateWords(DOWN_WHEN_OPEN)}`,
      dashboard: nodes,
    }),
    rule(config, 'ImanagerExternalPortUnreachable', {
      when: '31234 (Kubernetes UI) or 31100 (iManager UI) is down: users outside cannot come in',
      expr:
        downValue + downTargets(config, [...catalog, 'scope="external"']) + unlessNodeDown(config),
      for: config.for.externalPortUnreachable,
      outage: true,
      severity: 'critical',
      summary:
        'External port {{ $labels.port }} ({{ $labels.port_name }}) is unreachable on {{ $labels.node }}',
      description:
        `External ${PORT_ON_NODE}, which users outside the cluster come in through, ` +
        `is not open from vantage {{ $labels.vantage }}. ${stateWords(DOWN_WHEN_OPEN)} ` +
        'Refused on every node: its Service has no ready pod (kubectl get svc,pods -A).',
      dashboard: nodes,
    }),
    rule(config, 'ImanagerNodePortUnreachable', {
      when: 'a required NodePort (groups basic-service, gis-environment) is down; names namespace, service and group',
      expr: downValue + downTargets(config, ['category="nodeport"']) + unlessNodeDown(config),
      for: config.for.nodePortUnreachable,
      outage: true,
      severity: 'critical',
      summary:
        'NodePort {{ $labels.port }} of {{ $labels.k8s_namespace }}/{{ $labels.k8s_service }} is not open on {{ $labels.node }}',
      description:
        'NodePort {{ $labels.port }}/{{ $labels.protocol }} ({{ $labels.port_name }}) of service ' +
        '{{ $labels.k8s_service }} in namespace {{ $labels.k8s_namespace }} (group {{ $labels.group }}) ' +
        'on node {{ $labels.node }} ({{ $labels.address }}) is not open from vantage {{ $labels.vantage }}. ' +
        `${stateWords(DOWN_WHEN_OPEN)} Refused on every node: the service has no ready endpoint ` +
        '(kubectl -n {{ $labels.k8s_namespace }} get endpointslices -l kubernetes.io/service-name={{ $labels.k8s_service }}).',
      dashboard: {
        uid: 'imanager-ports-nodeports',
        variables: ['vantage', 'k8s_namespace', 'node', 'port'],
      },
    }),
    rule(config, 'ImanagerInternalPortExposed', {
      when: 'a port expected closed from this vantage (etcd or the kubelet from outside) answers',
      expr:
        valueComment(statesWithVerdict('closed', 'exposed'), 'a port expected closed answers') +
        `max ${perTarget(config)} (\n` +
        `  imanager_port_state${selector('required="true"', 'expected="closed"')} ${stateFilter(statesWithVerdict('closed', 'exposed'))}\n` +
        ')\n',
      for: config.for.internalPortExposed,
      severity: 'warning',
      summary:
        'Internal port {{ $labels.port }} ({{ $labels.port_name }}) answers from {{ $labels.vantage }} on {{ $labels.node }}',
      description:
        `Internal ${PORT_ON_NODE} answers from vantage {{ $labels.vantage }}, where it must be closed: ` +
        '{{ $labels.component }} is exposed outside the cluster. Block the port at the edge of the cluster ' +
        "network and allow it only between the cluster's nodes.",
      dashboard: nodes,
    }),
    rule(config, 'ImanagerPortFlapping', {
      when: `a required port changed between open and closed ${config.flapping.changes} times in ${config.flapping.window}`,
      expr:
        `max ${perTarget(config)} (\n` +
        `  changes(imanager_port_up${selector('required="true"', 'expected="open"')}[${config.flapping.window}])\n` +
        `) >= ${config.flapping.changes}\n` +
        unlessNodeDown(config),
      for: config.for.portFlapping,
      severity: 'warning',
      summary:
        'Port {{ $labels.port }} ({{ $labels.port_name }}) on {{ $labels.node }} keeps opening and closing',
      description:
        `Required ${PORT_ON_NODE} changed between open and closed {{ $value | humanize }} times ` +
        `in the last ${config.flapping.window} as seen from vantage {{ $labels.vantage }}, each time too briefly ` +
        'to raise a closed-port alert. Look for a crash-looping {{ $labels.component }} (restart counts, ' +
        'kubectl describe pod) or a flapping network link or firewall rule.',
      dashboard: nodes,
    }),
  ];
}

function nodeRules(config: MonitoringConfig): DocumentedAlert[] {
  const down = NODE_DOWN_STATES.map((s) => `${s} (${STATE_GUIDE[s].meaning})`).join(' or ');
  return [
    rule(config, 'ImanagerNodeUnreachable', {
      when: 'a node answers on none of its probed ports (each times out or is unreachable) and, where ICMP runs, no echo: one alert per node, whatever the vantages; its port alerts do not fire',
      expr:
        '# value: from how many vantages (and node addresses) the node answers on no port\n' +
        `count ${by(config, 'node')} (${NODE_DOWN})\n`,
      for: config.for.nodeUnreachable,
      outage: true,
      severity: 'critical',
      summary: 'Node {{ $labels.node }} answers on no port',
      description:
        'Node {{ $labels.node }} answers on none of its probed ports from {{ $value }} ' +
        `vantage(s): every one is ${down}, and no ICMP echo answers where ICMP runs. ` +
        `${sentence(STATE_GUIDE.unreachable.action)} (kubectl get node {{ $labels.node }}, its console and power, ` +
        'its network: link, address, routes).',
      dashboard: { uid: 'imanager-ports-nodes', variables: ['node'] },
    }),
    rule(config, 'ImanagerNodeExporterDown', {
      when: "Prometheus cannot scrape iManager's node exporter on 9101 (or, where it does not scrape it, the probe of 9101 fails)",
      expr:
        '(\n' +
        "  # Prometheus cannot scrape iManager's node exporter (node named where the exporter knows the address),\n" +
        `${indent(withNodeName(config, nodeExporterUp(config, '== 0')), 2)}\n` +
        "  # or, where Prometheus does not scrape it, the exporter's probe of its port finds it down\n" +
        '  or\n' +
        `  (\n${indent(downTargets(config, ['port_name="node-exporter"']), 4)}` +
        `      unless ${on(config, 'address')} ${nodeExporterUp(config)}\n` +
        '  )\n' +
        ')\n' +
        `# a node that is down raises ImanagerNodeUnreachable instead\nunless ${on(config, 'address')} ${NODE_DOWN}\n`,
      for: config.for.nodeExporterDown,
      severity: 'warning',
      summary:
        "iManager's node exporter is down on {{ with $labels.node }}{{ . }}{{ else }}{{ $labels.instance }}{{ end }}",
      description:
        "{{ if $labels.instance }}Prometheus cannot scrape iManager's node exporter at {{ $labels.instance }} " +
        '(job {{ $labels.job }}{{ with $labels.node }}, node {{ . }}{{ end }})' +
        '{{ else }}The probe of node-exporter port {{ $labels.port }} on node {{ $labels.node }} ' +
        '({{ $labels.address }}) fails from vantage {{ $labels.vantage }}{{ end }}: ' +
        'the CPU, memory and disk figures of that node are missing. Check that the node exporter ' +
        'runs on the node and listens on port 9101.',
      dashboard: { uid: 'imanager-ports-nodes', variables: ['node'] },
    }),
    rule(config, 'ImanagerNodePortOutOfRange', {
      when: 'an iManager NodePort lies outside the configured NodePort range',
      expr:
        `max ${by(config, 'k8s_namespace', 'k8s_service', 'service_port', 'node_port', 'group')} (\n` +
        '  (imanager_nodeport_in_range == 0)\n' +
        '    * ignoring(group, type, traffic_policy) group_left(group)\n' +
        '    imanager_nodeport_info{group!="other"}\n' +
        ')\n',
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
      dashboard: { uid: 'imanager-ports-nodeports', variables: ['k8s_namespace'] },
    }),
  ];
}

function exporterRules(config: MonitoringConfig): DocumentedAlert[] {
  const exporterUp = `up${selector(config.exporterSelector)}`;
  const unknown = (['open', 'closed'] as const).map(
    (expected) =>
      `imanager_port_state${selector('required="true"', `expected="${expected}"`)} ${stateFilter(statesWithVerdict(expected, 'unknown'))}`,
  );
  const exporterDown = `label_replace(${exporterUp} == 0, "address", "$1", "instance", ${raw(config.exporterInstanceAddress)})`;
  const exporterDashboard = { uid: 'imanager-ports-exporter', variables: [] };
  return [
    rule(config, 'ImanagerExporterDown', {
      when: 'Prometheus cannot scrape an exporter, or has no such target at all; not for the agent on a node that is down',
      expr:
        "# an exporter Prometheus cannot scrape, with its node where it runs on a node's address (DaemonSet agents),\n" +
        `${withNodeName(config, exporterDown)}\n` +
        "# unless that node is down: the agent is part of the node's page\n" +
        `unless ${on(config, 'address')} ${NODE_DOWN}\n` +
        '# or no scrape target for the exporter at all\n' +
        `or\nabsent(${exporterUp})\n`,
      for: config.for.exporterDown,
      severity: 'critical',
      summary: 'The iManager port exporter is down',
      description:
        '{{ if $labels.instance }}Prometheus cannot scrape the iManager port exporter at ' +
        '{{ $labels.instance }} (job {{ $labels.job }}{{ with $labels.node }}, the agent on node {{ . }}{{ end }})' +
        '{{ else }}Prometheus has no scrape target for ' +
        `the iManager port exporter (${config.exporterSelector}){{ end }}: no port alert can fire while ` +
        'it is down, and those firing now resolve once it has been down for ' +
        `${config.keepFiringFor}. Check its pod (kubectl get pods -l app.kubernetes.io/name=imanager-port-exporter -A) ` +
        'and its log.',
      dashboard: exporterDashboard,
    }),
    rule(config, 'ImanagerTargetsNotProbed', {
      when: 'the exporter could not probe required targets (a name that does not resolve, no descriptors): one alert per vantage',
      expr:
        '# value: how many required targets the exporter of this vantage could not probe\n' +
        `count ${by(config, 'vantage')} (\n  ${unknown.join('\n  or\n  ')}\n)\n`,
      for: config.for.targetsNotProbed,
      severity: 'critical',
      summary: 'The exporter cannot probe {{ $value }} required targets from {{ $labels.vantage }}',
      description:
        'The exporter at vantage {{ $labels.vantage }} could not probe {{ $value }} required targets, so ' +
        `no alert can say whether they are open: ${STATE_GUIDE.error.meaning}. ${sentence(STATE_GUIDE.error.action)}; ` +
        'the status page and the Overview dashboard list them.',
      dashboard: { uid: 'imanager-ports-overview', variables: ['vantage'] },
    }),
    rule(config, 'ImanagerDiscoveryFailing', {
      when: 'a discovery source (the Kubernetes API) has failed; the last known targets are still probed',
      expr: `count ${by(config, 'source')} (imanager_discovery_up == 0)\n`,
      for: config.for.discoveryFailing,
      severity: 'warning',
      summary: 'Discovery source {{ $labels.source }} of the iManager port exporter is failing',
      description:
        'Discovery source {{ $labels.source }} fails to sync on {{ $value }} exporter(s): they keep ' +
        'probing the nodes and NodePorts they knew last, so new ones are not watched. Check ' +
        "the exporter's log and its RBAC (get, list and watch on nodes, services, endpointslices).",
      dashboard: exporterDashboard,
    }),
    rule(config, 'ImanagerProbeCycleTooSlow', {
      when: `a full pass over the targets took longer than ${config.probeCycleSlowSeconds} s: results grow stale`,
      expr: `max ${by(config)} (imanager_probe_cycle_duration_seconds) > ${config.probeCycleSlowSeconds}\n`,
      for: config.for.probeCycleTooSlow,
      severity: 'warning',
      summary: 'The iManager port exporter probes too slowly',
      description:
        'The last full pass of the slowest exporter over its targets took ' +
        `{{ $value | humanizeDuration }}, over ${config.probeCycleSlowSeconds}s, so port states are older ` +
        'than they look. Raise the probes in flight, lower the probe timeout, or shard the targets ' +
        'over more replicas.',
      dashboard: exporterDashboard,
    }),
    rule(config, 'ImanagerConfigReloadFailed', {
      when: 'the last reload was refused; the previous configuration still runs',
      expr: `count ${by(config)} (imanager_config_last_reload_successful == 0)\n`,
      for: config.for.configReloadFailed,
      severity: 'warning',
      summary: 'The iManager port exporter rejected its new config',
      description:
        '{{ $value }} exporter(s) rejected their last config reload and run on the config before it. ' +
        'The log names the bad field and value; fix the file and reload.',
      dashboard: exporterDashboard,
    }),
    rule(config, 'ImanagerWebCertificateExpiring', {
      when: `the TLS certificate /metrics is served with expires within ${config.certificateWarningDays} days, or has expired`,
      expr:
        '# value: seconds until the served certificate expires; negative once it has\n' +
        `min ${by(config)} (imanager_web_certificate_expiry_timestamp_seconds - time())\n` +
        `  < ${config.certificateWarningDays} * 86400\n`,
      for: config.for.webCertificateExpiring,
      severity: 'warning',
      summary: "The iManager port exporter's TLS certificate expires soon",
      description:
        'The certificate the exporter serves /metrics with expires in {{ $value | humanizeDuration }} ' +
        '(negative: it has expired), and then Prometheus can no longer scrape it. Renew the ' +
        'certificate file named in --web.config.file: it is read again at the next connection, ' +
        'no restart needed.',
      dashboard: exporterDashboard,
    }),
  ];
}

/**
 * The rules, in the groups they are shipped in, with what the README says of each alert.
 * Every rule that reads imanager:node_down is in the group that records it, after it: a
 * group evaluates its rules in order at one timestamp, while another group could read the
 * record an evaluation late, and a node's page would then start or end a step apart from
 * its port alerts'.
 */
function documentedGroups(config: MonitoringConfig) {
  const [exporterDown, ...exporterHealth] = exporterRules(config);
  if (exporterDown?.rule.alert !== 'ImanagerExporterDown')
    throw new Error('ImanagerExporterDown first');
  return [
    {
      name: 'imanager-ports',
      rules: [...portRules(config), ...nodeRules(config), exporterDown],
    },
    { name: 'imanager-port-exporter', rules: exporterHealth },
  ];
}

/** The alert rules, in the groups they are shipped in. */
export function ruleFile(config: MonitoringConfig): RuleFile {
  return {
    groups: documentedGroups(config).map((group) => ({
      name: group.name,
      rules: group.rules.map((r) => ('record' in r ? r : r.rule)),
    })),
  };
}

/** Every alert with what the README says of it, in the order of the rule file. */
export function documentedAlerts(config: MonitoringConfig): DocumentedAlert[] {
  return documentedGroups(config).flatMap((group) =>
    group.rules.filter((r): r is DocumentedAlert => 'rule' in r),
  );
}

/** Every alert rule of the file. */
export function alertRules(file: RuleFile): AlertRule[] {
  return file.groups.flatMap((g) => g.rules).filter((r): r is AlertRule => 'alert' in r);
}
