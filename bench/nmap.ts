/**
 * nmap as the benchmark's kernel floor: its argv and a parser of its grepable
 * output (-oG), with nmap's states named as ours.
 */

/** nmap's port states, as this project names them. */
export const NMAP_TO_STATE: Readonly<Record<string, string>> = {
  open: 'open',
  closed: 'refused',
  filtered: 'timeout',
};

export interface NmapScanOptions {
  readonly hostsFile: string;
  readonly ports: readonly number[];
  readonly outputFile: string;
  /** -T0..-T5. */
  readonly timing: number;
  /** --min/--max-parallelism: probes in flight, set to the engine's concurrency. */
  readonly parallelism: number;
  /** --min-hostgroup: hosts scanned together, so nmap is not throttled by small groups. */
  readonly hostgroup: number;
  /**
   * When set, nmap waits exactly this long for an answer (min = max = initial RTT
   * timeout), as the engine and blackbox do, instead of a timeout learnt from
   * loopback's microsecond RTTs.
   */
  readonly timeoutMs?: number;
}

/** `nmap -sT -n -Pn`: a full connect() per port, no DNS, no host discovery, no retry. */
export function nmapArgs(options: NmapScanOptions): string[] {
  const args = [
    '-sT',
    '-n',
    '-Pn',
    `-T${options.timing}`,
    '--max-retries',
    '0',
    '--min-parallelism',
    String(options.parallelism),
    '--max-parallelism',
    String(options.parallelism),
    '--min-hostgroup',
    String(options.hostgroup),
  ];
  if (options.timeoutMs !== undefined) {
    const timeout = `${options.timeoutMs}ms`;
    args.push('--initial-rtt-timeout', timeout, '--min-rtt-timeout', timeout);
    args.push('--max-rtt-timeout', timeout);
  }
  args.push('-p', compactPorts(options.ports), '-iL', options.hostsFile, '-oG', options.outputFile);
  return args;
}

/** 21000,21001,21002,21005 -> "21000-21002,21005". */
export function compactPorts(ports: readonly number[]): string {
  const sorted = [...new Set(ports)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && (sorted[j + 1] as number) === (sorted[j] as number) + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/**
 * "ip:port" -> our state name, from nmap's grepable output. A port nmap folds into
 * "Ignored State: closed (N)" takes that state: nmap lists only the others.
 */
export function parseGrepable(text: string, ports: readonly number[]): Map<string, string> {
  const states = new Map<string, string>();
  for (const line of text.split('\n')) {
    const host = /^Host: (\S+) .*\tPorts: ([^\t]*)(?:\tIgnored State: (\w+) \(\d+\))?/.exec(line);
    if (!host) continue;
    const [, ip, list, ignored] = host;
    const listed = new Set<number>();
    for (const entry of (list ?? '').split(',')) {
      const [port, state] = entry.trim().split('/');
      if (port === undefined || state === undefined || port === '') continue;
      listed.add(Number(port));
      states.set(`${ip}:${port}`, NMAP_TO_STATE[state] ?? state);
    }
    if (ignored !== undefined) {
      for (const port of ports) {
        if (!listed.has(port)) states.set(`${ip}:${port}`, NMAP_TO_STATE[ignored] ?? ignored);
      }
    }
  }
  return states;
}
