/**
 * Pacing per IP, so that no node gets more than a few probes at once and the kernel's
 * ICMP rate limit never decides a verdict.
 *
 * Linux sends ICMP errors (the port unreachable of a REJECT, kube-proxy's answer for a
 * Service without endpoints, every admin-prohibited) to one peer at about one per
 * second after a burst of six (net.ipv4.icmp_ratelimit 1000 ms, a token bucket of
 * inet_peer); the SYNs past it get no answer, and a port that a firewall rejects reads
 * `timeout`, "dropped", for no reason but its place in the cycle. So each IP has a
 * bucket like the kernel's, a little more patient: a probe takes a token when it
 * starts and gives it back when its answer was not one the kernel could have rate
 * limited (open, a timeout, a local error). An IP whose ports all answer never waits;
 * one whose ports are rejected is probed at the kernel's pace. Loopback is exempt,
 * as in the kernel (icmpv4_xrlim_allow: no rate limit on loopback).
 *
 * Probes in flight per IP are capped too, where the caller asks (a burst cycle, which
 * would otherwise send a node all its ports at once); a spread cycle's own spacing
 * already keeps them few.
 */
import type { ProbeResult } from './types.js';

export interface PacingOptions {
  /** The bucket's size: answers the kernel may limit, in a burst. Default 4 (the kernel's is 6). */
  readonly burst?: number;
  /** One token comes back every this many ms. Default 1100 (the kernel's is 1000). */
  readonly refillMs?: number;
  /** Probes in flight per IP in a burst cycle. Default BURST_IN_FLIGHT_PER_IP. */
  readonly burstInFlight?: number;
}

export const DEFAULT_PACING_BURST = 4;
export const DEFAULT_PACING_REFILL_MS = 1100;
/** Probes in flight per IP in a burst cycle: the kernel's ICMP burst. */
export const BURST_IN_FLIGHT_PER_IP = 6;

interface Bucket {
  tokens: number;
  /** Monotonic ms of the last refill computation. */
  at: number;
  inFlight: number;
}

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;

/** True for answers the kernel may have rate limited: everything an ICMP error or reset can give. */
export function mayBeRateLimited(result: ProbeResult): boolean {
  if (result.local) return false;
  return (
    result.state === 'refused' || result.state === 'unreachable' || result.state === 'rejected'
  );
}

export class AddressPacer {
  readonly #burst: number;
  readonly #refillMs: number;
  /** Probes in flight per IP in a burst cycle (the scheduler asks for it). */
  readonly burstInFlight: number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: PacingOptions = {}) {
    this.#burst = Math.max(1, Math.floor(options.burst ?? DEFAULT_PACING_BURST));
    this.#refillMs = Math.max(1, options.refillMs ?? DEFAULT_PACING_REFILL_MS);
    this.burstInFlight = Math.max(1, options.burstInFlight ?? BURST_IN_FLIGHT_PER_IP);
  }

  #bucket(ip: string, now: number): Bucket {
    let bucket = this.#buckets.get(ip);
    if (!bucket) {
      bucket = { tokens: this.#burst, at: now, inFlight: 0 };
      this.#buckets.set(ip, bucket);
    } else if (bucket.tokens < this.#burst) {
      bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.at) / this.#refillMs);
      bucket.at = now;
    } else {
      bucket.at = now;
    }
    return bucket;
  }

  /**
   * 0 when a probe to `ip` may start now; else the ms until one may, or Infinity when
   * it waits for a probe in flight to end (more than `maxInFlight` would be in flight).
   * Tokens are spent when an answer comes back, so while the bucket is not full the
   * probes in flight count against it: they may all come back rejected.
   */
  waitMs(ip: string, now: number, maxInFlight = Number.POSITIVE_INFINITY): number {
    if (ip === '') return 0;
    const bucket = this.#bucket(ip, now);
    if (bucket.inFlight >= maxInFlight) return Number.POSITIVE_INFINITY;
    if (LOOPBACK.test(ip) || bucket.tokens >= this.#burst) return 0;
    const available = bucket.tokens - bucket.inFlight;
    if (available >= 1) return 0;
    if (bucket.inFlight > 0 && bucket.tokens >= 1) return Number.POSITIVE_INFINITY;
    // Less a hair, so that 0.999 tokens at 1000 ms a token is 1 ms, not 2.
    return Math.max(1, Math.ceil((1 - bucket.tokens) * this.#refillMs - 1e-6));
  }

  /** A probe to `ip` starts. */
  started(ip: string, now: number): void {
    if (ip === '') return;
    this.#bucket(ip, now).inFlight++;
  }

  /** A probe to `ip` ended; an answer the kernel may have rate limited spends a token. */
  finished(ip: string, result: ProbeResult, now: number): void {
    if (ip === '') return;
    const bucket = this.#bucket(ip, now);
    bucket.inFlight = Math.max(0, bucket.inFlight - 1);
    if (!LOOPBACK.test(ip) && mayBeRateLimited(result)) bucket.tokens -= 1;
  }

  /** Whether `ip` is being held back for its ICMP budget (for check's progress line). */
  throttled(ip: string, now: number): boolean {
    const wait = this.waitMs(ip, now);
    return wait > 0 && wait !== Number.POSITIVE_INFINITY;
  }

  /** How many IPs are being held back for their ICMP budget now. */
  heldBack(now: number): number {
    let held = 0;
    for (const ip of this.#buckets.keys()) if (this.throttled(ip, now)) held++;
    return held;
  }

  /** Forgets IPs with nothing in flight and a full bucket, so the map stays the size of the live set. */
  prune(now: number): void {
    for (const [ip, bucket] of this.#buckets) {
      if (bucket.inFlight === 0 && this.#bucket(ip, now).tokens >= this.#burst) {
        this.#buckets.delete(ip);
      }
    }
  }
}
