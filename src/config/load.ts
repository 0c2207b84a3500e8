/**
 * The exporter's configuration: flags, then the file they name, checked once and
 * frozen. Parsing the file text is pure (parseConfigText), so tests and a reload
 * use it without touching the disk.
 */
import type { ClusterFacts } from '../catalog/conditions.js';
import {
  type CatalogSettings,
  type CustomPort,
  type EntryOverride,
  NO_CATALOG_CHANGES,
} from '../catalog/overrides.js';
import { DEFAULT_NODEPORT_RANGE } from '../catalog/ports.js';
import { type PortRange, ROLES } from '../catalog/types.js';
import {
  type ClusterNode,
  type Detection,
  IP_FAMILIES,
  type IpFamily,
  isNodeName,
  type NodeAddressType,
} from '../kinds/cluster.js';
import { checkConfigFile } from './checks.js';
import { ConfigError, readFailure, showValue } from './errors.js';
import { type Flags, parseFlags } from './flags.js';
import { deepFreeze } from './freeze.js';
import {
  checkTextSize,
  decodeUtf8,
  findForbidden,
  InputLimitError,
  readConfigBytes,
} from './input-limits.js';
import { type ConfigIssue, issueLine } from './issues.js';
import { type ConfigFile, configFileSchema } from './schema.js';
import { parseWithSchema, yamlValue } from './yaml-file.js';

/**
 * The flags (`vantage` already resolved from NODE_NAME for `--vantage=node`) and what
 * the file adds: nodes, catalog changes, the NodePort range and discovery rules.
 */
export interface ExporterConfig extends Flags {
  readonly nodes: readonly ClusterNode[];
  /** The families probed: of a node's addresses, and of a name's answers. Default both. */
  readonly ipFamilies: readonly IpFamily[];
  readonly kubernetesVersion?: string;
  readonly nodePortRange: PortRange;
  readonly catalog: CatalogSettings;
  /** The file's `cluster:` section: facts that replace what discovery detects; absent: none. */
  readonly cluster?: ClusterFacts;
  /** How nodes and NodePorts are found: flags and the file's `discovery:` section. */
  readonly discovery: DiscoveryConfig;
  /** true when neither a config file nor any node was given: the embedded default applies */
  readonly embeddedDefault: boolean;
}

type DiscoverySection = NonNullable<ConfigFile['discovery']>;

/**
 * The file's `discovery:` section in config's words. Discovery reads it as its own
 * options input and checks what a schema cannot (selectors, patterns): LoadOptions.checkFile.
 */
export interface KubernetesFileSettings {
  readonly addressTypes?: readonly NodeAddressType[];
  readonly roleRules?: DiscoverySection['roleRules'];
  readonly groupRules?: DiscoverySection['groupRules'];
  readonly detect?: readonly Detection[];
  readonly relistIntervalMs?: number;
  readonly requestTimeoutMs?: number;
}

/** Kubernetes discovery as file and flags set it; what is left out takes discovery's default. */
export interface KubernetesSettings extends KubernetesFileSettings {
  /** The file's `cluster:` section. */
  readonly facts?: ClusterFacts;
  /** The file's `ipFamilies`. */
  readonly ipFamilies?: readonly IpFamily[];
  /** `--kubeconfig`. */
  readonly kubeconfig?: string;
  /** `--discovery.namespaces`. */
  readonly namespaces: readonly string[];
}

/** The discovery flags (mode, kubeconfig, namespaces) and the settings they make with the file. */
type DiscoveryFlags = Flags['discovery'];
export interface DiscoveryConfig extends DiscoveryFlags {
  /** Kubernetes discovery settings (file, then flags). */
  readonly kubernetes: KubernetesSettings;
}

/** What the file contributes; parseConfigText returns it. */
export interface FileConfig {
  readonly discovery: KubernetesFileSettings;
  readonly nodes: readonly ClusterNode[];
  readonly ipFamilies?: readonly IpFamily[];
  readonly kubernetesVersion?: string;
  readonly nodePortRange: PortRange;
  readonly catalog: CatalogSettings;
  readonly cluster?: ClusterFacts;
}

/** Without a file, the exporter probes the machine it runs on, so a first start shows data. */
export const EMBEDDED_DEFAULT_NODE: ClusterNode = deepFreeze({
  name: 'localhost',
  addresses: ['127.0.0.1'],
  roles: [...ROLES],
  ready: true,
  kubeletVersion: '',
});

export interface LoadOptions {
  /** Reads the config file as UTF-8 text; default node:fs. Tests pass their own. */
  readonly readFile?: (path: string) => Promise<string>;
  /** Where `--vantage=node` finds NODE_NAME; default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Rules of the stages the file configures, which config cannot check without importing
   * them (discovery's selectors and patterns); the first problem fails the load like any
   * other. config-load.ts passes them. Default none.
   */
  readonly checkFile?: FileCheck;
}

/** A check of the converted file: the first problem, at a path in the file, or undefined. */
export type FileCheck = (file: FileConfig) => ConfigIssue | undefined;

/**
 * Flags and the file they name, validated and frozen. Throws ConfigError:
 * FLAG_INVALID, CONFIG_UNREADABLE or CONFIG_INVALID.
 */
export async function loadConfig(
  argv: readonly string[],
  options: LoadOptions = {},
): Promise<ExporterConfig> {
  return loadConfigFromFlags(parseFlags(argv), options);
}

/**
 * Parsed flags (a command's, through flagsFrom) and the file they name, validated and
 * frozen. Throws ConfigError like loadConfig.
 */
export async function loadConfigFromFlags(
  parsed: Flags,
  options: LoadOptions = {},
): Promise<ExporterConfig> {
  const flags = resolveVantage(parsed, options.env ?? process.env);
  if (flags.configFile === undefined || flags.showHelp || flags.showVersion) {
    return buildConfig(flags, undefined);
  }
  const text = await readConfigFile(flags.configFile, options.readFile ?? readUtf8);
  return buildConfig(flags, parseConfigText(text, flags.configFile, options.checkFile));
}

/** `--vantage=node` means the node this agent runs on, which the downward API puts in NODE_NAME. */
function resolveVantage(flags: Flags, env: Readonly<Record<string, string | undefined>>): Flags {
  if (flags.vantage !== 'node') return flags;
  const name = env.NODE_NAME ?? '';
  if (!isNodeName(name)) {
    throw new ConfigError(
      'FLAG_INVALID',
      `--vantage: "node" needs NODE_NAME set to this node's name (the downward API's spec.nodeName), got ${showValue(env.NODE_NAME)}`,
    );
  }
  return { ...flags, vantage: name };
}

/**
 * The running config with its file read again (SIGHUP, POST /-/reload): flags stay as
 * they were, everything from the file is replaced. Without a file there is nothing to
 * re-read and the running config is returned. Throws ConfigError like loadConfig.
 */
export async function reloadConfig(
  running: ExporterConfig,
  options: LoadOptions = {},
): Promise<ExporterConfig> {
  if (running.configFile === undefined) return running;
  const text = await readConfigFile(running.configFile, options.readFile ?? readUtf8);
  return buildConfig(running, parseConfigText(text, running.configFile, options.checkFile));
}

/** At most MAX_CONFIG_BYTES, strictly UTF-8: a replaced byte would change a name unseen. */
async function readUtf8(path: string): Promise<string> {
  return decodeUtf8(await readConfigBytes(path));
}

async function readConfigFile(
  path: string,
  read: (path: string) => Promise<string>,
): Promise<string> {
  try {
    return await read(path);
  } catch (error) {
    if (error instanceof InputLimitError) {
      throw new ConfigError('CONFIG_INVALID', `${path}: ${error.message}`, { cause: error });
    }
    throw new ConfigError('CONFIG_UNREADABLE', `${path}: cannot read: ${readFailure(error)}`, {
      cause: error,
    });
  }
}

/**
 * Joins flags and file (undefined: no file) into the frozen config. A reload passes
 * the running config as `flags`: only its flag fields are read, the file's are replaced.
 */
export function buildConfig(flags: Flags, file: FileConfig | undefined): ExporterConfig {
  return deepFreeze({
    ...(flags.configFile === undefined ? {} : { configFile: flags.configFile }),
    listen: { ...flags.listen },
    web: { ...flags.web },
    probe: { ...flags.probe },
    logLevel: flags.logLevel,
    vantage: flags.vantage,
    meshPeers: flags.meshPeers,
    shard: { ...flags.shard },
    discovery: {
      ...flags.discovery,
      kubernetes: {
        ...file?.discovery,
        ...(file?.cluster !== undefined && { facts: file.cluster }),
        ...(file?.ipFamilies !== undefined && { ipFamilies: file.ipFamilies }),
        ...(flags.discovery.kubeconfig !== undefined && { kubeconfig: flags.discovery.kubeconfig }),
        namespaces: flags.discovery.namespaces,
      },
    },
    nodes: file?.nodes ?? [EMBEDDED_DEFAULT_NODE],
    ipFamilies: file?.ipFamilies ?? IP_FAMILIES,
    ...(file?.kubernetesVersion === undefined ? {} : { kubernetesVersion: file.kubernetesVersion }),
    nodePortRange: file?.nodePortRange ?? { ...DEFAULT_NODEPORT_RANGE },
    catalog: file?.catalog ?? NO_CATALOG_CHANGES,
    ...(file?.cluster !== undefined && { cluster: file.cluster }),
    embeddedDefault: file === undefined,
    showHelp: flags.showHelp,
    showVersion: flags.showVersion,
    checkConfig: flags.checkConfig,
  });
}

/**
 * Parses and checks config file text, then runs `checkFile` (LoadOptions.checkFile) on
 * the result. `sourceName` leads every message (usually the path). Throws ConfigError
 * with code CONFIG_INVALID; the result is frozen.
 */
export function parseConfigText(
  text: string,
  sourceName: string,
  checkFile?: FileCheck,
): FileConfig {
  const fail = (message: string, cause?: unknown) =>
    new ConfigError('CONFIG_INVALID', `${sourceName}: ${message}`, { cause });

  try {
    checkTextSize(text);
  } catch (error) {
    throw fail((error as Error).message, error);
  }
  const value = yamlValue(text, fail, { lowerCase: true });
  const forbidden = findForbidden(value);
  if (forbidden) throw fail(issueLine(forbidden));

  const parsed = parseWithSchema(configFileSchema, value);
  if (!parsed.ok) throw fail(issueLine(parsed.issue), parsed.error);
  const broken = checkConfigFile(parsed.data);
  if (broken) throw fail(issueLine(broken));
  const file = toFileConfig(parsed.data);
  const stageBroken = checkFile?.(file);
  if (stageBroken) throw fail(issueLine(stageBroken));
  return deepFreeze(file);
}

function toDiscovery(section: ConfigFile['discovery']): KubernetesFileSettings {
  if (!section) return {};
  return {
    ...(section.addressTypes && { addressTypes: section.addressTypes }),
    ...(section.roleRules && { roleRules: section.roleRules }),
    ...(section.detect && { detect: [...new Set(section.detect)] }),
    ...(section.groupRules && { groupRules: section.groupRules.map(withoutUndefinedRule) }),
    ...(section.relistInterval !== undefined && { relistIntervalMs: section.relistInterval }),
    ...(section.requestTimeout !== undefined && { requestTimeoutMs: section.requestTimeout }),
  };
}

function withoutUndefinedRule<T extends object>(rule: T): T {
  return Object.fromEntries(Object.entries(rule).filter(([, value]) => value !== undefined)) as T;
}

function toFileConfig(file: ConfigFile): FileConfig {
  return {
    discovery: toDiscovery(file.discovery),
    ...(file.ipFamilies !== undefined && { ipFamilies: [...new Set(file.ipFamilies)] }),
    nodes: (file.nodes ?? []).map((node) => ({
      name: node.name,
      addresses: [node.address],
      roles: [...new Set(node.roles)],
      ready: true,
      kubeletVersion: '',
    })),
    ...(file.kubernetesVersion === undefined ? {} : { kubernetesVersion: file.kubernetesVersion }),
    nodePortRange: file.nodePortRange ?? { ...DEFAULT_NODEPORT_RANGE },
    ...(file.cluster && { cluster: withoutUndefinedRule(file.cluster) as ClusterFacts }),
    catalog: {
      overrides: Object.fromEntries(
        Object.entries(file.ports ?? {}).map(([id, change]) => [id, withoutUndefined(change)]),
      ),
      custom: (file.customPorts ?? []).map(
        (custom): CustomPort => ({
          id: custom.id,
          port: custom.port,
          roles: custom.roles === 'all' ? 'all' : [...new Set(custom.roles)],
          scope: custom.scope,
          required: custom.required,
          component: custom.component ?? custom.id,
          purpose: custom.purpose,
        }),
      ),
    },
  };
}

function withoutUndefined(change: EntryOverride): EntryOverride {
  return Object.fromEntries(Object.entries(change).filter(([, value]) => value !== undefined));
}
