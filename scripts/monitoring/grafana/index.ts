import type { MonitoringConfig } from '../config.js';
import { exporter } from './exporter.js';
import type { Dashboard } from './grafana.js';
import { nodePorts } from './nodeports.js';
import { nodes } from './nodes.js';
import { overview } from './overview.js';

/** Every dashboard, written to dashboards/<uid>.json. */
export const DASHBOARDS: readonly ((config: MonitoringConfig) => Dashboard)[] = [
  overview,
  nodes,
  nodePorts,
  exporter,
];
