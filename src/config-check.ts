/**
 * `--config.check`, as `promtool check config`: load every file the flags name (the
 * config file, the web config with its PEM files, the kubeconfig discovery would use),
 * each as a start would, and report; nothing listens, nothing is probed. A file that
 * fails throws the same one-line error a start would (exit 2 in main).
 */
import type { ExporterConfig } from './config/index.js';
import { loadKubeConfig } from './discovery/kubernetes/kubeconfig.js';
import {
  chooseDiscovery,
  findKubeConfig,
  processEnvironment,
} from './discovery/kubernetes/location.js';
import { selectSource } from './discovery/select.js';
import { loadWebConfig } from './server/web-config.js';
import { silentLogger } from './util/log.js';

/** One line per file checked, for stdout. Throws ConfigError or DiscoveryError. */
export function checkConfigFiles(config: ExporterConfig): string[] {
  const lines: string[] = ['flags: OK'];
  if (config.configFile !== undefined) lines.push(`config file ${config.configFile}: OK`);
  const webConfigFile = config.web.configFile;
  if (webConfigFile !== undefined) {
    const loaded = loadWebConfig(webConfigFile);
    const notAfter = loaded.tls?.certificateNotAfterMs;
    const expiry =
      notAfter === undefined
        ? ''
        : ` (certificate valid until ${new Date(notAfter).toISOString()})`;
    lines.push(`web config file ${webConfigFile}: OK${expiry}`);
  }
  // Builds the source without starting it; the Kubernetes source reads its kubeconfig
  // only when it starts, so the kubeconfig it would use is read here: no API called.
  const source = selectSource(config, { logger: silentLogger });
  const location = findKubeConfig(config.discovery.kubeconfig, processEnvironment());
  if (location && chooseDiscovery(config.discovery.mode, location) === 'kubernetes') {
    loadKubeConfig(location);
  }
  lines.push(`discovery: ${source.name}: OK`);
  return lines;
}
