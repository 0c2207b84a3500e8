/**
 * The exporter's flags, in groups the commands compose into their own tables (cli/):
 * config file, web, probe, vantage, discovery, log, help. Each group is a flag table
 * (flag-table.ts); `flagsFrom` turns the values of whichever groups a table holds into
 * the shape the program reads, with the defaults for the groups it leaves out.
 */
import {
  DISCOVERY_MODES,
  type DiscoveryMode,
  isNodeName,
  NAMESPACE_NAME,
} from '../kinds/cluster.js';
import { LOG_LEVELS, type LogLevel } from '../util/log.js';
import { LISTEN_ADDRESS_EXPECTED, type ListenAddress, parseListenAddress } from './address.js';
import { DURATION_EXPECTED, formatDuration, parseDuration } from './duration.js';
import { showValue } from './errors.js';
import {
  BadValue,
  defaultsOf,
  type FlagValues,
  flagError,
  parseTable,
  switchFlag,
  valueFlag,
} from './flag-table.js';

export const ICMP_MODES = ['auto', 'on', 'off'] as const;
export type IcmpMode = (typeof ICMP_MODES)[number];

export { DISCOVERY_MODES, type DiscoveryMode };

/** One of N shards, 0-based, as the planner reads it. */
export interface ShardFlag {
  readonly index: number;
  readonly count: number;
}

// Node timers overflow past 2^31-1 ms (about 24.8 days) and then fire at once.
const MAX_DURATION_MS = 24 * 24 * 60 * 60 * 1000;

export function duration(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new BadValue(DURATION_EXPECTED);
  if (ms > MAX_DURATION_MS)
    throw new BadValue(`a duration of at most ${formatDuration(MAX_DURATION_MS)}`);
  return ms;
}

export function integer(min: number, max: number) {
  return (text: string): number => {
    const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!(value >= min && value <= max)) throw new BadValue(`an integer ${min}-${max}`);
    return value;
  };
}

function workers(text: string): number | 'auto' {
  if (text === 'auto') return 'auto';
  try {
    return integer(0, 64)(text);
  } catch {
    throw new BadValue('auto or an integer 0-64');
  }
}

export function oneOf<const T extends string>(choices: readonly T[]) {
  return (text: string): T => {
    if (!(choices as readonly string[]).includes(text))
      throw new BadValue(`one of ${choices.join(', ')}`);
    return text as T;
  };
}

export function filePath(text: string): string {
  if (text === '') throw new BadValue('a file path');
  return text;
}

function namespaceList(text: string): string[] {
  if (text.trim() === '') return [];
  const names = text.split(',').map((name) => name.trim());
  if (!names.every((name) => NAMESPACE_NAME.test(name))) {
    throw new BadValue('a comma-separated list of namespace names');
  }
  return [...new Set(names)];
}

function listenAddress(text: string): ListenAddress {
  const address = parseListenAddress(text);
  if (!address) throw new BadValue(LISTEN_ADDRESS_EXPECTED);
  return address;
}

function vantage(text: string): string {
  if (text === 'central' || text === 'external' || text === 'node') return text;
  if (isNodeName(text)) return text;
  throw new BadValue('central, external, node, or the name of the node probing from');
}

/** `i/N`, 0 <= i < N <= 10,000, as Prometheus' hashmod divides targets. */
function shard(text: string): ShardFlag {
  const [index, count] = /^\d+\/\d+$/.test(text) ? text.split('/').map(Number) : [];
  if (index === undefined || count === undefined || count < 1 || count > 10_000 || index >= count)
    throw new BadValue('i/N with 0 <= i < N, such as 0/3');
  return { index, count };
}

/** `--config.file`: every command and the exporter read it. */
export const CONFIG_FLAGS = {
  'config.file': valueFlag({
    placeholder: 'FILE',
    help: 'YAML file: static nodes, port overrides, custom ports. Without one, this machine is probed.',
    parse: filePath,
  }),
} as const;

/** `--config.check`: the exporter's own, as `promtool check config` is Prometheus'. */
export const CONFIG_CHECK_FLAGS = {
  'config.check': switchFlag({
    help: 'Check the flags and every file they name (config, web config, kubeconfig), print the result, and exit 0 or 2 without starting.',
  }),
} as const;

/** Where the exporter serves; its own, no command reads them. */
export const WEB_FLAGS = {
  'web.listen-address': valueFlag({
    placeholder: 'ADDRESS',
    default: ':19101',
    help: 'Where /metrics and the status page listen: :PORT, HOST:PORT or [IPv6]:PORT.',
    parse: listenAddress,
  }),
  'web.config.file': valueFlag({
    placeholder: 'FILE',
    help: 'TLS and basic auth for the web server, in the Prometheus exporter-toolkit format; re-read on every connection.',
    parse: filePath,
  }),
  'web.enable-lifecycle': switchFlag({
    help: 'Allow POST /-/reload to re-read the config file (SIGHUP always does).',
  }),
} as const;

/** How probes run: the exporter and check. */
export const PROBE_FLAGS = {
  'probe.interval': valueFlag({
    placeholder: 'DURATION',
    default: '15s',
    help: 'How often each target is probed; a pass is spread over the interval.',
    parse: duration,
  }),
  'probe.timeout': valueFlag({
    placeholder: 'DURATION',
    default: '2s',
    help: 'How long a connect may take before the port counts as dropped; less than the interval.',
    parse: duration,
  }),
  'probe.concurrency': valueFlag({
    placeholder: 'N',
    default: '256',
    help: 'Most probes in flight at once (1-100000).',
    parse: integer(1, 100000),
  }),
  'probe.workers': valueFlag({
    placeholder: 'N',
    help: 'Worker threads that run the TCP probes (0-64, or auto). Default auto: one per core, at most 4, none on one core. 0: on the main thread. Threads reach more probes a second on more cores, and keep connect times clear of scrapes and re-plans.',
    parse: workers,
  }),
  'probe.main-thread-rate': valueFlag({
    placeholder: 'N',
    default: '2500',
    help: 'With worker threads: the main thread takes a probe while fewer than N ran in the last second and its loop is idle, which costs less CPU at a slow steady pace (0-100000). A burst (the first cycle, check) always goes to the threads. 0: every probe on the threads, whose connect times are the most exact.',
    parse: integer(0, 100000),
  }),
  'probe.icmp': valueFlag({
    placeholder: 'MODE',
    default: 'auto',
    help: 'ICMP echo to each node: auto (when permitted), on (fail if not permitted), off.',
    parse: oneOf(ICMP_MODES),
  }),
} as const;

/** Where probes come from and which share of them: the exporter and check. */
export const VANTAGE_FLAGS = {
  vantage: valueFlag({
    placeholder: 'VANTAGE',
    default: 'central',
    help: "Where probes come from: central (in the cluster), external (outside it), node (this node, from $NODE_NAME), or a node's name.",
    parse: vantage,
  }),
  'mesh.peers': valueFlag({
    placeholder: 'N',
    default: '10',
    help: 'With a node vantage: how many other nodes each agent probes, chosen by rendezvous hashing.',
    parse: integer(0, 10000),
  }),
  shard: valueFlag({
    placeholder: 'i/N',
    default: '0/1',
    help: 'Probe only the targets whose key hashes to shard i of N (0-based), as Prometheus hashmod does.',
    parse: shard,
  }),
} as const;

/** Where nodes and NodePorts come from. */
export const DISCOVERY_FLAGS = {
  discovery: valueFlag({
    placeholder: 'MODE',
    default: 'auto',
    help: 'Where nodes and NodePorts come from: kubernetes, static (the config file), or auto: Kubernetes when a cluster config is found.',
    parse: oneOf(DISCOVERY_MODES),
  }),
  kubeconfig: valueFlag({
    placeholder: 'FILE',
    help: 'Kubeconfig for Kubernetes discovery. Default: $KUBECONFIG, then the in-cluster service account, then ~/.kube/config.',
    parse: filePath,
  }),
  'discovery.namespaces': valueFlag({
    placeholder: 'NAMESPACES',
    help: 'Watch Services and EndpointSlices only in these namespaces (comma-separated). Default: all.',
    parse: namespaceList,
  }),
} as const;

export const LOG_FLAGS = {
  'log.level': valueFlag({
    placeholder: 'LEVEL',
    default: 'info',
    help: `Lowest level logged: ${LOG_LEVELS.join(', ')}.`,
    parse: oneOf<LogLevel>(LOG_LEVELS),
  }),
} as const;

export const HELP_FLAGS = {
  help: switchFlag({ short: 'h', help: 'Show this help and exit.' }),
} as const;

export const VERSION_FLAGS = {
  version: switchFlag({ help: 'Show the version and exit.' }),
} as const;

/** Every flag of the exporter; the order here is the order in `--help`. */
export const FLAGS = {
  ...CONFIG_FLAGS,
  ...CONFIG_CHECK_FLAGS,
  ...WEB_FLAGS,
  ...PROBE_FLAGS,
  ...LOG_FLAGS,
  ...VANTAGE_FLAGS,
  ...DISCOVERY_FLAGS,
  ...HELP_FLAGS,
  ...VERSION_FLAGS,
} as const;

type ExporterValues = FlagValues<typeof FLAGS>;

/** The flags, parsed and checked, in the shape the program reads them. */
export interface Flags {
  readonly configFile?: string;
  readonly listen: ListenAddress;
  readonly web: {
    readonly configFile?: string;
    readonly enableLifecycle: boolean;
  };
  readonly probe: {
    readonly intervalMs: number;
    readonly timeoutMs: number;
    readonly concurrency: number;
    /** `--probe.workers`: threads, or `auto` (probe/pool.ts workerCount); absent: auto. */
    readonly workers?: number | 'auto';
    /** `--probe.main-thread-rate`: see probe/route.ts; 0 keeps every probe on the threads. */
    readonly mainThreadRate: number;
    readonly icmp: IcmpMode;
  };
  readonly logLevel: LogLevel;
  readonly vantage: string;
  readonly meshPeers: number;
  readonly shard: ShardFlag;
  readonly discovery: {
    readonly mode: DiscoveryMode;
    readonly kubeconfig?: string;
    readonly namespaces: readonly string[];
  };
  readonly showHelp: boolean;
  readonly showVersion: boolean;
  /** `--config.check`: load and check every file, then exit without starting. */
  readonly checkConfig: boolean;
}

/** Lazily: parsing the defaults is cheap, but not at import time. */
let exporterDefaults: ExporterValues | undefined;

/**
 * The Flags from the values of some of the groups (a command's table); the groups it
 * does not hold take their defaults. `given` names the flags typed, for messages.
 * Throws ConfigError FLAG_INVALID when flags disagree (a timeout not below the interval).
 */
export function flagsFrom(
  values: Partial<ExporterValues>,
  given: ReadonlySet<string> = new Set(),
): Flags {
  exporterDefaults ??= defaultsOf(FLAGS);
  const v: ExporterValues = { ...exporterDefaults, ...definedOnly(values) };
  const flags: Flags = {
    ...(v['config.file'] === undefined ? {} : { configFile: v['config.file'] }),
    listen: v['web.listen-address'],
    web: {
      ...(v['web.config.file'] === undefined ? {} : { configFile: v['web.config.file'] }),
      enableLifecycle: v['web.enable-lifecycle'],
    },
    probe: {
      intervalMs: v['probe.interval'],
      timeoutMs: v['probe.timeout'],
      concurrency: v['probe.concurrency'],
      ...(v['probe.workers'] === undefined ? {} : { workers: v['probe.workers'] }),
      mainThreadRate: v['probe.main-thread-rate'],
      icmp: v['probe.icmp'],
    },
    logLevel: v['log.level'],
    vantage: v.vantage,
    meshPeers: v['mesh.peers'],
    shard: v.shard,
    discovery: {
      mode: v.discovery,
      ...(v.kubeconfig === undefined ? {} : { kubeconfig: v.kubeconfig }),
      namespaces: v['discovery.namespaces'] ?? [],
    },
    showHelp: v.help,
    showVersion: v.version,
    checkConfig: v['config.check'],
  };
  checkTogether(flags, given);
  return flags;
}

function definedOnly<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(values).filter(([, value]) => value !== undefined),
  ) as Partial<T>;
}

/**
 * Parses the exporter's argv (without the node and script paths). Throws ConfigError
 * FLAG_INVALID on an unknown flag, a missing or bad value, or an argument that is not
 * a flag (commands are routed before this, in cli/).
 */
export function parseFlags(argv: readonly string[]): Flags {
  const { values, given, positionals } = parseTable(FLAGS, argv);
  const [first] = positionals;
  if (first !== undefined) throw flagError(`unexpected argument ${showValue(first)}`);
  return flagsFrom(values, given);
}

/** Rules between flags, checked once each flag is valid on its own. */
function checkTogether(flags: Flags, given: ReadonlySet<string>): void {
  const { intervalMs, timeoutMs } = flags.probe;
  if (timeoutMs >= intervalMs) {
    // A probe still running when the next pass starts would pile up.
    const shown = showValue(formatDuration(timeoutMs));
    const origin = given.has('probe.timeout') ? '' : ' (the default)';
    throw flagError(
      `--probe.timeout: expected less than --probe.interval (${formatDuration(intervalMs)}), got ${shown}${origin}`,
    );
  }
}
