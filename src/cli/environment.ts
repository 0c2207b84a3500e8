/**
 * The environment a command reads, checked up front: a KUBECONFIG that names only
 * files that are not there is a mistake the user should hear of, not a silent
 * fallback to probing this machine.
 */
import { existsSync } from 'node:fs';
import { delimiter } from 'node:path';
import { ConfigError, type DiscoveryMode } from '../config/index.js';

/** Throws ConfigError FLAG_INVALID when KUBECONFIG is set, would be read, and names no file that exists. */
export function checkKubeconfigEnv(
  mode: DiscoveryMode,
  kubeconfigFlag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  fileExists: (path: string) => boolean = existsSync,
): void {
  if (mode === 'static' || kubeconfigFlag !== undefined) return;
  const paths = (env.KUBECONFIG ?? '').split(delimiter).filter((path) => path !== '');
  if (paths.length === 0 || paths.some(fileExists)) return;
  const shown = paths.length === 1 ? 'no such file' : 'none of these files exists';
  throw new ConfigError(
    'FLAG_INVALID',
    `KUBECONFIG: expected a kubeconfig file, got ${JSON.stringify(env.KUBECONFIG)} (${shown}); unset it, or pass --discovery=static`,
  );
}
