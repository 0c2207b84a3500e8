/**
 * Every TCP probe in flight holds a file descriptor, and so does every scrape, watch
 * and DNS query. When probes take them all, the HTTP server cannot accept a scrape:
 * /metrics goes dark exactly when something is wrong. So the probe concurrency is
 * capped below the process's open-files limit, leaving a reserve for the rest.
 *
 * Node has no getrlimit; on Linux /proc/self/limits says the soft limit and
 * /proc/self/fd what is open already. Elsewhere nothing is known and nothing is capped.
 */
import { readdirSync, readFileSync } from 'node:fs';

/**
 * Descriptors kept free for everything but probes: scrapes from a few Prometheus
 * servers and browsers, the Kubernetes watches and lists, DNS, the ICMP socket.
 */
export const FD_RESERVE = 64;

export interface FdBudget {
  /** The soft RLIMIT_NOFILE; undefined when unlimited or unknown. */
  readonly softLimit?: number;
  /** Descriptors open when it was read; undefined when unknown. */
  readonly open?: number;
}

/** The soft limit from the text of /proc/self/limits; undefined for `unlimited` or no such line. */
export function parseOpenFilesLimit(limitsText: string): number | undefined {
  const line = limitsText.split('\n').find((l) => l.startsWith('Max open files'));
  const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
  if (soft === undefined || !/^\d+$/.test(soft)) return undefined;
  return Number(soft);
}

/** This process's limit and open descriptors, as far as the system tells. Never throws. */
export function readFdBudget(): FdBudget {
  let softLimit: number | undefined;
  let open: number | undefined;
  try {
    softLimit = parseOpenFilesLimit(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    // Not Linux, or /proc not mounted: no limit known.
  }
  try {
    // Minus the descriptor readdir itself holds while it reads.
    open = readdirSync('/proc/self/fd').length - 1;
  } catch {
    // As above.
  }
  return {
    ...(softLimit !== undefined && { softLimit }),
    ...(open !== undefined && { open }),
  };
}

export interface ConcurrencyFit {
  /** What to run with: the configured concurrency, or less to fit the limit. */
  readonly concurrency: number;
  /** True when it had to be lowered. */
  readonly lowered: boolean;
  /** Descriptors the probes may use: limit - open - reserve; undefined when no limit is known. */
  readonly available?: number;
}

/**
 * The probe concurrency that leaves `reserve` descriptors free: the configured one
 * when it fits (or nothing is known), else what fits, at least 1.
 */
export function fitConcurrency(
  configured: number,
  budget: FdBudget,
  reserve: number = FD_RESERVE,
): ConcurrencyFit {
  if (budget.softLimit === undefined) return { concurrency: configured, lowered: false };
  const available = budget.softLimit - (budget.open ?? 0) - reserve;
  if (configured <= available) return { concurrency: configured, lowered: false, available };
  return { concurrency: Math.max(1, available), lowered: true, available };
}
