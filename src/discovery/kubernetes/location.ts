/**
 * Where the exporter finds its cluster, and whether it discovers from Kubernetes at all:
 * pure (environment and file checks injected), and free of @kubernetes/client-node, so
 * the flags, the config and the static commands load without the client (a second of
 * start-up); kubeconfig.ts loads the files with it.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { DISCOVERY_MODES, type DiscoveryMode } from '../../kinds/cluster.js';
import { DiscoveryError } from './errors.js';

export { DISCOVERY_MODES, type DiscoveryMode };

export const SERVICE_ACCOUNT_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export type KubeConfigLocation =
  | {
      readonly kind: 'file';
      /** One path, or several from KUBECONFIG, merged in order as kubectl does. */
      readonly paths: readonly string[];
      readonly from: 'flag' | 'KUBECONFIG' | 'home';
    }
  | { readonly kind: 'in-cluster' };

export interface KubeConfigEnvironment {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly fileExists: (path: string) => boolean;
  /** Home directory; `~/.kube/config` is not tried when unset. */
  readonly homeDir?: string;
}

/** This process's environment. */
export function processEnvironment(): KubeConfigEnvironment {
  return { env: process.env, fileExists: existsSync, homeDir: homedir() };
}

/**
 * Where the cluster config comes from, in this order: the `--kubeconfig` flag (used even
 * if missing, so the error names it), the `KUBECONFIG` files that exist, the in-cluster
 * service account (KUBERNETES_SERVICE_HOST/PORT and its token), `~/.kube/config`.
 * An explicit KUBECONFIG wins over in-cluster because a user set it on purpose.
 * Undefined when there is none.
 */
export function findKubeConfig(
  explicitPath: string | undefined,
  environment: KubeConfigEnvironment,
): KubeConfigLocation | undefined {
  if (explicitPath) return { kind: 'file', paths: [explicitPath], from: 'flag' };
  const fromEnv = (environment.env.KUBECONFIG ?? '')
    .split(delimiter)
    .filter((path) => path !== '' && environment.fileExists(path));
  if (fromEnv.length > 0) return { kind: 'file', paths: fromEnv, from: 'KUBECONFIG' };
  if (
    environment.env.KUBERNETES_SERVICE_HOST &&
    environment.env.KUBERNETES_SERVICE_PORT &&
    environment.fileExists(SERVICE_ACCOUNT_TOKEN_PATH)
  ) {
    return { kind: 'in-cluster' };
  }
  if (environment.homeDir) {
    const path = join(environment.homeDir, '.kube', 'config');
    if (environment.fileExists(path)) return { kind: 'file', paths: [path], from: 'home' };
  }
  return undefined;
}

/**
 * Which source runs for a `--discovery` mode. `kubernetes` without a config is an
 * error (DiscoveryError KUBECONFIG_NOT_FOUND) rather than a silent fallback.
 */
export function chooseDiscovery(
  mode: DiscoveryMode,
  location: KubeConfigLocation | undefined,
): 'kubernetes' | 'static' {
  if (mode === 'static') return 'static';
  if (location) return 'kubernetes';
  if (mode === 'kubernetes') throw kubeConfigNotFound();
  return 'static';
}

/** The error for Kubernetes discovery without any config to reach a cluster. */
export function kubeConfigNotFound(): DiscoveryError {
  return new DiscoveryError(
    'KUBECONFIG_NOT_FOUND',
    'Kubernetes discovery: no kubeconfig found (tried --kubeconfig, KUBECONFIG, the in-cluster service account and ~/.kube/config)',
  );
}
