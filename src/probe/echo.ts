/**
 * The ICMP stage of a cycle: one echo request per node IP, through the IcmpPinger, its
 * outcome in the shape of a probe result so the scheduler paces and counts echoes like
 * port probes and the evidence reads them alike.
 */
import type { Vantage } from '../targets/types.js';
import type { IcmpPinger, PingResult } from './icmp.js';
import type { ProbeJob, ProbeResult } from './types.js';

/** One echo request to one IP of a node, once per cycle, where ICMP works. */
export interface EchoJob extends ProbeJob {
  readonly kind: 'echo';
  readonly vantage: Vantage;
  readonly address: string;
}

/** A node address the cycle probes, with the IPs it resolved to. */
export interface EchoAddress {
  readonly vantage: Vantage;
  readonly node: string;
  readonly address: string;
  readonly ips: readonly string[];
}

export class EchoStage {
  readonly #pinger: IcmpPinger | undefined;
  #enabled = false;

  /** Without a pinger, no echo goes out and the stage stays disabled. */
  constructor(pinger?: IcmpPinger) {
    this.#pinger = pinger;
  }

  /**
   * Opens the pinger's sockets (IcmpPinger.open: throws ICMP_UNAVAILABLE in mode `on`
   * without the right). True when echoes can go out from now on.
   */
  open(): boolean {
    this.#enabled = this.#pinger?.open().enabled ?? false;
    return this.#enabled;
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  /** One echo per IP of each address: the same key every cycle. */
  jobs(addresses: Iterable<EchoAddress>): EchoJob[] {
    const jobs: EchoJob[] = [];
    for (const { vantage, node, address, ips } of addresses) {
      for (const ip of ips) {
        const key = `${vantage}|${node}|${address}|${ip}|icmp`;
        jobs.push({ kind: 'echo', key, vantage, node, address, ip });
      }
    }
    return jobs;
  }

  /** Sends one echo; never rejects. */
  probe(job: EchoJob, timeoutMs: number): Promise<ProbeResult> {
    const pinger = this.#pinger;
    if (!pinger) return Promise.resolve({ state: 'error', durationSeconds: 0, error: 'icmp off' });
    return pinger.ping(job.ip, timeoutMs).then((ping) => echoResult(ping, timeoutMs));
  }

  close(): void {
    this.#pinger?.close();
  }
}

/** An echo's outcome in the shape of a probe result, so pacing and counting treat it alike. */
export function echoResult(ping: PingResult, timeoutMs: number): ProbeResult {
  if (ping.up) return { state: 'open', durationSeconds: ping.rttSeconds ?? 0 };
  if (ping.error === 'timeout') {
    return { state: 'timeout', durationSeconds: timeoutMs / 1000, error: 'ETIMEDOUT' };
  }
  if (ping.error === 'unreachable') {
    return { state: 'unreachable', durationSeconds: 0, error: 'EHOSTUNREACH' };
  }
  return { state: 'error', durationSeconds: 0, error: ping.error ?? 'unknown' };
}
