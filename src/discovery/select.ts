/**
 * Picks the source of nodes and NodePorts from the config: Kubernetes when a cluster
 * config is found (or demanded), else the static nodes of the file, else this machine.
 *
 * The Kubernetes source and @kubernetes/client-node are imported when that source
 * starts, not before: the client costs about a second of loading, which `catalog`,
 * `firewall` and a `check` of static nodes have no use for.
 */
import type { ClusterFacts } from '../catalog/conditions.js';
import { type CatalogSettings, effectiveCatalog } from '../catalog/overrides.js';
import type { Logger } from '../util/log.js';
import {
  chooseDiscovery,
  type DiscoveryMode,
  findKubeConfig,
  type KubeConfigEnvironment,
  type KubeConfigLocation,
  processEnvironment,
} from './kubernetes/location.js';
import type { KubernetesDiscoveryOptionsInput } from './kubernetes/options.js';
import { rolePortsOf } from './kubernetes/pods.js';
import { StaticSource, withStaticNodes } from './static.js';
import type { ClusterNode, DiscoverySnapshot, Source, SourceStatus } from './types.js';

/** What choosing and building a source reads: the exporter's config has all of it. */
export interface DiscoverySettings {
  readonly discovery: {
    readonly mode: DiscoveryMode;
    /** `--kubeconfig`: used even when missing, so the error names it. */
    readonly kubeconfig?: string;
    readonly kubernetes: KubernetesDiscoveryOptionsInput;
  };
  /** The static nodes; with Kubernetes they are added to the cluster's unless `embeddedDefault`. */
  readonly nodes: readonly ClusterNode[];
  readonly kubernetesVersion?: string;
  readonly cluster?: ClusterFacts;
  /** The catalog changes of the file; Kubernetes discovery reads the UI's NodePort and role ports from it. */
  readonly catalog?: CatalogSettings;
  /** True when `nodes` is the stand-in for this machine, not nodes the user gave. */
  readonly embeddedDefault: boolean;
}

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
export function selectSource(config: DiscoverySettings, options: SelectSourceOptions): Source {
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
  // Once the client is loaded (a reload), the kubeconfig is read now, as before the lazy
  // import: a bad one refuses the reload while the running source carries on. Either way
  // it is read before anything is logged: a bad kubeconfig is then the one line on stderr.
  const kubernetesOptions = kubernetesOptionsOf(config);
  let kubernetes: Source;
  if (client) {
    const kubeConfig = client.loadKubeConfig(location);
    logKubernetes(options.logger, location);
    kubernetes = new client.KubernetesSource(kubernetesOptions, {
      kubeConfig,
      logger: options.logger,
    });
  } else {
    kubernetes = new LazyKubernetesSource(kubernetesOptions, location, options.logger);
  }
  // The machine itself is a stand-in for "no nodes given", not a node of the cluster.
  return config.embeddedDefault ? kubernetes : withStaticNodes(kubernetes, config.nodes);
}

/**
 * The Kubernetes source's options: the settings, and what discovery takes from the
 * catalog after config: the UI's NodePort (its namespace holds the basic services) and
 * the ports that give a node a role when a pod listens. An unchanged catalog leaves
 * both to their defaults.
 */
export function kubernetesOptionsOf(config: DiscoverySettings): KubernetesDiscoveryOptionsInput {
  const settings = config.catalog;
  const { kubernetes } = config.discovery;
  if (!settings || (Object.keys(settings.overrides).length === 0 && settings.custom.length === 0)) {
    return kubernetes;
  }
  const catalog = effectiveCatalog(settings);
  const ui = catalog.find((entry) => entry.id === 'imanager-ui');
  return {
    ...kubernetes,
    ...(ui && { uiNodePort: ui.port }),
    rolePorts: rolePortsOf(catalog.filter((entry) => entry.category !== 'custom')),
  };
}

function logKubernetes(logger: Logger, location: KubeConfigLocation): void {
  logger.info('discovery: kubernetes', {
    from: location.kind === 'file' ? location.paths.join(',') : 'in-cluster',
  });
}

type KubernetesModules = Pick<typeof import('./kubernetes/kubeconfig.js'), 'loadKubeConfig'> &
  Pick<typeof import('./kubernetes/source.js'), 'KubernetesSource'>;

/** The Kubernetes source's modules, once the first Kubernetes source has started. */
let client: KubernetesModules | undefined;

async function loadClient(): Promise<KubernetesModules> {
  if (client) return client;
  const [{ loadKubeConfig }, { KubernetesSource }] = await Promise.all([
    import('./kubernetes/kubeconfig.js'),
    import('./kubernetes/source.js'),
  ]);
  client = { loadKubeConfig, KubernetesSource };
  return client;
}

/**
 * The Kubernetes source, imported and built at start(). A kubeconfig that does not load
 * (DiscoveryError KUBECONFIG_INVALID) rejects start(), which the exporter and check
 * both call before anything else runs, so main still reports it in one line.
 */
class LazyKubernetesSource implements Source {
  readonly name = 'kubernetes';
  #source: Source | undefined;
  #stopped = false;

  constructor(
    readonly options: KubernetesDiscoveryOptionsInput,
    readonly location: KubeConfigLocation,
    readonly logger: Logger,
  ) {}

  async start(onChange: (snapshot: DiscoverySnapshot) => void): Promise<void> {
    const { loadKubeConfig, KubernetesSource } = await loadClient();
    if (this.#stopped) return;
    const kubeConfig = loadKubeConfig(this.location);
    logKubernetes(this.logger, this.location);
    const source = new KubernetesSource(this.options, { kubeConfig, logger: this.logger });
    this.#source = source;
    await source.start(onChange);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#source?.stop();
  }

  status(): SourceStatus {
    return this.#source?.status() ?? { source: this.name, up: false };
  }
}
