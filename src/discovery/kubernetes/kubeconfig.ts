/**
 * Where the exporter finds its cluster, and whether it discovers from Kubernetes at all.
 * Finding is pure (environment and file checks injected); loading reads the files.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { DiscoveryError } from './errors.js';

/** `--discovery`: auto uses Kubernetes when a config is found, else the static nodes. */
export const DISCOVERY_MODES = ['auto', 'kubernetes', 'static'] as const;
export type DiscoveryMode = (typeof DISCOVERY_MODES)[number];

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
