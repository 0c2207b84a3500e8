/**
 * What the network test bed (testbed.ts) is, as data: its hosts, what answers on
 * every port, the addresses no host has, the names, and for every target what a plain
 * blocking connect() gets, what nmap says and what our classification should say.
 * Pure: nothing here touches the network, so the table and the texts built from it
 * (nft rules, /etc/hosts, dnsmasq's records, the exporter's config) are checked
 * without root.
 *
 * The errnos follow the kernel's own tables: net/ipv4/icmp.c icmp_err_convert,
 * net/ipv6/icmp.c tab_unreach, and nft's icmpx mapping (net/netfilter/nft_reject.c);
 * test/e2e/testbed.test.ts measures every one of them against a real connect() and
 * nmap. The states follow src/probe/states.ts PROBE_CAUSES: an ICMP reject from a host
 * that is up is `rejected`, port unreachable and a TCP reset are `refused`, a dead
 * address and a missing route are `unreachable`.
 */
import { isIP } from 'node:net';
import { stringify } from 'yaml';
import { CATALOG } from '../../src/catalog/ports.js';
import type { Role } from '../../src/catalog/types.js';
import type { ProbeState } from '../../src/probe/types.js';

export type Family = 4 | 6;

/** What a plain blocking connect() ends with: connected, no answer, or the errno's name. */
export type ConnectOutcome =
  | 'connected'
  | 'timeout'
  | 'ECONNREFUSED'
  | 'EHOSTUNREACH'
  | 'ENETUNREACH'
  | 'EACCES'
  | 'ENOPROTOOPT';

export type NmapState = 'open' | 'closed' | 'filtered';

/** What one family of a port kind gives. */
export interface Outcome {
  readonly connect: ConnectOutcome;
  readonly state: ProbeState;
  readonly nmap: NmapState;
}

/** `reject with icmp type X`: every IPv4 code nftables offers but frag-needed (see below). */
export const ICMP_REJECTS = [
  'net-unreachable',
  'host-unreachable',
  'prot-unreachable',
  'port-unreachable',
  'net-prohibited',
  'host-prohibited',
  'admin-prohibited',
] as const;
/** `reject with icmpv6 type X`: every code nftables offers. */
export const ICMPV6_REJECTS = [
  'no-route',
  'admin-prohibited',
  'addr-unreachable',
  'port-unreachable',
  'policy-fail',
  'reject-route',
] as const;
/** `reject with icmpx type X` (inet tables, as firewalld writes them): every code. */
export const ICMPX_REJECTS = [
  'admin-prohibited',
  'host-unreachable',
  'no-route',
  'port-unreachable',
] as const;
/**
 * nftables also offers `icmp type frag-needed`, which no firewall uses as a reject:
 * Linux takes it as a path-MTU message (tcp_v4_err), not as an error for connect().
 */
export const NOT_A_REJECT = ['frag-needed'] as const;

export type PortKindId =
  | 'open'
  | 'refused'
  | 'drop'
  | 'full-queue'
  | 'tcp-reset'
  | `icmp ${(typeof ICMP_REJECTS)[number]}`
  | `icmpv6 ${(typeof ICMPV6_REJECTS)[number]}`
  | `icmpx ${(typeof ICMPX_REJECTS)[number]}`;

/** What answers on a port of a host, and how the bed makes it so. */
export interface PortKind {
  readonly id: PortKindId;
  /** The nft statement after the address and port match; absent when no rule makes it. */
  readonly rule?: string;
  /** The nft table family the rule goes in. */
  readonly table?: 'ip' | 'ip6' | 'inet';
  /**
   * What listens behind it: `accepting` behind every rule too, so that a rule that did
   * not load shows as `connected`, never as a refusal that looks like a reject.
   */
  readonly listener: 'accepting' | 'full-queue' | 'none';
  /** True when the answer is an ICMP error from the host, which its kernel rate-limits. */
  readonly icmp: boolean;
  /** By family; a kind that exists for one family only has one entry. */
  readonly outcomes: Readonly<Partial<Record<Family, Outcome>>>;
}

const outcome = (connect: ConnectOutcome, state: ProbeState, nmap: NmapState): Outcome => ({
  connect,
  state,
  nmap,
});
const both = (o: Outcome) => ({ 4: o, 6: o });
const CONNECTED = outcome('connected', 'open', 'open');
const REFUSED = outcome('ECONNREFUSED', 'refused', 'closed');
const SILENT = outcome('timeout', 'timeout', 'filtered');
// Every host of the bed is up (it answers ICMP echo, and other ports), so an ICMP
// "unreachable" from it is a firewall's reject, not a dead host.
const REJECTED = (connect: ConnectOutcome) => outcome(connect, 'rejected', 'filtered');

function icmpKind(
  family: 'icmp' | 'icmpv6' | 'icmpx',
  type: string,
  outcomes: PortKind['outcomes'],
): PortKind {
  return {
    id: `${family} ${type}` as PortKindId,
    rule: `reject with ${family} type ${type}`,
    table: family === 'icmp' ? 'ip' : family === 'icmpv6' ? 'ip6' : 'inet',
    listener: 'accepting',
    icmp: true,
    outcomes,
  };
}

const ICMP_ERRNO: Readonly<Record<(typeof ICMP_REJECTS)[number], ConnectOutcome>> = {
  'net-unreachable': 'ENETUNREACH',
  'host-unreachable': 'EHOSTUNREACH',
  'prot-unreachable': 'ENOPROTOOPT',
  'port-unreachable': 'ECONNREFUSED',
  'net-prohibited': 'ENETUNREACH',
  'host-prohibited': 'EHOSTUNREACH',
  'admin-prohibited': 'EHOSTUNREACH',
};
const ICMPV6_ERRNO: Readonly<Record<(typeof ICMPV6_REJECTS)[number], ConnectOutcome>> = {
  'no-route': 'ENETUNREACH',
  'admin-prohibited': 'EACCES',
  'addr-unreachable': 'EHOSTUNREACH',
  'port-unreachable': 'ECONNREFUSED',
  'policy-fail': 'EACCES',
  'reject-route': 'EACCES',
};
// nft_reject.c: no-route is net-unreachable / no-route, host-unreachable is
// host-unreachable / addr-unreachable, admin-prohibited is admin-prohibited (code 13) /
// admin-prohibited.
const ICMPX_ERRNO: Readonly<
  Record<(typeof ICMPX_REJECTS)[number], Readonly<Record<Family, ConnectOutcome>>>
> = {
  'admin-prohibited': { 4: 'EHOSTUNREACH', 6: 'EACCES' },
  'host-unreachable': { 4: 'EHOSTUNREACH', 6: 'EHOSTUNREACH' },
  'no-route': { 4: 'ENETUNREACH', 6: 'ENETUNREACH' },
  'port-unreachable': { 4: 'ECONNREFUSED', 6: 'ECONNREFUSED' },
};

const rejectOutcome = (connect: ConnectOutcome) =>
  connect === 'ECONNREFUSED' ? REFUSED : REJECTED(connect);

/** Every port kind of the bed. */
export const PORT_KINDS: readonly PortKind[] = [
  { id: 'open', listener: 'accepting', icmp: false, outcomes: both(CONNECTED) },
  { id: 'refused', listener: 'none', icmp: false, outcomes: both(REFUSED) },
  {
    id: 'drop',
    rule: 'drop',
    table: 'inet',
    listener: 'accepting',
    icmp: false,
    outcomes: both(SILENT),
  },
  { id: 'full-queue', listener: 'full-queue', icmp: false, outcomes: both(SILENT) },
  {
    id: 'tcp-reset',
    rule: 'reject with tcp reset',
    table: 'inet',
    listener: 'accepting',
    icmp: false,
    outcomes: both(REFUSED),
  },
  ...ICMP_REJECTS.map((type) => icmpKind('icmp', type, { 4: rejectOutcome(ICMP_ERRNO[type]) })),
  ...ICMPV6_REJECTS.map((type) =>
    icmpKind('icmpv6', type, { 6: rejectOutcome(ICMPV6_ERRNO[type]) }),
  ),
  ...ICMPX_REJECTS.map((type) =>
    icmpKind('icmpx', type, {
      4: rejectOutcome(ICMPX_ERRNO[type][4]),
      6: rejectOutcome(ICMPX_ERRNO[type][6]),
    }),
  ),
];

const KIND_BY_ID = new Map(PORT_KINDS.map((kind) => [kind.id, kind]));

export function portKind(id: PortKindId): PortKind {
  const kind = KIND_BY_ID.get(id);
  if (!kind) throw new Error(`testbed: no port kind ${id}`);
  return kind;
}

/** Why an address that no host has fails, and how the vantage makes it fail so. */
export interface AddressCondition {
  readonly id: 'dead' | 'no-route' | 'unreachable-route' | 'prohibit-route';
  readonly ip: string;
  readonly family: Family;
  /** In words, for the printed table. */
  readonly condition: string;
  /** The route the vantage gets for it (`ip route add TYPE PREFIX`), when one is needed. */
  readonly route?: { readonly type: 'unreachable' | 'prohibit'; readonly prefix: string };
  readonly outcome: Outcome;
}

export const SUBNET4 = { prefix: '198.18.0.0/24', length: 24 } as const;
export const SUBNET6 = { prefix: 'fd00:7e57::/64', length: 64 } as const;

/** The vantage's addresses; `secondIpv4` is a source whose ICMP rate-limit buckets are its own. */
export const VANTAGE = {
  ipv4: '198.18.0.1',
  secondIpv4: '198.18.0.2',
  ipv6: 'fd00:7e57::1',
} as const;

const DOWN = (connect: ConnectOutcome) => outcome(connect, 'unreachable', 'filtered');

/** Addresses no host has; 198.18.1-3.x and fd00:7e57:1-3:: are never configured anywhere. */
export const ADDRESS_CONDITIONS: readonly AddressCondition[] = [
  {
    id: 'dead',
    ip: '198.18.0.200',
    family: 4,
    condition: 'on the bridge, no host behind it: ARP fails after 3 s',
    outcome: DOWN('EHOSTUNREACH'),
  },
  {
    id: 'dead',
    ip: 'fd00:7e57::200',
    family: 6,
    condition: 'on the bridge, no host behind it: neighbour discovery fails after 3 s',
    outcome: DOWN('EHOSTUNREACH'),
  },
  {
    id: 'no-route',
    ip: '198.18.1.1',
    family: 4,
    condition: 'the vantage has no route to it (and no default route)',
    outcome: DOWN('ENETUNREACH'),
  },
  {
    id: 'no-route',
    ip: 'fd00:7e57:1::1',
    family: 6,
    condition: 'the vantage has no route to it (and no default route)',
    outcome: DOWN('ENETUNREACH'),
  },
  {
    id: 'unreachable-route',
    ip: '198.18.2.1',
    family: 4,
    condition: 'the vantage routes it `unreachable`',
    route: { type: 'unreachable', prefix: '198.18.2.0/24' },
    outcome: DOWN('EHOSTUNREACH'),
  },
  {
    id: 'unreachable-route',
    ip: 'fd00:7e57:2::1',
    family: 6,
    condition: 'the vantage routes it `unreachable`',
    route: { type: 'unreachable', prefix: 'fd00:7e57:2::/64' },
    outcome: DOWN('EHOSTUNREACH'),
  },
  {
    id: 'prohibit-route',
    ip: '198.18.3.1',
    family: 4,
    condition: 'the vantage routes it `prohibit`',
    route: { type: 'prohibit', prefix: '198.18.3.0/24' },
    outcome: outcome('EACCES', 'rejected', 'filtered'),
  },
  {
    id: 'prohibit-route',
    ip: 'fd00:7e57:3::1',
    family: 6,
    condition: 'the vantage routes it `prohibit`',
    route: { type: 'prohibit', prefix: 'fd00:7e57:3::/64' },
    outcome: outcome('EACCES', 'rejected', 'filtered'),
  },
];

/**
 * Which ports the exporter probes on a node: every node of a group gets every port of
 * its group (custom ports by role). `worker` nodes get 7000-7004; the one `registry`
 * node gets 7000-7013, 13 of them rejected, so the kernel's ICMP rate limit matters.
 */
export const PORT_GROUPS: Readonly<Record<'worker' | 'registry', readonly number[]>> = {
  worker: [7000, 7001, 7002, 7003, 7004],
  registry: Array.from({ length: 14 }, (_, i) => 7000 + i),
};
export type PortGroup = keyof typeof PORT_GROUPS;

/** One network namespace on the bridge, and what answers on its ports. */
export interface HostLayout {
  readonly name: string;
  readonly ipv4?: string;
  readonly ipv6?: string;
  readonly group: PortGroup;
  /** Port -> kind, by family; a port of its group not listed refuses (nothing listens). */
  readonly ports: Readonly<Partial<Record<Family, Readonly<Record<number, PortKindId>>>>>;
}

const sameOnBoth = (ports: Readonly<Record<number, PortKindId>>) => ({ 4: ports, 6: ports });

/** The hosts. `resolver` runs the bed's DNS server and is no target. */
export const HOSTS: readonly HostLayout[] = [
  {
    name: 'basic',
    ipv4: '198.18.0.10',
    ipv6: 'fd00:7e57::10',
    group: 'worker',
    ports: sameOnBoth({
      7000: 'open',
      7001: 'refused',
      7002: 'drop',
      7003: 'tcp-reset',
      7004: 'full-queue',
    }),
  },
  {
    name: 'reject-a',
    ipv4: '198.18.0.11',
    ipv6: 'fd00:7e57::11',
    group: 'worker',
    ports: {
      4: {
        7000: 'open',
        7001: 'icmp net-unreachable',
        7002: 'icmp host-unreachable',
        7003: 'icmp prot-unreachable',
        7004: 'icmp port-unreachable',
      },
      6: {
        7000: 'open',
        7001: 'icmpv6 no-route',
        7002: 'icmpv6 admin-prohibited',
        7003: 'icmpv6 addr-unreachable',
        7004: 'icmpv6 port-unreachable',
      },
    },
  },
  {
    name: 'reject-b',
    ipv4: '198.18.0.12',
    ipv6: 'fd00:7e57::12',
    group: 'worker',
    ports: {
      4: {
        7000: 'open',
        7001: 'icmp net-prohibited',
        7002: 'icmp host-prohibited',
        7003: 'icmp admin-prohibited',
      },
      6: { 7000: 'open', 7001: 'icmpv6 policy-fail', 7002: 'icmpv6 reject-route' },
    },
  },
  {
    name: 'firewalld',
    ipv4: '198.18.0.13',
    ipv6: 'fd00:7e57::13',
    group: 'worker',
    ports: sameOnBoth({
      7000: 'open',
      7001: 'icmpx admin-prohibited',
      7002: 'icmpx host-unreachable',
      7003: 'icmpx no-route',
      7004: 'icmpx port-unreachable',
    }),
  },
  {
    // Reached by a dual-stack name: open on IPv4, every port dropped on IPv6, as when
    // the IPv6 firewall was forgotten. Probing one family only cannot get both right.
    name: 'dual',
    ipv4: '198.18.0.14',
    ipv6: 'fd00:7e57::14',
    group: 'worker',
    ports: {
      4: { 7000: 'open', 7001: 'open', 7002: 'open', 7003: 'open', 7004: 'open' },
      6: { 7000: 'drop', 7001: 'drop', 7002: 'drop', 7003: 'drop', 7004: 'drop' },
    },
  },
  {
    // IPv6 only, reached by a name with an AAAA record alone.
    name: 'single',
    ipv6: 'fd00:7e57::15',
    group: 'worker',
    ports: { 6: { 7000: 'open' } },
  },
  {
    // Behind the names that only DNS knows.
    name: 'named',
    ipv4: '198.18.0.16',
    ipv6: 'fd00:7e57::16',
    group: 'worker',
    ports: sameOnBoth({ 7000: 'open' }),
  },
  {
    // firewalld-like: one open port, every other one rejected admin-prohibited.
    name: 'ratelimit',
    ipv4: '198.18.0.17',
    ipv6: 'fd00:7e57::17',
    group: 'registry',
    ports: sameOnBoth(
      Object.fromEntries(
        PORT_GROUPS.registry.map((port) => [
          port,
          port === 7000 ? 'open' : 'icmpx admin-prohibited',
        ]),
      ) as Record<number, PortKindId>,
    ),
  },
  { name: 'resolver', ipv4: '198.18.0.53', ipv6: 'fd00:7e57::53', group: 'worker', ports: {} },
];

export const RESOLVER_HOST = 'resolver';
export const NAME_DOMAIN = 'bed.test';

/** Names in the vantage's /etc/hosts: they resolve without any resolver. */
export const HOSTS_FILE_NAMES: Readonly<Record<string, readonly string[]>> = {
  [`dual.${NAME_DOMAIN}`]: ['198.18.0.14', 'fd00:7e57::14'],
  [`single.${NAME_DOMAIN}`]: ['fd00:7e57::15'],
};

/** The DNS-only names: `dns-1.bed.test` ... `dns-N.bed.test`, A and AAAA of host `named`. */
export function dnsNames(count: number): Record<string, readonly string[]> {
  const named = HOSTS.find((host) => host.name === 'named') as HostLayout;
  const addresses = [named.ipv4, named.ipv6].filter((ip): ip is string => ip !== undefined);
  return Object.fromEntries(
    Array.from({ length: count }, (_, i) => [`dns-${i + 1}.${NAME_DOMAIN}`, addresses]),
  );
}

/** How `address` became `ip`. */
export type Resolution = 'literal' | 'hosts-file' | 'dns';

/** A node as the exporter's config names it: one configured address. */
export interface BedNode {
  /** The node's name in the config, and on the `node` label. */
  readonly name: string;
  /** As configured: an IP literal or a name. */
  readonly address: string;
  readonly resolution: Resolution;
  /** What the address resolves to, in the bed. */
  readonly ips: readonly string[];
  readonly group: PortGroup;
}

/** One (address, IP, port) the exporter probes, and what every reference should see there. */
export interface BedTarget {
  /** `NODE IP:PORT`, unique. */
  readonly id: string;
  readonly node: string;
  readonly address: string;
  readonly resolution: Resolution;
  /** The IP literal probed. */
  readonly ip: string;
  readonly family: Family;
  readonly port: number;
  /** The bed host behind the IP; undefined for an address no host has. */
  readonly host: string | undefined;
  /** The port kind or address condition: `icmpx admin-prohibited`, `dead`, ... */
  readonly kind: string;
  /** The nft rule that makes it, or the condition in words. */
  readonly condition: string;
  /** What a plain blocking connect() from the vantage ends with. */
  readonly connect: ConnectOutcome;
  /**
   * The state our classification should give. For `dns` targets this holds while the
   * resolver answers; while it drops queries they read `error` (the name does not resolve).
   */
  readonly state: ProbeState;
  readonly nmap: NmapState;
  /** True when the answer is an ICMP error from the host: its kernel rate-limits them. */
  readonly icmp: boolean;
  /** The host is up: it answers ICMP echo and, but for dual's IPv6, some port of this IP. */
  readonly hostUp: boolean;
}

export interface BedLayout {
  readonly hosts: readonly HostLayout[];
  readonly nodes: readonly BedNode[];
  readonly targets: readonly BedTarget[];
  /** Name -> addresses, in the vantage's /etc/hosts. */
  readonly hostsFileNames: Readonly<Record<string, readonly string[]>>;
  /** Name -> addresses, only in the bed's DNS. */
  readonly dnsNames: Readonly<Record<string, readonly string[]>>;
}

export interface LayoutOptions {
  /** How many DNS-only names; default 9. */
  readonly dnsNames?: number;
}

export const DEFAULT_DNS_NAMES = 9;

/** The bed's nodes and targets. */
export function bedLayout(options: LayoutOptions = {}): BedLayout {
  const names = dnsNames(options.dnsNames ?? DEFAULT_DNS_NAMES);
  const nodes: BedNode[] = [];
  const literal = (name: string, ip: string, group: PortGroup) =>
    nodes.push({ name, address: ip, resolution: 'literal', ips: [ip], group });
  for (const host of HOSTS) {
    if (host.name === RESOLVER_HOST || host.name === 'named') continue;
    if (host.name === 'dual' || host.name === 'single') continue;
    if (host.ipv4) literal(`${host.name}-v4`, host.ipv4, host.group);
    if (host.ipv6) literal(`${host.name}-v6`, host.ipv6, host.group);
  }
  for (const [name, ips] of Object.entries(HOSTS_FILE_NAMES)) {
    nodes.push({
      name: name.split('.')[0] as string,
      address: name,
      resolution: 'hosts-file',
      ips,
      group: 'worker',
    });
  }
  for (const condition of ADDRESS_CONDITIONS) {
    literal(`${condition.id}-v${condition.family}`, condition.ip, 'worker');
  }
  for (const [name, ips] of Object.entries(names)) {
    nodes.push({
      name: name.split('.')[0] as string,
      address: name,
      resolution: 'dns',
      ips,
      group: 'worker',
    });
  }
  return {
    hosts: HOSTS,
    nodes,
    targets: nodes.flatMap(targetsOfNode),
    hostsFileNames: HOSTS_FILE_NAMES,
    dnsNames: names,
  };
}

function targetsOfNode(node: BedNode): BedTarget[] {
  return node.ips.flatMap((ip) => PORT_GROUPS[node.group].map((port) => targetAt(node, ip, port)));
}

function targetAt(node: BedNode, ip: string, port: number): BedTarget {
  const family = familyOf(ip);
  const base = {
    id: `${node.name} ${family === 6 ? `[${ip}]` : ip}:${port}`,
    node: node.name,
    address: node.address,
    resolution: node.resolution,
    ip,
    family,
    port,
  };
  const unhosted = ADDRESS_CONDITIONS.find((condition) => condition.ip === ip);
  if (unhosted) {
    return {
      ...base,
      host: undefined,
      kind: unhosted.id,
      condition: unhosted.condition,
      ...unhosted.outcome,
      icmp: false,
      hostUp: false,
    };
  }
  const host = hostOf(ip);
  const kind = portKind(host.ports[family]?.[port] ?? 'refused');
  const result = kind.outcomes[family];
  if (!result) throw new Error(`testbed: ${kind.id} has no IPv${family} form (${host.name})`);
  return {
    ...base,
    host: host.name,
    kind: kind.id,
    condition: kind.rule ?? describeListener(kind),
    ...result,
    icmp: kind.icmp,
    hostUp: true,
  };
}

function describeListener(kind: PortKind): string {
  if (kind.listener === 'full-queue') return 'a listener with backlog 1 that never accepts, full';
  return kind.listener === 'accepting' ? 'a listener' : 'nothing listens';
}

export function familyOf(ip: string): Family {
  const family = isIP(ip);
  if (family === 0) throw new Error(`testbed: not an IP literal: ${ip}`);
  return family as Family;
}

/** The host that has `ip`; throws for an address no host has. */
export function hostOf(ip: string): HostLayout {
  const host = HOSTS.find((candidate) => candidate.ipv4 === ip || candidate.ipv6 === ip);
  if (!host) throw new Error(`testbed: no host has ${ip}`);
  return host;
}

/** The host's nft ruleset: one table per family that has rules, input chain only. */
export function nftScript(host: HostLayout): string {
  const rules = new Map<'ip' | 'ip6' | 'inet', string[]>();
  for (const family of [4, 6] as const) {
    const ip = family === 4 ? host.ipv4 : host.ipv6;
    if (ip === undefined) continue;
    for (const [port, id] of Object.entries(host.ports[family] ?? {})) {
      const kind = portKind(id);
      if (!kind.rule || !kind.table) continue;
      const match = `${family === 4 ? 'ip' : 'ip6'} daddr ${ip} tcp dport ${port}`;
      const list = rules.get(kind.table) ?? [];
      list.push(`    ${match} ${kind.rule}`);
      rules.set(kind.table, list);
    }
  }
  return [...rules]
    .map(
      ([table, lines]) =>
        `table ${table} ipe_testbed {\n  chain input {\n` +
        '    type filter hook input priority filter; policy accept;\n' +
        `${lines.join('\n')}\n  }\n}\n`,
    )
    .join('');
}

/** What the host's listener process (test/fixtures/testbed-host.py) binds. */
export function listenersOf(host: HostLayout): {
  listen: [string, number][];
  fullQueue: [string, number][];
} {
  const listen: [string, number][] = [];
  const fullQueue: [string, number][] = [];
  for (const family of [4, 6] as const) {
    const ip = family === 4 ? host.ipv4 : host.ipv6;
    if (ip === undefined) continue;
    for (const [port, id] of Object.entries(host.ports[family] ?? {})) {
      const { listener } = portKind(id);
      if (listener === 'accepting') listen.push([ip, Number(port)]);
      if (listener === 'full-queue') fullQueue.push([ip, Number(port)]);
    }
  }
  return { listen, fullQueue };
}

/** The vantage's /etc/hosts: localhost, and the bed's host-file names. */
export function hostsFileText(names: Readonly<Record<string, readonly string[]>>): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  for (const [name, ips] of Object.entries(names)) {
    for (const ip of ips) lines.push(`${ip}\t${name}`);
  }
  return `# The test bed's names (test/helpers/testbed.ts)\n${lines.join('\n')}\n`;
}

/** The vantage's /etc/resolv.conf: the bed's resolver only. */
export function resolvConfText(resolverIp: string, options?: string): string {
  const lines = [`nameserver ${resolverIp}`];
  if (options) lines.push(`options ${options}`);
  return `# The test bed's resolver (test/helpers/testbed.ts)\n${lines.join('\n')}\n`;
}

/** dnsmasq as the bed's resolver: the DNS-only names, nothing else, never upstream. */
export function dnsmasqArgs(
  host: HostLayout,
  names: Readonly<Record<string, readonly string[]>>,
): string[] {
  const listen = [host.ipv4, host.ipv6].filter((ip): ip is string => ip !== undefined);
  return [
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-hosts',
    '--no-poll',
    '--bind-interfaces',
    `--listen-address=${listen.join(',')}`,
    '--port=53',
    '--user=root',
    '--pid-file',
    '--log-facility=-',
    // Answers NXDOMAIN for any other name of the domain instead of asking upstream.
    `--local=/${NAME_DOMAIN}/`,
    ...Object.entries(names).map(([name, ips]) => `--host-record=${name},${ips.join(',')}`),
  ];
}

export interface ExporterConfigOptions {
  /** Which nodes to name; default every node. */
  readonly nodes?: (node: BedNode) => boolean;
  /** More top-level sections, written as given (a key the schema gains, such as ipFamilies). */
  readonly sections?: Readonly<Record<string, unknown>>;
}

/** Custom port ids: `bed-7000` for worker nodes, `bed-registry-7000` for the registry node. */
export function customPortId(group: PortGroup, port: number): string {
  return group === 'worker' ? `bed-${port}` : `bed-${group}-${port}`;
}

const GROUP_ROLE: Readonly<Record<PortGroup, Role>> = { worker: 'worker', registry: 'registry' };

/**
 * The exporter's static config for these nodes: every catalog entry turned off, and the
 * bed's ports as custom ports by role, so the exporter probes exactly the targets of
 * these nodes, no more.
 */
export function exporterConfigText(
  layout: BedLayout,
  options: ExporterConfigOptions = {},
): { text: string; nodes: BedNode[]; targets: BedTarget[] } {
  const nodes = layout.nodes.filter(options.nodes ?? (() => true));
  const groups = (Object.keys(PORT_GROUPS) as PortGroup[]).filter((group) =>
    nodes.some((node) => node.group === group),
  );
  const document = {
    ...options.sections,
    nodes: nodes.map((node) => ({
      name: node.name,
      address: node.address,
      roles: [GROUP_ROLE[node.group]],
    })),
    ports: Object.fromEntries(CATALOG.map((entry) => [entry.id, { enabled: false }])),
    customPorts: groups.flatMap((group) =>
      PORT_GROUPS[group].map((port) => ({
        id: customPortId(group, port),
        port,
        roles: [GROUP_ROLE[group]],
        purpose: `test bed port ${port} on ${group} nodes`,
      })),
    ),
  };
  const names = new Set(nodes.map((node) => node.name));
  return {
    text: `# Written by test/helpers/testbed.ts for a network test bed.\n${stringify(document)}`,
    nodes,
    targets: layout.targets.filter((target) => names.has(target.node)),
  };
}
