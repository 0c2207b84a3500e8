/**
 * Loads the cluster config found by location.ts, with @kubernetes/client-node: only
 * Kubernetes discovery imports this module (see discovery/select.ts).
 */
import { delimiter } from 'node:path';
import { KubeConfig } from '../../vendor/kubernetes-client.js';
import { DiscoveryError } from './errors.js';
import type { KubeConfigLocation } from './location.js';

export {
  chooseDiscovery,
  DISCOVERY_MODES,
  type DiscoveryMode,
  findKubeConfig,
  type KubeConfigEnvironment,
  type KubeConfigLocation,
  kubeConfigNotFound,
  processEnvironment,
  SERVICE_ACCOUNT_TOKEN_PATH,
} from './location.js';

/**
 * The YAML parser's message is several lines (a picture of the bad line); the first
 * says what is wrong and where: one line for the user.
 */
function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]?.trim() || 'invalid';
}

/** Reads the config; throws DiscoveryError KUBECONFIG_INVALID naming the file. */
export function loadKubeConfig(location: KubeConfigLocation): KubeConfig {
  const kc = new KubeConfig();
  const where = location.kind === 'file' ? location.paths.join(delimiter) : 'in-cluster config';
  try {
    if (location.kind === 'in-cluster') {
      kc.loadFromCluster();
    } else {
      const [first, ...rest] = location.paths;
      if (first === undefined) throw new Error('no path');
      kc.loadFromFile(first);
      for (const path of rest) {
        const more = new KubeConfig();
        more.loadFromFile(path);
        kc.mergeConfig(more, true);
      }
    }
  } catch (error) {
    throw new DiscoveryError(
      'KUBECONFIG_INVALID',
      `cannot load kubeconfig ${where}: ${firstLine(error)}`,
      { cause: error },
    );
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) {
    throw new DiscoveryError(
      'KUBECONFIG_INVALID',
      `kubeconfig ${where}: no current context with a cluster server (current-context: "${kc.getCurrentContext()}")`,
    );
  }
  return kc;
}
