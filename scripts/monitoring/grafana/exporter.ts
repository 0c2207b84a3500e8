import type { MonitoringConfig } from '../config.js';
import { PORT_STATES, selector } from '../promql.js';
import { scopeOf } from './common.js';
import {
  type Dashboard,
  dashboard,
  fieldOverride,
  organize,
  stat,
  stateTimeline,
  table,
  timeseries,
  type Variable,
} from './grafana.js';

const YES_NO = (no: string, noColor: string, yes: string) => [
  { value: 0, text: no, color: noColor },
  { value: 1, text: yes, color: 'green' },
];

/** Whether the exporter itself keeps up: cycle time, probes by state, discovery. */
export function exporter(config: MonitoringConfig): Dashboard {
  const scope = scopeOf(config);
  const instance: Variable = {
    name: 'instance',
    label: 'Exporter',
    query: `label_values(imanager_exporter_build_info${selector(...scope.cluster)}, instance)`,
    multi: true,
  };
  const mine = selector(...scope.cluster, 'instance=~"$instance"');
  const myProcess = selector(config.exporterSelector, ...scope.cluster, 'instance=~"$instance"');
  return dashboard({
    uid: 'imanager-ports-exporter',
    title: 'iManager ports / Exporter',
    description:
      'Health of the iManager port exporter: probe cycle time, probes by state, targets, discovery.',
    variables: [...scope.clusterVariables, instance],
    items: [
      stat({
        title: 'Exporters up',
        description: "Prometheus' scrape of the exporter: up / scraped.",
        width: 4,
        height: 4,
        queries: [{ expr: `sum(up${myProcess})`, instant: true }],
        baseColor: 'red',
        steps: [{ value: 1, color: 'green' }],
      }),
      stat({
        title: 'Targets',
        width: 4,
        height: 4,
        queries: [{ expr: `sum(imanager_targets${mine})`, instant: true }],
        baseColor: 'blue',
      }),
      stat({
        title: 'Last probe cycle',
        description: `The slowest exporter's last full pass; ImanagerProbeCycleTooSlow fires past ${config.probeCycleSlowSeconds}s.`,
        width: 4,
        height: 4,
        queries: [{ expr: `max(imanager_probe_cycle_duration_seconds${mine})`, instant: true }],
        unit: 's',
        steps: [{ value: config.probeCycleSlowSeconds, color: 'orange' }],
      }),
      stat({
        title: 'Discovery',
        width: 4,
        height: 4,
        queries: [{ expr: `min(imanager_discovery_up${mine})`, instant: true }],
        mappings: YES_NO('failing', 'red', 'syncing'),
      }),
      stat({
        title: 'ICMP',
        description: 'Whether the exporter can send ICMP echo (needs CAP_NET_RAW).',
        width: 4,
        height: 4,
        queries: [{ expr: `min(imanager_icmp_enabled${mine})`, instant: true }],
        mappings: YES_NO('off', 'blue', 'on'),
      }),
      stat({
        title: 'Config',
        width: 4,
        height: 4,
        queries: [{ expr: `min(imanager_config_last_reload_successful${mine})`, instant: true }],
        mappings: YES_NO('reload rejected', 'red', 'loaded'),
      }),
      timeseries(
        {
          title: 'Probe cycle duration',
          description: `How long each full pass over the targets takes; the line is the ${config.probeCycleSlowSeconds}s alert threshold.`,
          width: 12,
          height: 8,
          queries: [
            { expr: `imanager_probe_cycle_duration_seconds${mine}`, legend: '{{instance}}' },
          ],
          unit: 's',
          min: 0,
          steps: [{ value: config.probeCycleSlowSeconds, color: 'red' }],
        },
        { thresholdLine: true },
      ),
      timeseries(
        {
          title: 'Probes by state',
          description: 'Probes per second, by what they found.',
          width: 12,
          height: 8,
          queries: [
            {
              expr: `sum by (state) (rate(imanager_probes_total${mine}[$__rate_interval]))`,
              legend: '{{state}}',
            },
          ],
          unit: 'ops',
          overrides: PORT_STATES.map((s) =>
            fieldOverride(s.name, { color: { mode: 'fixed', fixedColor: s.color } }),
          ),
        },
        { stacked: true },
      ),
      timeseries({
        title: 'Targets by category',
        width: 12,
        height: 8,
        queries: [{ expr: `sum by (category) (imanager_targets${mine})`, legend: '{{category}}' }],
      }),
      timeseries({
        title: 'Probes by prober',
        width: 12,
        height: 8,
        queries: [
          {
            expr: `sum by (prober) (rate(imanager_probes_total${mine}[$__rate_interval]))`,
            legend: '{{prober}}',
          },
        ],
        unit: 'ops',
      }),
      stateTimeline({
        title: 'Discovery sources',
        width: 12,
        height: 6,
        queries: [{ expr: `imanager_discovery_up${mine}`, legend: '{{source}} ({{instance}})' }],
        mappings: YES_NO('failing', 'red', 'ok'),
      }),
      table({
        title: 'Discovery: last successful sync',
        width: 12,
        height: 6,
        queries: [
          {
            expr: `time() - imanager_discovery_last_success_timestamp_seconds${mine}`,
            instant: true,
            table: true,
          },
        ],
        transformations: [organize(['Time', 'job'], { Value: 'ago' })],
        overrides: [fieldOverride('ago', { unit: 'dtdurations' })],
      }),
      timeseries({
        title: 'Memory and event loop',
        description:
          'Resident memory, and the 99th percentile of event loop delay: a busy loop delays probes.',
        width: 12,
        height: 8,
        queries: [
          { expr: `process_resident_memory_bytes${myProcess}`, legend: 'memory {{instance}}' },
          { expr: `nodejs_eventloop_lag_p99_seconds${myProcess}`, legend: 'loop p99 {{instance}}' },
        ],
        unit: 'bytes',
        overrides: [
          {
            matcher: { id: 'byFrameRefID', options: 'B' },
            properties: [
              { id: 'unit', value: 's' },
              { id: 'custom.axisPlacement', value: 'right' },
            ],
          },
        ],
      }),
      table({
        title: 'Versions',
        width: 12,
        height: 8,
        queries: [{ expr: `imanager_exporter_build_info${mine}`, instant: true, table: true }],
        transformations: [
          organize(['Time', '__name__', 'Value', 'job'], { nodejs_version: 'Node.js' }),
        ],
      }),
    ],
  });
}
