/**
 * The one place where the alert rules and the dashboards take their job selectors,
 * durations, thresholds and links, as kubernetes-mixin keeps them in config.libsonnet.
 * alerts/imanager-ports.rules.yml, alerts/alertmanager.yml and dashboards/*.json are
 * generated from it, and the marked tables of alerts/runbook.md:
 *
 *   npx tsx scripts/monitoring/generate.ts                      # rewrite alerts/ and dashboards/
 *   npx tsx scripts/monitoring/generate.ts --config my.json --out /tmp/monitoring
 *
 * `--config` takes a JSON object with any of the fields below (`for` and `flapping`
 * may be given in part); the rest keep these defaults.
 */

/** How long a condition must hold before its alert fires: Prometheus durations. */
export interface AlertDurations {
  /** A required internal catalog port (not a NodePort) not open. */
  readonly requiredPortClosed: string;
  readonly externalPortUnreachable: string;
  readonly nodePortUnreachable: string;
  readonly internalPortExposed: string;
  readonly nodeUnreachable: string;
  readonly nodeExporterDown: string;
  readonly nodePortOutOfRange: string;
  readonly portFlapping: string;
  readonly exporterDown: string;
  readonly targetsNotProbed: string;
  readonly discoveryFailing: string;
  readonly probeCycleTooSlow: string;
  readonly configReloadFailed: string;
  readonly webCertificateExpiring: string;
}

export interface MonitoringConfig {
  /**
   * Label matchers for the exporter's own scrape job: `up` of this job says whether
   * Prometheus reaches the exporter, and the exporter's process_* series are taken
   * from it. The imanager_* families need no selector: their names are our own.
   */
  readonly exporterSelector: string;
  /**
   * An RE2 regex, anchored, whose first group takes the host out of the exporter's
   * `instance`. A DaemonSet agent runs on the host network, so its host is its node's
   * address: that is how ImanagerExporterDown of an agent on a node that is down
   * becomes part of that node's page.
   */
  readonly exporterInstanceAddress: string;
  /**
   * Label matchers for iManager's node exporter (port 9101). Its series carry no node
   * name, so they are matched to nodes through `instance` (see below).
   */
  readonly nodeExporterSelector: string;
  /**
   * An RE2 regex, anchored, whose first group takes the node's address out of the node
   * exporter's `instance` label; it must equal the exporter's `address` label of the
   * node (imanager_node_info). The default takes `10.0.0.5:9101` and `[fd00::5]:9101`;
   * it also keeps another node exporter of the same job (on 9100, say) out of the join.
   */
  readonly nodeExporterInstanceAddress: string;
  /** Filesystem types the disk panels leave out: in-memory and container layers. */
  readonly ignoredFilesystemTypes: string;
  /**
   * The label that tells clusters apart where one Prometheus (Thanos, Mimir, federation)
   * holds several; every join and aggregation keeps it, and the dashboards get a
   * variable for it. Absent series join as before, so it costs nothing in one cluster.
   * Empty: no such label.
   */
  readonly clusterLabel: string;
  /**
   * Labels the scrape attaches that every alert keeps: the Prometheus Operator's
   * `namespace` (where the exporter runs) groups our alerts under kube-prometheus-stack's
   * `group_by: [namespace]` and lets an AlertmanagerConfig in that namespace match them.
   * The rest (`job`, `instance`, `pod`, `service`, `endpoint`, `container`) change when a
   * pod restarts and would make a restarted exporter's alert a new alert; port and node
   * alerts drop them.
   */
  readonly keptScrapeLabels: readonly string[];
  /** The runbook; each alert links to `<runbookUrl>#<alert name in lower case>`. */
  readonly runbookUrl: string;
  /** Grafana, as the on-call's browser reaches it; each alert links to its dashboard there. */
  readonly grafanaUrl: string;
  readonly for: AlertDurations;
  /**
   * How long a node or port alert keeps firing once its expression returns nothing: the
   * exporter stopped or restarts, its series went stale. It outlasts a restart (under a
   * minute, a first probe pass, a scrape and an evaluation) and the time
   * ImanagerExporterDown takes to fire, so neither resolves an outage falsely; the price
   * is that a real recovery is reported this much later. Prometheus reads it from 2.42 on
   * (and the Prometheus Operator's PrometheusRule from 0.66); empty leaves it out, for an
   * older Prometheus, which refuses a rule file that has it.
   */
  readonly keepFiringFor: string;
  /** ImanagerPortFlapping: at least `changes` open/closed changes within `window`. */
  readonly flapping: { readonly window: string; readonly changes: number };
  /**
   * ImanagerProbeCycleTooSlow: a full pass over all targets took longer than this.
   * Twice the default 15 s probe interval: past it, results are older than one interval.
   */
  readonly probeCycleSlowSeconds: number;
  /** ImanagerWebCertificateExpiring fires this many days before the served certificate expires (the exporter warns at 14). */
  readonly certificateWarningDays: number;
  /**
   * The dashboards call data stale once the exporter's last scrape is older than this:
   * two of the chart's 30 s scrape intervals.
   */
  readonly staleAfterSeconds: number;
}

/** Where the project lives; the runbook link's default base. */
export const PROJECT_URL = 'https://github.com/imanager-port-exporter/imanager-port-exporter';

export const DEFAULT_CONFIG: MonitoringConfig = {
  exporterSelector: 'job=~".*imanager-port-exporter.*"',
  exporterInstanceAddress: '\\[?(.*?)\\]?:[0-9]+',
  nodeExporterSelector: 'job=~".*node.exporter.*"',
  nodeExporterInstanceAddress: '\\[?(.*?)\\]?:9101',
  ignoredFilesystemTypes: 'tmpfs|ramfs|squashfs|nsfs|overlay|fuse\\..*',
  clusterLabel: 'cluster',
  keptScrapeLabels: ['namespace'],
  runbookUrl: `${PROJECT_URL}/blob/main/alerts/runbook.md`,
  // Grafana's own default address, which `kubectl port-forward svc/<grafana> 3000:80` gives.
  grafanaUrl: 'http://localhost:3000',
  for: {
    // Eight probes at the default 15 s interval: one lost SYN never pages.
    requiredPortClosed: '2m',
    externalPortUnreachable: '2m',
    nodePortUnreachable: '3m',
    internalPortExposed: '5m',
    nodeUnreachable: '2m',
    nodeExporterDown: '5m',
    nodePortOutOfRange: '5m',
    portFlapping: '5m',
    // With the chart's 30 s scrape and evaluation intervals: fires at most 2 minutes after
    // the last good scrape, and a restart shorter than that minute never fires it.
    exporterDown: '1m',
    targetsNotProbed: '5m',
    discoveryFailing: '10m',
    probeCycleTooSlow: '15m',
    configReloadFailed: '5m',
    webCertificateExpiring: '15m',
  },
  keepFiringFor: '3m',
  flapping: { window: '30m', changes: 6 },
  probeCycleSlowSeconds: 30,
  certificateWarningDays: 14,
  staleAfterSeconds: 60,
};

/** What `--config` may change: any field, and `for` and `flapping` in part. */
export type MonitoringOverrides = Partial<Omit<MonitoringConfig, 'for' | 'flapping'>> & {
  readonly for?: Partial<AlertDurations>;
  readonly flapping?: Partial<MonitoringConfig['flapping']>;
};

/** DEFAULT_CONFIG with the fields of `overrides` laid over it. */
export function withOverrides(overrides: MonitoringOverrides): MonitoringConfig {
  return {
    ...DEFAULT_CONFIG,
    ...overrides,
    for: { ...DEFAULT_CONFIG.for, ...overrides.for },
    flapping: { ...DEFAULT_CONFIG.flapping, ...overrides.flapping },
  };
}
