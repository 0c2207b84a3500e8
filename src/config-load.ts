/**
 * The config as a start loads it: config's loader, plus the checks of the stages the
 * file configures, which config cannot run without importing those stages (discovery's
 * selectors and patterns). Every program path that loads or reloads a config file uses
 * these, so a bad rule fails at load with its path in the file, as any bad value does.
 */
import {
  type ExporterConfig,
  type FileCheck,
  type Flags,
  type LoadOptions,
  loadConfigFromFlags as loadFileOfFlags,
  loadConfig as loadFlagsAndFile,
  reloadConfig as reloadFile,
} from './config/index.js';
import { kubernetesDiscoveryOptionProblems } from './discovery/kubernetes/options.js';

export type { ExporterConfig };

/** What a schema cannot see in the discovery rules: selectors that parse, regexes that compile. */
const checkDiscoveryRules: FileCheck = ({ discovery }) => {
  const [problem] = kubernetesDiscoveryOptionProblems({
    ...(discovery.roleRules && { roleRules: discovery.roleRules }),
    ...(discovery.groupRules && { groupRules: discovery.groupRules }),
  });
  return problem && { path: ['discovery', ...problem.path], message: problem.message };
};

function withStageChecks(options: LoadOptions): LoadOptions {
  return { ...options, checkFile: checkDiscoveryRules };
}

/** loadConfig of config/, with discovery's rules checked. Throws ConfigError. */
export function loadConfig(
  argv: readonly string[],
  options: LoadOptions = {},
): Promise<ExporterConfig> {
  return loadFlagsAndFile(argv, withStageChecks(options));
}

/** loadConfigFromFlags of config/, with discovery's rules checked. Throws ConfigError. */
export function loadConfigFromFlags(
  parsed: Flags,
  options: LoadOptions = {},
): Promise<ExporterConfig> {
  return loadFileOfFlags(parsed, withStageChecks(options));
}

/** reloadConfig of config/, with discovery's rules checked. Throws ConfigError. */
export function reloadConfig(
  running: ExporterConfig,
  options: LoadOptions = {},
): Promise<ExporterConfig> {
  return reloadFile(running, withStageChecks(options));
}
