/**
 * The target set of the probe benchmark: A loopback addresses x P ports, so that
 * `nmap -iL addresses -p ports` probes exactly the set our engine and blackbox probe.
 *
 * Each port has one fate on every address, except the few "sparse" ports that are
 * open on some addresses only:
 *   - wildcard-open ports: one listener on 0.0.0.0, open on every address;
 *   - sparse-open ports: listeners bound to every `sparseEvery`-th address, refused
 *     on the others, so "open" is not only a per-port fact;
 *   - dropped ports (only inside the benchmark's namespace): an nftables rule drops
 *     their SYNs, so a connect times out;
 *   - every other port: nothing listens, the kernel answers RST (refused).
 * Pure: the I/O (files, listeners, nft) lives in probe-throughput.ts.
 */

export type ExpectedState = 'open' | 'refused' | 'timeout';

export interface LayoutOptions {
  /** Targets wanted; rounded up to a whole number of addresses. */
  readonly targets: number;
  /** Ports per address. */
  readonly ports: number;
  /** First port; the set is basePort .. basePort+ports-1. */
  readonly basePort: number;
  /** Ports with a 0.0.0.0 listener. */
  readonly wildcardOpenPorts: number;
  /** Ports with listeners on some addresses only. */
  readonly sparseOpenPorts: number;
  /** A sparse port listens on every this-many-th address. */
  readonly sparseEvery: number;
  /** Share of ports whose SYNs are dropped (0 outside a namespace); rounded to whole ports. */
  readonly droppedShare: number;
}

export interface Listener {
  readonly ip: string;
  readonly port: number;
}

export interface Layout {
  readonly addresses: readonly string[];
  readonly ports: readonly number[];
  readonly droppedPorts: readonly number[];
  readonly listeners: readonly Listener[];
  /** Every (address, port), address-major, with its expected state. */
  readonly targets: readonly LayoutTarget[];
}

export interface LayoutTarget {
  readonly ip: string;
  readonly port: number;
  readonly expected: ExpectedState;
}

/** Loopback addresses start here: clear of 127.0.0.x, which other programs use. */
const FIRST_THIRD_OCTET = 1;
const HOSTS_PER_THIRD_OCTET = 250;
const MAX_ADDRESSES = (255 - FIRST_THIRD_OCTET) * HOSTS_PER_THIRD_OCTET;

/** The i-th benchmark address: 127.0.1.1, 127.0.1.2, ... 127.0.1.250, 127.0.2.1, ... */
export function addressAt(index: number): string {
  const third = FIRST_THIRD_OCTET + Math.floor(index / HOSTS_PER_THIRD_OCTET);
  const fourth = 1 + (index % HOSTS_PER_THIRD_OCTET);
  return `127.0.${third}.${fourth}`;
}

export function planLayout(options: LayoutOptions): Layout {
  const { ports: portCount, basePort, wildcardOpenPorts, sparseOpenPorts, sparseEvery } = options;
  const problems: string[] = [];
  if (!(Number.isInteger(options.targets) && options.targets >= 1)) {
    problems.push(`targets: expected a positive integer, got ${options.targets}`);
  }
  if (!(Number.isInteger(portCount) && portCount >= 1)) {
    problems.push(`ports: expected a positive integer, got ${portCount}`);
  }
  if (!(Number.isInteger(basePort) && basePort >= 1 && basePort + portCount - 1 <= 65535)) {
    problems.push(`basePort: expected ports ${basePort}..${basePort + portCount - 1} in 1-65535`);
  }
  if (!(options.droppedShare >= 0 && options.droppedShare < 1)) {
    problems.push(`droppedShare: expected a number in [0, 1), got ${options.droppedShare}`);
  }
  const droppedCount = Math.round(options.droppedShare * portCount);
  if (options.droppedShare > 0 && droppedCount === 0) {
    problems.push(`droppedShare: ${options.droppedShare} of ${portCount} ports rounds to none`);
  }
  if (wildcardOpenPorts + sparseOpenPorts + droppedCount > portCount) {
    problems.push(
      `ports: ${portCount} ports cannot hold ${wildcardOpenPorts} open, ` +
        `${sparseOpenPorts} sparse and ${droppedCount} dropped ports`,
    );
  }
  const addressCount = Math.ceil(options.targets / Math.max(1, portCount));
  if (addressCount > MAX_ADDRESSES) {
    problems.push(`targets: at most ${MAX_ADDRESSES * portCount} with ${portCount} ports`);
  }
  if (problems.length > 0) throw new Error(`bench layout: ${problems.join('; ')}`);

  const addresses = Array.from({ length: addressCount }, (_, i) => addressAt(i));
  const ports = Array.from({ length: portCount }, (_, i) => basePort + i);
  const wildcard = new Set(ports.slice(0, wildcardOpenPorts));
  const sparse = new Set(ports.slice(wildcardOpenPorts, wildcardOpenPorts + sparseOpenPorts));
  // Dropped ports come last, so the open ports stay the same whatever the share.
  const dropped = ports.slice(portCount - droppedCount);
  const droppedSet = new Set(dropped);

  const listeners: Listener[] = [...wildcard].map((port) => ({ ip: '0.0.0.0', port }));
  const targets: LayoutTarget[] = [];
  for (let a = 0; a < addresses.length; a++) {
    const ip = addresses[a] as string;
    const sparseOpenHere = a % sparseEvery === 0;
    for (const port of ports) {
      let expected: ExpectedState = 'refused';
      if (wildcard.has(port)) expected = 'open';
      else if (sparse.has(port) && sparseOpenHere) {
        expected = 'open';
        listeners.push({ ip, port });
      } else if (droppedSet.has(port)) expected = 'timeout';
      targets.push({ ip, port, expected });
    }
  }
  return { addresses, ports, droppedPorts: dropped, listeners, targets };
}

/** Counts per expected state, for the report. */
export function countExpected(targets: readonly LayoutTarget[]): Record<ExpectedState, number> {
  const counts: Record<ExpectedState, number> = { open: 0, refused: 0, timeout: 0 };
  for (const target of targets) counts[target.expected]++;
  return counts;
}

/**
 * The targets of the first addresses, `size` rounded up to whole addresses: a subset
 * that keeps the per-address mix of ports (a stride over the address-major list
 * would pick the same few ports on every address).
 */
export function subsetByAddress(layout: Layout, size: number): LayoutTarget[] {
  const perAddress = layout.ports.length;
  const count = Math.min(layout.targets.length, Math.ceil(size / perAddress) * perAddress);
  return layout.targets.slice(0, count);
}
