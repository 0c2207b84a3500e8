/**
 * Command-line flags. One table (FLAGS) says every flag's name, value, default and
 * help; parsing, defaults and `--help` all come from it, so a new flag is one entry
 * there plus the line in `toFlags` that puts its value where the program reads it.
 */
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { ROLES, type Role } from '../catalog/types.js';
import {
  FIREWALL_FORMATS,
  type FirewallFormat,
  OUTPUT_FORMATS,
  type OutputFormat,
} from '../cli/formats.js';
import { DISCOVERY_MODES, type DiscoveryMode } from '../discovery/kubernetes/kubeconfig.js';
import { parseShard, type Shard } from '../targets/spread.js';
import { LOG_LEVELS, type LogLevel } from '../util/log.js';
import { LISTEN_ADDRESS_EXPECTED, type ListenAddress, parseListenAddress } from './address.js';
import { DURATION_EXPECTED, formatDuration, parseDuration } from './duration.js';
import { ConfigError, showValue } from './errors.js';

/** The one-shot commands; without one the program runs the exporter. */
export const COMMANDS = {
  check: 'Probe every target once, print the results, and fail if a required port is closed.',
  preflight: "Before installing iManager: are this node's ports free and open to its peers?",
  catalog: 'Print the port catalog with the configuration applied.',
  firewall: 'Print firewall rules that open the ports a node needs.',
} as const;
export type Command = keyof typeof COMMANDS;

export const ICMP_MODES = ['auto', 'on', 'off'] as const;
export type IcmpMode = (typeof ICMP_MODES)[number];

/** A flag value that does not parse; `expected` completes `--flag: expected ..., got ...`. */
class BadValue extends Error {
  constructor(readonly expected: string) {
    super(expected);
  }
}

interface ValueFlag<T, D extends string | undefined> {
  readonly kind: 'value';
  /** Set on the flags of one-shot commands: the commands that take it; no command, no flag. */
  readonly commands?: readonly Command[];
  /** What the value is, in help: `--probe.interval=DURATION`. */
  readonly placeholder: string;
  /** Written as a user would type it and parsed like user input, so help shows it verbatim. */
  readonly default: D;
  readonly help: string;
  /** Throws BadValue when the text is not a valid value. */
  readonly parse: (text: string) => T;
}

interface SwitchFlag {
  readonly kind: 'switch';
  readonly commands?: readonly Command[];
  readonly short?: string;
  readonly help: string;
}

function valueFlag<T, const D extends string | undefined = undefined>(definition: {
  readonly commands?: readonly Command[];
  readonly placeholder: string;
  readonly default?: D;
  readonly help: string;
  readonly parse: (text: string) => T;
}): ValueFlag<T, D> {
  return { kind: 'value', ...definition, default: definition.default as D };
}

function switchFlag(definition: { readonly short?: string; readonly help: string }): SwitchFlag {
  return { kind: 'switch', ...definition };
}

function duration(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new BadValue(DURATION_EXPECTED);
  if (ms > MAX_DURATION_MS)
    throw new BadValue(`a duration of at most ${formatDuration(MAX_DURATION_MS)}`);
  return ms;
}
// Node timers overflow past 2^31-1 ms (about 24.8 days) and then fire at once.
const MAX_DURATION_MS = 24 * 24 * 60 * 60 * 1000;

function integer(min: number, max: number) {
  return (text: string): number => {
    const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!(value >= min && value <= max)) throw new BadValue(`an integer ${min}-${max}`);
    return value;
  };
}

function oneOf<const T extends string>(choices: readonly T[]) {
  return (text: string): T => {
    if (!(choices as readonly string[]).includes(text))
      throw new BadValue(`one of ${choices.join(', ')}`);
    return text as T;
  };
}

// Namespaces are DNS labels: lowercase letters, digits and hyphens, at most 63.
const NAMESPACE = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;

function namespaceList(text: string): string[] {
  if (text.trim() === '') return [];
  const names = text.split(',').map((name) => name.trim());
  if (!names.every((name) => NAMESPACE.test(name))) {
    throw new BadValue('a comma-separated list of namespace names');
  }
  return [...new Set(names)];
}

function listenAddress(text: string): ListenAddress {
  const address = parseListenAddress(text);
  if (!address) throw new BadValue(LISTEN_ADDRESS_EXPECTED);
  return address;
}

function filePath(text: string): string {
  if (text === '') throw new BadValue('a file path');
  return text;
}

// Kubernetes node names are DNS subdomains: lowercase labels joined by dots.
const NODE_NAME = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;

function vantage(text: string): string {
  if (text === 'central' || text === 'external' || text === 'node') return text;
  if (text.length <= 253 && NODE_NAME.test(text)) return text;
  throw new BadValue('central, external, node, or the name of the node probing from');
}

function shard(text: string): Shard {
  const parsed = parseShard(text);
  if (!parsed) throw new BadValue('i/N with 0 <= i < N, such as 0/3');
  return parsed;
}

function roleList(text: string): Role[] {
  const names = text.split(',').map((name) => name.trim());
  if (!names.every((name) => (ROLES as readonly string[]).includes(name))) {
    throw new BadValue(`a comma-separated list of roles, each one of ${ROLES.join(', ')}`);
  }
  return [...new Set(names as Role[])];
}

/** `10.0.0.0/16` or `fd00::/64`: kept as written, the firewalls read it themselves. */
function cidr(text: string): string {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(text);
  const family = match ? isIP(match[1] ?? '') : 0;
  const bits = Number(match?.[2]);
  if (family === 0 || bits > (family === 4 ? 32 : 128)) {
    throw new BadValue('a network such as 10.0.0.0/16 or fd00::/64');
  }
  return text;
}

/** Every flag; the order here is the order in `--help`. */
export const FLAGS = {
  'config.file': valueFlag({
    placeholder: 'FILE',
    help: 'YAML file: static nodes, port overrides, custom ports. Without one, this machine is probed.',
    parse: filePath,
  }),
  'config.check': switchFlag({
    help: 'Check the flags and every file they name (config, web config, kubeconfig), print the result, and exit 0 or 2 without starting.',
  }),
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
    help: 'Worker threads that run the TCP probes (0-64). Default 0: on the main thread. Threads reach more probes a second on more cores, and keep connect times clear of scrapes and re-plans.',
    parse: integer(0, 64),
  }),
  'probe.icmp': valueFlag({
    placeholder: 'MODE',
    default: 'auto',
    help: 'ICMP echo to each node: auto (when permitted), on (fail if not permitted), off.',
    parse: oneOf(ICMP_MODES),
  }),
  'log.level': valueFlag({
    placeholder: 'LEVEL',
    default: 'info',
    help: `Lowest level logged: ${LOG_LEVELS.join(', ')}.`,
    parse: oneOf<LogLevel>(LOG_LEVELS),
  }),
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
  output: valueFlag({
    commands: ['check', 'preflight', 'catalog'],
    placeholder: 'FORMAT',
    default: 'table',
    help: `How check, preflight and catalog print: ${OUTPUT_FORMATS.join(', ')}.`,
    parse: oneOf<OutputFormat>(OUTPUT_FORMATS),
  }),
  roles: valueFlag({
    commands: ['preflight', 'firewall', 'catalog'],
    placeholder: 'ROLES',
    help: `This node's roles, comma-separated (${ROLES.join(', ')}): the ports preflight tests and firewall opens; catalog shows only theirs.`,
    parse: roleList,
  }),
  role: valueFlag({
    commands: ['preflight', 'firewall', 'catalog'],
    placeholder: 'ROLE',
    help: 'Same as --roles.',
    parse: roleList,
  }),
  listen: valueFlag({
    commands: ['preflight'],
    placeholder: 'DURATION',
    help: 'preflight: then hold the free ports open this long, so check from another node can test the path.',
    parse: duration,
  }),
  format: valueFlag({
    commands: ['firewall'],
    placeholder: 'FIREWALL',
    help: `firewall: whose commands to print: ${FIREWALL_FORMATS.join(', ')}.`,
    parse: oneOf<FirewallFormat>(FIREWALL_FORMATS),
  }),
  source: valueFlag({
    commands: ['firewall'],
    placeholder: 'CIDR',
    help: "firewall: open the internal ports only to this network (the nodes' subnet); external ports stay open to all.",
    parse: cidr,
  }),
  help: switchFlag({ short: 'h', help: 'Show this help and exit.' }),
  version: switchFlag({ help: 'Show the version and exit.' }),
} as const;

type FlagName = keyof typeof FLAGS;
type ValueOf<F> =
  F extends ValueFlag<infer T, infer D> ? (D extends string ? T : T | undefined) : boolean;
type FlagValues = { readonly [K in FlagName]: ValueOf<(typeof FLAGS)[K]> };

/** The flags, parsed and checked, in the shape the program reads them. */
export interface Flags {
  readonly command?: Command;
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
    /** `--probe.workers`; absent: 0, probes on the main thread. */
    readonly workers?: number;
    readonly icmp: IcmpMode;
  };
  readonly logLevel: LogLevel;
  readonly vantage: string;
  readonly meshPeers: number;
  readonly shard: Shard;
  readonly discovery: {
    readonly mode: DiscoveryMode;
    readonly kubeconfig?: string;
    readonly namespaces: readonly string[];
  };
  readonly showHelp: boolean;
  readonly showVersion: boolean;
  /** `--config.check`: load and check every file, then exit without starting. */
  readonly checkConfig: boolean;
  /** The flags of the one-shot commands; present when a command was given. */
  readonly commandFlags?: CommandFlags;
}

/** What the one-shot commands read besides the exporter's flags. */
export interface CommandFlags {
  readonly output: OutputFormat;
  /** `--roles` (or `--role`); the parser requires it for preflight and firewall. */
  readonly roles?: readonly Role[];
  /** `--listen`: how long preflight holds the free ports open. */
  readonly listenMs?: number;
  /** `--format`; the parser requires it for firewall. */
  readonly firewallFormat?: FirewallFormat;
  /** `--source`: the network internal ports are opened to. */
  readonly source?: string;
}

function toCommandFlags(v: FlagValues): CommandFlags {
  const roles = v.roles ?? v.role;
  return {
    output: v.output,
    ...(roles === undefined ? {} : { roles }),
    ...(v.listen === undefined ? {} : { listenMs: v.listen }),
    ...(v.format === undefined ? {} : { firewallFormat: v.format }),
    ...(v.source === undefined ? {} : { source: v.source }),
  };
}

function toFlags(command: Command | undefined, v: FlagValues): Flags {
  return {
    ...(command === undefined ? {} : { command }),
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
    ...(command === undefined ? {} : { commandFlags: toCommandFlags(v) }),
  };
}

const NAMES = Object.keys(FLAGS) as FlagName[];

function flagError(message: string, cause?: unknown): ConfigError {
  return new ConfigError('FLAG_INVALID', message, { cause });
}

/**
 * Parses argv (without the node and script paths). Throws ConfigError with code
 * FLAG_INVALID on an unknown flag, a missing or bad value, or an unknown command.
 */
export function parseFlags(argv: readonly string[]): Flags {
  const options = Object.fromEntries(
    NAMES.map((name) => {
      const flag: ValueFlag<unknown, string | undefined> | SwitchFlag = FLAGS[name];
      if (flag.kind === 'value') return [name, { type: 'string' }];
      return [name, flag.short ? { type: 'boolean', short: flag.short } : { type: 'boolean' }];
    }),
  ) as Record<string, { type: 'string' | 'boolean'; short?: string }>;

  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options,
      strict: true,
      allowPositionals: true,
      tokens: true,
    });
  } catch (error) {
    throw flagError(diagnose(argv, options) ?? firstLine(error), error);
  }
  checkGivenOnce(parsed.tokens ?? []);

  const given = parsed.values as Record<string, string | boolean | undefined>;
  const values: Record<string, unknown> = {};
  for (const name of NAMES) {
    const flag: ValueFlag<unknown, string | undefined> | SwitchFlag = FLAGS[name];
    const raw = given[name];
    if (flag.kind === 'switch') {
      values[name] = raw === true;
      continue;
    }
    const text = typeof raw === 'string' ? raw : flag.default;
    if (text === undefined) continue;
    try {
      values[name] = flag.parse(text);
    } catch (error) {
      if (!(error instanceof BadValue)) throw error;
      const origin = typeof raw === 'string' ? '' : ' (the default)';
      throw flagError(`--${name}: expected ${error.expected}, got ${showValue(text)}${origin}`);
    }
  }

  const command = parseCommand(parsed.positionals);
  const flags = toFlags(command, values as FlagValues);
  checkTogether(flags, given);
  checkCommandFlags(command, given);
  return flags;
}

/**
 * parseArgs keeps the last of a repeated value flag; a flag given twice is more likely
 * a mistake (a copied command line, a chart value beside an extra arg) than a wish.
 */
function checkGivenOnce(tokens: NonNullable<ReturnType<typeof parseArgs>['tokens']>): void {
  const seen = new Map<string, string | undefined>();
  for (const token of tokens) {
    if (token.kind !== 'option' || FLAGS[token.name as FlagName]?.kind !== 'value') continue;
    if (seen.has(token.name)) {
      const first = showValue(seen.get(token.name) ?? '');
      throw flagError(
        `--${token.name}: expected once, got it twice (${first}, then ${showValue(token.value ?? '')})`,
      );
    }
    seen.set(token.name, token.value);
  }
}

function parseCommand(positionals: readonly string[]): Command | undefined {
  const [first, second] = positionals;
  if (first === undefined) return undefined;
  if (!Object.hasOwn(COMMANDS, first)) {
    const known = Object.keys(COMMANDS).join(', ');
    throw flagError(`command: expected one of ${known}, got ${showValue(first)}`);
  }
  if (second !== undefined) throw flagError(`unexpected argument ${showValue(second)}`);
  return first as Command;
}

/** Rules between flags, checked once each flag is valid on its own. */
function checkTogether(flags: Flags, given: Record<string, unknown>): void {
  const { intervalMs, timeoutMs } = flags.probe;
  if (timeoutMs >= intervalMs) {
    // A probe still running when the next pass starts would pile up.
    const shown = showValue(formatDuration(timeoutMs));
    const origin = typeof given['probe.timeout'] === 'string' ? '' : ' (the default)';
    throw flagError(
      `--probe.timeout: expected less than --probe.interval (${formatDuration(intervalMs)}), got ${shown}${origin}`,
    );
  }
}

/** What each command cannot do without, as the text after `expected`. */
const REQUIRED_BY: Readonly<Partial<Record<Command, Readonly<Record<string, string>>>>> = {
  preflight: { roles: `this node's roles for preflight, such as --roles=control-plane,etcd` },
  firewall: {
    roles: `the node's roles for firewall, such as --roles=worker`,
    format: `the firewall for firewall, one of ${FIREWALL_FORMATS.join(', ')}`,
  },
};

/**
 * A command's flag given without that command would be ignored without a word, and
 * the exporter would start instead of the command the user meant: say so.
 */
function checkCommandFlags(command: Command | undefined, given: Record<string, unknown>): void {
  for (const name of NAMES) {
    const flag: ValueFlag<unknown, string | undefined> | SwitchFlag = FLAGS[name];
    if (flag.commands === undefined || given[name] === undefined) continue;
    if (command === undefined || !flag.commands.includes(command)) {
      const takers = flag.commands.join(', ');
      const got = command === undefined ? 'no command' : `the ${command} command`;
      throw flagError(
        `--${name}: only for the command${flag.commands.length > 1 ? 's' : ''} ${takers}, got ${got}`,
      );
    }
  }
  if (given.roles !== undefined && given.role !== undefined) {
    throw flagError('--role: same as --roles, expected one of the two, got both');
  }
  const required = command === undefined ? undefined : REQUIRED_BY[command];
  for (const [name, expected] of Object.entries(required ?? {})) {
    const present = given[name] !== undefined || (name === 'roles' && given.role !== undefined);
    if (!present) throw flagError(`--${name}: expected ${expected}, got nothing`);
  }
}

/**
 * parseArgs' own messages are several lines and suggest `--` quoting; re-read the
 * arguments leniently to say in one line which flag is wrong.
 */
function diagnose(
  argv: readonly string[],
  options: Record<string, { type: 'string' | 'boolean'; short?: string }>,
): string | undefined {
  const { tokens } = parseArgs({
    args: [...argv],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const option = Object.hasOwn(options, token.name) ? options[token.name] : undefined;
    if (!option) return `unknown flag ${token.rawName}`;
    if (option.type === 'string') {
      if (token.value === undefined || (!token.inlineValue && token.value.startsWith('-')))
        return `${token.rawName}: expected a value, got nothing`;
    } else if (token.value !== undefined) {
      return `${token.rawName}: expected no value, got ${showValue(token.value)}`;
    }
  }
  return undefined;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}

/** `--help` text, every line from FLAGS and COMMANDS. */
export function helpText(program = 'imanager-port-exporter'): string {
  const commandWidth = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const commands = Object.entries(COMMANDS).map(
    ([name, help]) => `  ${name.padEnd(commandWidth)}  ${help}`,
  );
  const row = (name: FlagName) => {
    const flag: ValueFlag<unknown, string | undefined> | SwitchFlag = FLAGS[name];
    if (flag.kind === 'switch') {
      const left = flag.short ? `-${flag.short}, --${name}` : `    --${name}`;
      return [left, flag.help] as const;
    }
    // A no-break space keeps `(default: X)` on one line when the help wraps.
    const suffix = flag.default === undefined ? '' : ` (default:\u00a0${flag.default})`;
    return [`    --${name}=${flag.placeholder}`, `${flag.help}${suffix}`] as const;
  };
  const isCommandFlag = (name: FlagName) => FLAGS[name].commands !== undefined;
  const rows = NAMES.filter((name) => !isCommandFlag(name)).map(row);
  const commandRows = NAMES.filter(isCommandFlag).map(row);
  const flagWidth = Math.max(...[...rows, ...commandRows].map(([left]) => left.length));
  const indent = ' '.repeat(flagWidth + 4);
  return [
    `Usage: ${program} [COMMAND] [FLAGS]`,
    '',
    'Probes the TCP ports SuperMap iManager needs on every node, and every NodePort,',
    'and exports the results as Prometheus metrics.',
    '',
    'Commands (without one, the exporter runs until stopped):',
    ...commands,
    '',
    'Flags:',
    ...rows.map(([left, help]) => wrap(`  ${left.padEnd(flagWidth)}  ${help}`, indent)),
    '',
    'Flags of the commands (check also reads the probe, discovery and vantage flags):',
    ...commandRows.map(([left, help]) => wrap(`  ${left.padEnd(flagWidth)}  ${help}`, indent)),
    '',
  ].join('\n');
}

const HELP_WIDTH = 100;

/** Breaks a long help line at spaces; continuation lines start at `indent`. */
function wrap(line: string, indent: string): string {
  const lines: string[] = [];
  let rest = line;
  while (rest.length > HELP_WIDTH) {
    const cut = rest.lastIndexOf(' ', HELP_WIDTH);
    if (cut <= indent.length) break;
    lines.push(rest.slice(0, cut));
    rest = indent + rest.slice(cut + 1);
  }
  lines.push(rest);
  return lines.join('\n').replaceAll('\u00a0', ' ');
}
