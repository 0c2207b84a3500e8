/**
 * Picks the source of nodes and NodePorts from the config: Kubernetes when a cluster
 * config is found (or demanded), else the static nodes of the file, else this machine.
 */
import type { ExporterConfig } from '../config/index.js';
import type { Logger } from '../util/log.js';
import {
  chooseDiscovery,
  findKubeConfig,
  type KubeConfigEnvironment,
  loadKubeConfig,
  processEnvironment,
} from './kubernetes/kubeconfig.js';
import { KubernetesSource } from './kubernetes/source.js';
import { StaticSource, withStaticNodes } from './static.js';
import type { Source } from './types.js';

export interface SelectSourceOptions {
  readonly logger: Logger;
  /** Where kubeconfig files and in-cluster credentials are looked for; default this process's. */
  readonly environment?: KubeConfigEnvironment;
}

/**
 * The one source the exporter reads. Throws DiscoveryError (KUBECONFIG_NOT_FOUND,
 * KUBECONFIG_INVALID) when Kubernetes discovery is demanded and cannot be set up: the
 * user's to fix, so main reports it in one line.
 */
export function selectSource(config: ExporterConfig, options: SelectSourceOptions): Source {
  const { discovery } = config;
  const location = findKubeConfig(
    discovery.kubeconfig,
    options.environment ?? processEnvironment(),
  );
  const kind = chooseDiscovery(discovery.mode, location);
  const staticOptions = {
    nodes: config.nodes,
    ...(config.kubernetesVersion !== undefined && {
      kubernetesVersion: config.kubernetesVersion,
    }),
    ...(config.cluster !== undefined && { facts: config.cluster }),
  };
  if (kind === 'static' || !location) {
    options.logger.info('discovery: static nodes', {
      nodes: config.nodes.length,
      embeddedDefault: config.embeddedDefault,
    });
    return new StaticSource(staticOptions);
  }
  // Loaded before anything is logged: a bad kubeconfig is then the one line on stderr.
  const kubeConfig = loadKubeConfig(location);
  options.logger.info('discovery: kubernetes', {
    from: location.kind === 'file' ? location.paths.join(',') : 'in-cluster',
  });
  const kubernetes = new KubernetesSource(discovery.kubernetes, {
    kubeConfig,
    logger: options.logger,
  });
  // The machine itself is a stand-in for "no nodes given", not a node of the cluster.
  return config.embeddedDefault ? kubernetes : withStaticNodes(kubernetes, config.nodes);
}
