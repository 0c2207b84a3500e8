/**
 * A network test bed: the networks operators have, built from network namespaces for
 * the verdict tests. Hosts on one bridge, in 198.18.0.0/24 and fd00:7e57::/64, that
 * answer, refuse, drop, reject with every TCP reject kind nftables offers (IPv4 icmp,
 * IPv6 icmpv6, inet icmpx as firewalld writes it, tcp reset), a full accept queue, an
 * address with no host behind it, addresses with no route or an `unreachable` or
 * `prohibit` route, a firewalld-like host with 13 rejected ports under the kernel's
 * default ICMP rate limit (left as the kernel sets it, per namespace), names in the
 * vantage's /etc/hosts (one IPv6-only, one dual-stack whose families differ), and
 * names only the bed's DNS server (dnsmasq) knows, which can be made to drop queries.
 *
 * Nothing can leave: no namespace has a default route or an uplink, and the addresses
 * exist only here (198.18.1-3.x and fd00:7e57:1-3:: exist nowhere at all). Built with
 * test/helpers/netns.ts, so names carry its marker and the pid, stale ones are swept,
 * and everything, /etc/netns files included, is deleted by close() and on exit.
 *
 *   vantage ─┐                      (198.18.0.1, .2, fd00:7e57::1; probers run here)
 *   basic ───┤ br0 (in namespace `lan`)
 *   ...    ──┘
 *
 * Probers run in the vantage, through `ip netns exec`, so they see the bed's
 * /etc/hosts and /etc/resolv.conf:
 *
 *   const bed = await createTestbed();
 *   t.after(() => bed.close());
 *   const { targets } = await bed.writeExporterConfig(join(dir, 'config.yml'));
 *   const exporter = bed.vantage.spawnNode('src/main.ts', [`--config.file=${dir}/config.yml`]);
 *   // ... every target's state must be target.state; nmap's must be target.nmap
 *   await bed.resolver.dropQueries(true); // dns-N.bed.test now hang until the resolver's timeout
 *   await bed.closeListener('198.18.0.10', 7000); // basic-v4:7000 now refuses
 *
 * `targets` is the table (testbed-layout.ts): node, address as configured, IP probed,
 * port, the rule or condition, what a plain connect() gets, the state our
 * classification should give, nmap's verdict. test/e2e/testbed.test.ts proves it with
 * a real connect() and nmap; testbed-reference.ts runs those references for any test.
 *
 * Needs root, nft, ip, python3 and dnsmasq (scripts/ensure-tools.sh installs them).
 */
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { createNetns, type Netns } from './netns.js';
import {
  ADDRESS_CONDITIONS,
  type BedNode,
  type BedTarget,
  bedLayout,
  dnsmasqArgs,
  type ExporterConfigOptions,
  exporterConfigText,
  type Family,
  type HostLayout,
  hostOf,
  hostsFileText,
  listenersOf,
  nftScript,
  portKind,
  RESOLVER_HOST,
  resolvConfText,
  SUBNET4,
  SUBNET6,
  VANTAGE,
} from './testbed-layout.js';
import { readUntil } from './wait.js';

export type { BedNode, BedTarget, ExporterConfigOptions } from './testbed-layout.js';

export interface TestbedSpec {
  /** How many DNS-only names (dns-1.bed.test ...), each a node; default 9. */
  readonly dnsNames?: number;
  /**
   * The `options` line of the vantage's resolv.conf, e.g. `timeout:1 attempts:1`.
   * Default none: glibc's own, 5 s per try, 2 tries, as most operators have it.
   */
  readonly resolverOptions?: string;
  /** Children (listeners, resolver) are killed after this long whatever happens; default 15 min. */
  readonly lifetimeMs?: number;
}

export interface BedHost {
  readonly name: string;
  readonly netns: Netns;
  readonly ipv4?: string;
  readonly ipv6?: string;
}

/** The ICMP errors a host's kernel held back (OutRateLimitHost), by family. */
export interface RateLimitedCount {
  readonly ipv4: number;
  readonly ipv6: number;
}

export interface Testbed {
  /** Where probers run: the exporter, `check`, nmap, the references. */
  readonly vantage: Netns;
  readonly vantageAddresses: typeof VANTAGE;
  /** Every host on the bridge, by name (basic, reject-a, ..., resolver). */
  readonly hosts: ReadonlyMap<string, BedHost>;
  /** The exporter's nodes: one per configured address. */
  readonly nodes: readonly BedNode[];
  /** Every (node, IP, port) the exporter probes, and what it should see there. */
  readonly targets: readonly BedTarget[];
  /** The vantage's /etc/hosts, as written under /etc/netns. */
  readonly hostsFile: string;
  /** The kernel's ICMP error rate limits in the hosts (sysctl, per namespace; left alone). */
  readonly icmpRateLimitMs: { readonly ipv4: number; readonly ipv6: number };
  readonly resolver: {
    /** The address in the vantage's resolv.conf. */
    readonly address: string;
    /** The DNS-only names -> addresses. */
    readonly names: Readonly<Record<string, readonly string[]>>;
    /** The vantage's resolv.conf, as written under /etc/netns. */
    readonly resolvConf: string;
    /** On: the resolver drops every query (UDP and TCP 53), so lookups hang. */
    dropQueries(on: boolean): Promise<void>;
    readonly dropping: boolean;
  };
  /** Stops the listener of an `open` port: the target then refuses (ECONNREFUSED). */
  closeListener(ip: string, port: number): Promise<void>;
  /** Listens again on a port closeListener closed. */
  openListener(ip: string, port: number): Promise<void>;
  /** How many ICMP errors the host's kernel has held back since it started. */
  rateLimited(host: string): Promise<RateLimitedCount>;
  /** Writes the exporter's YAML config for these nodes; returns them and their targets. */
  writeExporterConfig(
    path: string,
    options?: ExporterConfigOptions,
  ): Promise<{ nodes: BedNode[]; targets: BedTarget[] }>;
  /** Kills every process the bed started and deletes every namespace and file. Safe twice. */
  close(): Promise<void>;
}

const DEFAULT_LIFETIME_MS = 15 * 60_000;
const READY_TIMEOUT_MS = 15_000;
const DNS_TABLE = 'ipe_testbed_dns';

/** Builds the bed. Rejects, leaving nothing behind, when any part cannot be made. */
export async function createTestbed(spec: TestbedSpec = {}): Promise<Testbed> {
  const layout = bedLayout(spec.dnsNames === undefined ? {} : { dnsNames: spec.dnsNames });
  const lifetimeMs = spec.lifetimeMs ?? DEFAULT_LIFETIME_MS;
  const made: Netns[] = [];
  const make = async (prefix: string) => {
    const ns = await createNetns(`bed-${prefix}`);
    made.push(ns);
    return ns;
  };
  const agents = new Map<string, HostAgent>();
  const closeAll = () => Promise.all(made.map((ns) => ns.close()));
  try {
    // The first createNetns sweeps stale namespaces: the others wait for it.
    const lan = await make('lan');
    const [vantage, ...hostNetns] = await Promise.all([
      make('vantage'),
      ...layout.hosts.map((host) => make(host.name)),
    ]);
    if (!vantage) throw new Error('testbed: no vantage');
    const hosts = new Map<string, BedHost>(
      layout.hosts.map((host, i) => [host.name, { ...host, netns: hostNetns[i] as Netns }]),
    );

    await lan.exec('ip', [
      'link',
      'add',
      'br0',
      'type',
      'bridge',
      'forward_delay',
      '0',
      'mcast_snooping',
      '0',
    ]);
    await lan.exec('ip', ['link', 'set', 'br0', 'up']);
    const members = [
      { netns: vantage, addresses: [VANTAGE.ipv4, VANTAGE.secondIpv4, VANTAGE.ipv6] },
      ...[...hosts.values()].map((host) => ({
        netns: host.netns,
        addresses: [host.ipv4, host.ipv6].filter((ip): ip is string => ip !== undefined),
      })),
    ];
    await Promise.all(members.map((member, i) => plugIn(lan, member.netns, i, member.addresses)));
    await routeVantage(vantage);

    await Promise.all(
      layout.hosts.map(async (host) => {
        const netns = hosts.get(host.name)?.netns as Netns;
        const script = nftScript(host);
        if (script !== '') await netns.nft(script);
        const listeners = listenersOf(host);
        if (listeners.listen.length + listeners.fullQueue.length === 0) return;
        agents.set(host.name, await startAgent(netns, host, listeners, lifetimeMs));
      }),
    );

    const resolverHost = layout.hosts.find((host) => host.name === RESOLVER_HOST) as HostLayout;
    const resolverNetns = hosts.get(RESOLVER_HOST)?.netns as Netns;
    const resolverIp = resolverHost.ipv4 as string;
    const dnsmasq = await startAgent(
      resolverNetns,
      resolverHost,
      {
        listen: [],
        fullQueue: [],
        run: ['dnsmasq', ...dnsmasqArgs(resolverHost, layout.dnsNames)],
      },
      lifetimeMs,
    );
    agents.set(RESOLVER_HOST, dnsmasq);
    const hostsFile = await vantage.etcFile('hosts', hostsFileText(layout.hostsFileNames));
    const resolvConf = await vantage.etcFile(
      'resolv.conf',
      resolvConfText(resolverIp, spec.resolverOptions),
    );
    await waitForResolver(vantage, dnsmasq, Object.keys(layout.dnsNames)[0]);
    const icmpRateLimitMs = await readRateLimits(hostNetns[0] as Netns);

    let dropping = false;
    let closed = false;
    const bed: Testbed = {
      vantage,
      vantageAddresses: VANTAGE,
      hosts,
      nodes: layout.nodes,
      targets: layout.targets,
      hostsFile,
      icmpRateLimitMs,
      resolver: {
        address: resolverIp,
        names: layout.dnsNames,
        resolvConf,
        async dropQueries(on) {
          if (on === dropping) return;
          await resolverNetns.nft(
            on
              ? `table inet ${DNS_TABLE} {\n  chain input {\n` +
                  '    type filter hook input priority filter; policy accept;\n' +
                  '    udp dport 53 drop\n    tcp dport 53 drop\n  }\n}\n'
              : `delete table inet ${DNS_TABLE}\n`,
          );
          dropping = on;
        },
        get dropping() {
          return dropping;
        },
      },
      closeListener: (ip, port) => listenerCommand(agents, 'close', ip, port),
      openListener: (ip, port) => listenerCommand(agents, 'listen', ip, port),
      async rateLimited(name) {
        const host = hosts.get(name);
        if (!host) throw new Error(`testbed: no host ${name}`);
        return readRateLimited(host.netns);
      },
      async writeExporterConfig(path, options) {
        const { text, nodes, targets } = exporterConfigText(layout, options);
        await writeFile(path, text);
        return { nodes, targets };
      },
      async close() {
        if (closed) return;
        closed = true;
        // Asked first, so that each stops what it started; then whatever is left is killed.
        await Promise.all([...agents.values()].map((agent) => agent.stop()));
        await closeAll();
      },
    };
    return bed;
  } catch (err) {
    await Promise.all([...agents.values()].map((agent) => agent.stop()));
    await closeAll();
    throw err;
  }
}

/** A veth from the bridge to `netns`, named eth0 there, with the addresses and no default route. */
async function plugIn(
  lan: Netns,
  netns: Netns,
  index: number,
  addresses: readonly string[],
): Promise<void> {
  const port = `p${index}`;
  // Made in `lan` with its peer put straight into the member: nothing ever exists in
  // the host's own namespace, even for a moment.
  await lan.exec('ip', [
    'link',
    'add',
    port,
    'type',
    'veth',
    'peer',
    'name',
    'eth0',
    'netns',
    netns.name,
  ]);
  await lan.exec('ip', ['link', 'set', port, 'master', 'br0', 'up']);
  for (const ip of addresses) {
    const v6 = ip.includes(':');
    const prefix = v6 ? SUBNET6.length : SUBNET4.length;
    // nodad: an address in duplicate address detection cannot be used for a second or so.
    await netns.exec('ip', [
      'addr',
      'add',
      `${ip}/${prefix}`,
      'dev',
      'eth0',
      ...(v6 ? ['nodad'] : []),
    ]);
  }
  await netns.exec('ip', ['link', 'set', 'eth0', 'up']);
}

/** The vantage's `unreachable` and `prohibit` routes; every other outside address has none. */
async function routeVantage(vantage: Netns): Promise<void> {
  for (const condition of ADDRESS_CONDITIONS) {
    if (!condition.route) continue;
    const family = condition.family === 6 ? ['-6'] : [];
    await vantage.exec('ip', [
      ...family,
      'route',
      'add',
      condition.route.type,
      condition.route.prefix,
    ]);
  }
}

interface HostAgent {
  readonly child: ChildProcess;
  /** Its exit once it exited, and its stderr so far. */
  report(): string;
  /** Sends one command and resolves with its answer line. */
  command(line: string): Promise<string>;
  /** Closes its stdin and waits (a few seconds at most) for it to stop what it started. */
  stop(): Promise<void>;
}

interface AgentSpec {
  readonly listen: readonly (readonly [string, number])[];
  readonly fullQueue: readonly (readonly [string, number])[];
  /** A server to run beside the listeners, stopped with them. */
  readonly run?: readonly string[];
}

const STOP_TIMEOUT_MS = 5_000;

/** Starts test/fixtures/testbed-host.py in the host; resolves once it printed `ready`. */
async function startAgent(
  netns: Netns,
  host: HostLayout,
  listeners: AgentSpec,
  lifetimeMs: number,
): Promise<HostAgent> {
  const child = netns.spawn(
    'python3',
    ['test/fixtures/testbed-host.py', JSON.stringify(listeners)],
    {
      timeoutMs: lifetimeMs,
      stdin: 'pipe',
    },
  );
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const waiting: ((line: string) => void)[] = [];
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new Error(`testbed: host ${host.name}: listeners not ready after ${READY_TIMEOUT_MS} ms`),
        ),
      READY_TIMEOUT_MS,
    );
    child.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`testbed: host ${host.name}: listeners exited (${code}): ${stderr.trim()}`));
    });
    waiting.push((line) => {
      clearTimeout(timer);
      if (line === 'ready') resolve();
      else reject(new Error(`testbed: host ${host.name}: expected ready, got ${line}`));
    });
  });
  lines.on('line', (line) => waiting.shift()?.(line));
  let exit: string | undefined;
  const closed = new Promise<void>((resolve) =>
    child.once('close', (code, signal) => {
      exit = `exited (${code ?? signal})`;
      resolve();
    }),
  );
  await ready;
  let queue = Promise.resolve('');
  return {
    child,
    report: () => [exit, stderr.trim()].filter(Boolean).join(': '),
    async stop() {
      child.stdin?.end();
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, STOP_TIMEOUT_MS))]);
    },
    command(line) {
      // One at a time: answers come back in order.
      queue = queue.then(
        () =>
          new Promise<string>((resolve) => {
            waiting.push(resolve);
            child.stdin?.write(`${line}\n`);
          }),
      );
      return queue;
    },
  };
}

async function listenerCommand(
  agents: ReadonlyMap<string, HostAgent>,
  verb: 'close' | 'listen',
  ip: string,
  port: number,
): Promise<void> {
  const host = hostOf(ip);
  const family: Family = ip.includes(':') ? 6 : 4;
  const kind = host.ports[family]?.[port];
  if (kind === undefined || portKind(kind).id !== 'open') {
    throw new Error(
      `testbed: ${ip}:${port} is not an open port of the bed (it is ${kind ?? 'refused'})`,
    );
  }
  const agent = agents.get(host.name);
  if (!agent) throw new Error(`testbed: host ${host.name} has no listeners`);
  const answer = await agent.command(`${verb} ${ip} ${port}`);
  if (!answer.startsWith('ok ')) throw new Error(`testbed: ${verb} ${ip}:${port}: ${answer}`);
}

/** Resolves once the vantage's resolver answers for `name` (dnsmasq binds before it answers). */
async function waitForResolver(
  vantage: Netns,
  dnsmasq: HostAgent,
  name: string | undefined,
): Promise<void> {
  const probe = name ?? 'localhost';
  const exited = () => dnsmasq.child.exitCode !== null || dnsmasq.child.signalCode !== null;
  // A resolver that has exited will not answer: stop at once rather than at the deadline.
  const answered = await readUntil(
    async () =>
      !exited() &&
      (await vantage.exec('getent', ['ahosts', probe]).then(
        () => true,
        () => false,
      )),
    (yes) => yes || exited(),
    { timeoutMs: READY_TIMEOUT_MS, intervalMs: 100, attempts: 150 },
  );
  if (!answered) {
    throw new Error(`testbed: the resolver did not answer for ${probe}: ${dnsmasq.report()}`);
  }
}

async function readRateLimits(netns: Netns): Promise<{ ipv4: number; ipv6: number }> {
  const { stdout } = await netns.exec('sysctl', [
    '-n',
    'net.ipv4.icmp_ratelimit',
    'net.ipv6.icmp.ratelimit',
  ]);
  const [ipv4, ipv6] = stdout.trim().split(/\s+/).map(Number);
  if (!Number.isFinite(ipv4) || !Number.isFinite(ipv6)) {
    throw new Error(`testbed: cannot read the ICMP rate limits: ${stdout}`);
  }
  return { ipv4: ipv4 as number, ipv6: ipv6 as number };
}

/** OutRateLimitHost from /proc/net/snmp and snmp6 as the namespace sees them (kernel 6.0+). */
async function readRateLimited(netns: Netns): Promise<RateLimitedCount> {
  const [snmp, snmp6] = await Promise.all([
    netns.exec('cat', ['/proc/net/snmp']),
    netns.exec('cat', ['/proc/net/snmp6']),
  ]);
  const icmp = snmp.stdout.split('\n').filter((line) => line.startsWith('Icmp: '));
  const names = icmp[0]?.split(/\s+/) ?? [];
  const values = icmp[1]?.split(/\s+/) ?? [];
  const column = names.indexOf('OutRateLimitHost');
  const v6 = /^Icmp6OutRateLimitHost\s+(\d+)/m.exec(snmp6.stdout);
  if (column < 0 || !v6) {
    throw new Error(
      'testbed: this kernel does not count rate-limited ICMP errors (OutRateLimitHost, Linux 6.0+)',
    );
  }
  return { ipv4: Number(values[column]), ipv6: Number(v6[1]) };
}
