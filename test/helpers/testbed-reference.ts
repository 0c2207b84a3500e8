/**
 * The references a verdict is checked against on the test bed (testbed.ts): a plain
 * blocking connect() (test/fixtures/testbed-probe.py) and a patient `nmap -sT
 * --reason -Pn`, both run in the vantage.
 *
 * Every host's kernel sends at most one ICMP error per peer per icmp_ratelimit (1 s for
 * IPv4, burst 6; 100 ms for IPv6 on recent kernels). A reference that ran into that
 * limit would wait for the SYN retransmission (1 s, then 3 s, 7 s) and report a time
 * to error that the limit made, so the references are paced per IP: probes whose
 * answer is an ICMP error take tokens from a bucket that refills slower than the
 * kernel's own. Over a veth an IPv6 ICMP error arrives while connect() still holds its
 * socket and is dropped (TcpExtLockDroppedIcmps): the error comes with the SYN
 * retransmitted 1 s later, so each IPv6 probe counts two ICMP errors.
 *
 *   const rows = await measureReferences(bed, bed.targets);
 *   for (const row of rows) assert.equal(row.connect.outcome, row.target.connect, row.target.id);
 *   for (const line of formatReferenceTable(rows)) t.diagnostic(line);
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Netns } from './netns.js';
import { collect } from './node-child.js';
import type { Testbed } from './testbed.js';
import type { BedTarget, Family } from './testbed-layout.js';

export interface ConnectReference {
  /** `connected`, `timeout`, or the errno's name. */
  readonly outcome: string;
  readonly seconds: number;
}

export interface NmapReference {
  /** open, closed or filtered. */
  readonly state: string;
  /** nmap's --reason: syn-ack, conn-refused, host-unreach, admin-prohibited, no-response, ... */
  readonly reason: string;
  /** How long the nmap run that saw this port took (one run may cover several ports). */
  readonly seconds: number;
}

export interface ReferenceRow {
  readonly target: BedTarget;
  readonly connect: ConnectReference;
  /** Absent when the run was asked for no nmap. */
  readonly nmap?: NmapReference;
}

export interface ResolveReference {
  readonly addresses?: readonly string[];
  /** getaddrinfo's error: EAI_AGAIN, EAI_NONAME, ... */
  readonly error?: string;
  readonly seconds: number;
}

/** The connect() reference: one Python process in the vantage, one thread per request. */
export class ReferenceProber {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, (reply: Record<string, unknown>) => void>();
  private nextId = 1;
  private stderr = '';

  constructor(vantage: Netns, lifetimeMs = 10 * 60_000) {
    this.child = vantage.spawn('python3', ['test/fixtures/testbed-probe.py'], {
      timeoutMs: lifetimeMs,
      stdin: 'pipe',
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    createInterface({ input: this.child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const reply = JSON.parse(line) as Record<string, unknown>;
      const id = Number(reply.id);
      this.pending.get(id)?.(reply);
      this.pending.delete(id);
    });
    this.child.once('close', (code) => {
      for (const answer of this.pending.values()) {
        answer({ error: `testbed-probe.py exited (${code}): ${this.stderr.trim()}` });
      }
      this.pending.clear();
    });
  }

  /** A plain blocking connect(); `source` binds a source address first. */
  async connect(
    ip: string,
    port: number,
    options: { timeoutSeconds: number; source?: string },
  ): Promise<ConnectReference> {
    const reply = await this.request({
      op: 'connect',
      ip,
      port,
      timeout: options.timeoutSeconds,
      ...(options.source && { source: options.source }),
    });
    if (typeof reply.outcome !== 'string') {
      throw new Error(`connect ${ip}:${port}: ${String(reply.error)}`);
    }
    return { outcome: reply.outcome, seconds: Number(reply.seconds) };
  }

  /** getaddrinfo, as any program in the vantage resolves: /etc/hosts, then the resolver. */
  async resolve(name: string): Promise<ResolveReference> {
    const reply = await this.request({ op: 'resolve', name });
    return {
      ...(Array.isArray(reply.addresses) && { addresses: reply.addresses as string[] }),
      ...(typeof reply.error === 'string' && { error: reply.error }),
      seconds: Number(reply.seconds),
    };
  }

  close(): void {
    this.child.stdin?.end();
  }

  private request(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.child.stdin?.write(`${JSON.stringify({ id, ...body })}\n`);
    });
  }
}

/**
 * Patient: a port counts as filtered only after 3 tries of 3.5 s each, longer than
 * neighbour resolution takes to fail (3 s) and than the SYN retransmissions a
 * rate-limited ICMP error waits for (1 s, 3 s).
 */
export const PATIENT_NMAP = [
  '-sT',
  '-Pn',
  '-n',
  '--reason',
  '--max-retries',
  '2',
  '--initial-rtt-timeout',
  '3500ms',
  '--min-rtt-timeout',
  '3500ms',
  '--max-rtt-timeout',
  '4s',
] as const;

/** One `nmap -sT` run in the vantage over some ports of one IP; port -> verdict. */
export async function nmapScan(
  vantage: Netns,
  ip: string,
  ports: readonly number[],
): Promise<Map<number, NmapReference>> {
  const started = performance.now();
  const args = [
    ...PATIENT_NMAP,
    ...(ip.includes(':') ? ['-6'] : []),
    '-oX',
    '-',
    '-p',
    ports.join(','),
    ip,
  ];
  const result = await collect(vantage.spawn('nmap', args, { timeoutMs: 90_000 }));
  const seconds = (performance.now() - started) / 1000;
  if (result.code !== 0) {
    throw new Error(
      `nmap ${args.join(' ')} exited ${result.code ?? result.signal}: ${result.stderr.trim()}`,
    );
  }
  const verdicts = new Map<number, NmapReference>();
  const pattern =
    /<port protocol="tcp" portid="(\d+)"><state state="([a-z|]+)" reason="([a-z-]+)"/g;
  for (const [, port, state, reason] of result.stdout.matchAll(pattern)) {
    verdicts.set(Number(port), { state: state as string, reason: reason as string, seconds });
  }
  for (const port of ports) {
    if (!verdicts.has(port))
      throw new Error(`nmap said nothing of ${ip}:${port}:\n${result.stdout}`);
  }
  return verdicts;
}

/** A token bucket that lets through fewer ICMP-answered probes than the kernel answers. */
class IcmpBucket {
  private tokens: number;
  private last = performance.now();
  private turn: Promise<void> = Promise.resolve();

  constructor(
    private readonly burst: number,
    private readonly periodMs: number,
  ) {
    this.tokens = burst;
  }

  /** Resolves when `cost` tokens are free, in the order asked. */
  take(cost: number): Promise<void> {
    this.turn = this.turn.then(async () => {
      for (;;) {
        const now = performance.now();
        this.tokens = Math.min(this.burst, this.tokens + (now - this.last) / this.periodMs);
        this.last = now;
        if (this.tokens >= cost) {
          this.tokens -= cost;
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, (cost - this.tokens) * this.periodMs));
      }
    });
    return this.turn;
  }
}

// The kernel allows a burst of 6 (XRLIM_BURST_FACTOR) and one more per ratelimit; the
// bucket allows 3, and one per 1.1 ratelimits. The 3 the kernel keeps in reserve absorb
// probes that a busy machine starts late and so together (the prober is a process of
// its own: the bucket paces when probes are asked for, not when their SYN leaves).
const BUCKET_BURST = 3;
const BUCKET_SLACK = 1.1;
const ICMP_COST: Readonly<Record<Family, number>> = { 4: 1, 6: 2 };

export interface ReferenceOptions {
  /** How long a connect() may take before it counts as `timeout`; default 10 s. */
  readonly connectTimeoutSeconds?: number;
  /** Run nmap too; default true. */
  readonly nmap?: boolean;
  /** Pace the ICMP-answered probes under the kernel's rate limit; default true. */
  readonly paced?: boolean;
  /** Bind the connects to this source address (its rate-limit buckets are its own). */
  readonly source?: string;
}

/**
 * A connect() and an nmap verdict for every target, each (IP, port) probed once.
 * Probes of different IPs run in parallel; on one IP the connects first, then nmap,
 * and in each those answered without ICMP at once, the ICMP-answered ones one bucket
 * token at a time.
 */
export async function measureReferences(
  bed: Pick<Testbed, 'vantage' | 'icmpRateLimitMs'>,
  targets: readonly BedTarget[],
  options: ReferenceOptions = {},
): Promise<ReferenceRow[]> {
  const { vantage, icmpRateLimitMs } = bed;
  const timeoutSeconds = options.connectTimeoutSeconds ?? 10;
  const paced = options.paced ?? true;
  const withNmap = options.nmap ?? true;
  const prober = new ReferenceProber(vantage);
  const connected = new Map<string, ConnectReference>();
  const nmaps = new Map<string, NmapReference>();
  const key = (ip: string, port: number) => `${ip}|${port}`;
  const lanes = new Map<string, BedTarget[]>();
  for (const target of targets) {
    const lane = lanes.get(target.ip) ?? [];
    if (!lane.some((other) => other.port === target.port)) lane.push(target);
    lanes.set(target.ip, lane);
  }

  const runLane = async (ip: string, lane: readonly BedTarget[]) => {
    const family: Family = ip.includes(':') ? 6 : 4;
    const bucket = new IcmpBucket(
      BUCKET_BURST,
      (family === 4 ? icmpRateLimitMs.ipv4 : icmpRateLimitMs.ipv6) * BUCKET_SLACK,
    );
    const cost = ICMP_COST[family];
    const connect = (target: BedTarget) =>
      prober
        .connect(ip, target.port, {
          timeoutSeconds,
          ...(options.source && { source: options.source }),
        })
        .then((reference) => {
          connected.set(key(ip, target.port), reference);
        });
    const scan = (ports: number[]) =>
      nmapScan(vantage, ip, ports).then((verdicts) => {
        for (const [port, verdict] of verdicts) nmaps.set(key(ip, port), verdict);
      });
    const quiet = lane.filter((target) => !paced || !target.icmp);
    const loud = lane.filter((target) => paced && target.icmp);
    // connect() first, then nmap, so that neither's timing includes the other's work
    // (nmap's first SYN to a dead address would start the neighbour resolution that
    // the connect then only joins).
    const connects = quiet.map(connect);
    for (const target of loud) {
      await bucket.take(cost);
      connects.push(connect(target));
    }
    await Promise.all(connects);
    if (!withNmap) return;
    const scans = quiet.length > 0 ? [scan(quiet.map((target) => target.port))] : [];
    for (const target of loud) {
      await bucket.take(cost);
      scans.push(scan([target.port]));
    }
    await Promise.all(scans);
  };

  try {
    await Promise.all([...lanes].map(([ip, lane]) => runLane(ip, lane)));
  } finally {
    prober.close();
  }
  return targets.map((target) => {
    const connect = connected.get(key(target.ip, target.port)) as ConnectReference;
    const nmap = nmaps.get(key(target.ip, target.port));
    return { target, connect, ...(nmap && { nmap }) };
  });
}

/** The measured table, one line per (IP, port), for the test's output and the README. */
export function formatReferenceTable(rows: readonly ReferenceRow[]): string[] {
  const seen = new Set<string>();
  const lines = [['target', 'kind', 'connect()', 'time to error', 'nmap', 'state expected']];
  for (const { target, connect, nmap } of rows) {
    const id = `${target.ip}|${target.port}`;
    if (seen.has(id)) continue;
    seen.add(id);
    lines.push([
      target.id,
      target.kind,
      connect.outcome,
      formatSeconds(connect.seconds),
      nmap ? `${nmap.state} ${nmap.reason}` : '-',
      target.state,
    ]);
  }
  const widths = lines[0]?.map((_, i) => Math.max(...lines.map((line) => (line[i] ?? '').length)));
  return lines.map((line) =>
    line
      .map((cell, i) => cell.padEnd(widths?.[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}

function formatSeconds(seconds: number): string {
  return seconds < 1 ? `${(seconds * 1000).toFixed(2)} ms` : `${seconds.toFixed(2)} s`;
}
