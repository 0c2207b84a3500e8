/**
 * The one place where the alert rules and the dashboards take their job selectors,
 * durations and thresholds, as kubernetes-mixin keeps them in config.libsonnet.
 * alerts/imanager-ports.rules.yml and dashboards/*.json are generated from it:
 *
 *   npx tsx scripts/monitoring/generate.ts                      # rewrite alerts/ and dashboards/
 *   npx tsx scripts/monitoring/generate.ts --config my.json --out /tmp/monitoring
 *
 * `--config` takes a JSON object with any of the fields below (`for` and `flapping`
 * may be given in part); the rest keep these defaults.
 */

/** How long a condition must hold before its alert fires: Prometheus durations. */
export interface AlertDurations {
  /** A required catalog port (not a NodePort) not open. */
  readonly requiredPortClosed: string;
  readonly externalPortUnreachable: string;
  readonly nodePortUnreachable: string;
  readonly internalPortExposed: string;
  readonly nodeUnreachable: string;
  readonly nodeExporterDown: string;
  readonly nodePortOutOfRange: string;
  readonly portFlapping: string;
  readonly exporterDown: string;
  readonly discoveryFailing: string;
  readonly probeCycleTooSlow: string;
  readonly configReloadFailed: string;
}

export interface MonitoringConfig {
  /**
   * Label matchers for the exporter's own scrape job: `up` of this job says whether
   * Prometheus reaches the exporter, and the exporter's process_* series are taken
   * from it. The imanager_* families need no selector: their names are our own.
   */
  readonly exporterSelector: string;
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
  /** Where the runbook lives; each alert links to `<runbookUrl>#<alert name in lower case>`. */
  readonly runbookUrl: string;
  readonly for: AlertDurations;
  /** ImanagerPortFlapping: at least `changes` open/closed changes within `window`. */
  readonly flapping: { readonly window: string; readonly changes: number };
  /**
   * ImanagerProbeCycleTooSlow: a full pass over all targets took longer than this.
   * Twice the default 15 s probe interval: past it, results are older than one interval.
   */
  readonly probeCycleSlowSeconds: number;
}

export const DEFAULT_CONFIG: MonitoringConfig = {
  exporterSelector: 'job=~".*imanager-port-exporter.*"',
  nodeExporterSelector: 'job=~".*node.exporter.*"',
  nodeExporterInstanceAddress: '\\[?(.*?)\\]?:9101',
  ignoredFilesystemTypes: 'tmpfs|ramfs|squashfs|nsfs|overlay|fuse\\..*',
  // Relative until the project has a public home: the runbook ships beside the rules.
  runbookUrl: 'alerts/runbook.md',
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
    exporterDown: '5m',
    discoveryFailing: '10m',
    probeCycleTooSlow: '15m',
    configReloadFailed: '5m',
  },
  flapping: { window: '30m', changes: 6 },
  probeCycleSlowSeconds: 30,
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
