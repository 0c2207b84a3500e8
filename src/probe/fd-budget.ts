/**
 * Every TCP probe in flight holds a file descriptor, and so does every scrape, watch
 * and DNS query. When probes take them all, the HTTP server cannot accept a scrape:
 * /metrics goes dark exactly when something is wrong; when scrapes take them all, the
 * probes fail with EMFILE. So the open-files limit is split at start: a reserve for
 * discovery and the rest, a share for HTTP connections (the server's cap), and the
 * probes' concurrency, each lowered to fit and never past what was configured.
 *
 * Node has no getrlimit; on Linux /proc/self/limits says the soft limit and
 * /proc/self/fd what is open already. Elsewhere nothing is known and nothing is capped.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Logger } from '../util/log.js';

/**
 * Descriptors kept free for everything but probes and scrapes: the Kubernetes watches
 * and lists, DNS, the ICMP socket, worker threads, the config and PEM files.
 */
export const FD_RESERVE = 32;

/** Least HTTP connections and least probes in flight worth running with. */
export const MIN_SHARE = 16;

/**
 * Below this soft limit the exporter refuses to start (exit 2): what Node itself opens,
 * the reserve, and the least shares leave nothing to spare under it.
 */
export const MIN_OPEN_FILES = 128;

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

/** This process's soft open-files limit, undefined when unknown. Never throws. */
export function readOpenFilesLimit(): number | undefined {
  try {
    return parseOpenFilesLimit(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    // Not Linux, or /proc not mounted: no limit known.
    return undefined;
  }
}

/** This process's limit and open descriptors, as far as the system tells. Never throws. */
export function readFdBudget(): FdBudget {
  const softLimit = readOpenFilesLimit();
  let open: number | undefined;
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

/** The one line a too-low limit exits with. */
export function openFilesTooLowMessage(softLimit: number): string {
  return `the open-files limit (ulimit -n) is ${softLimit}; the exporter needs at least ${MIN_OPEN_FILES}: raise it (ulimit -n, LimitNOFILE=, or the container runtime's nofile)`;
}

export interface DescriptorPlan {
  /** Probes in flight at most: the configured concurrency, or less to fit the limit. */
  readonly probes: number;
  /** HTTP connections open at most: the configured cap, or less to fit the limit. */
  readonly connections: number;
  /** True when either had to be lowered. */
  readonly lowered: boolean;
  /** Descriptors for probes and connections: limit - open - reserve; undefined when no limit is known. */
  readonly available?: number;
}

/**
 * Splits the descriptors: the configured shares when both fit (or nothing is known);
 * else a quarter of what is left for connections and the rest for probes, each at
 * least MIN_SHARE. Throws an OPEN_FILES_TOO_LOW error below MIN_OPEN_FILES.
 */
export function planDescriptors(
  wanted: { readonly probes: number; readonly connections: number },
  budget: FdBudget,
  reserve: number = FD_RESERVE,
): DescriptorPlan {
  const { softLimit } = budget;
  if (softLimit === undefined) return { ...wanted, lowered: false };
  if (softLimit < MIN_OPEN_FILES) throw new OpenFilesError(softLimit);
  const available = Math.max(0, softLimit - (budget.open ?? 0) - reserve);
  if (wanted.probes + wanted.connections <= available) {
    return { ...wanted, lowered: false, available };
  }
  const connections = Math.min(wanted.connections, Math.max(MIN_SHARE, Math.floor(available / 4)));
  const probes = Math.min(wanted.probes, Math.max(MIN_SHARE, available - connections));
  return { probes, connections, lowered: true, available };
}

/** The limit is too low to run at all: the user's to fix, exit 2. */
export class OpenFilesError extends Error {
  readonly code = 'OPEN_FILES_TOO_LOW';
  constructor(readonly softLimit: number) {
    super(openFilesTooLowMessage(softLimit));
    this.name = 'OpenFilesError';
  }
}

/**
 * The wanted concurrency and HTTP connection cap, or less of each so that both fit the
 * open-files limit beside FD_RESERVE: /metrics must answer most when probes fail, and a
 * flood of connections must not take the probes' descriptors. Logs one warning when
 * either is lowered; throws OPEN_FILES_TOO_LOW where nothing fits.
 */
export function fitToOpenFilesLimit(
  wanted: { readonly probes: number; readonly connections: number },
  logger: Logger,
  budget: FdBudget = readFdBudget(),
): DescriptorPlan {
  const plan = planDescriptors(wanted, budget);
  if (plan.lowered) {
    logger.warn('probe concurrency lowered to fit the open-files limit', {
      configured: wanted.probes,
      concurrency: plan.probes,
      connections: plan.connections,
      openFilesLimit: budget.softLimit,
      open: budget.open,
      reserve: FD_RESERVE,
      hint: 'raise the limit (ulimit -n, LimitNOFILE=) or lower --probe.concurrency',
    });
  }
  return plan;
}
