/**
 * What a probe found. The order is the value of imanager_port_state; what each state
 * means, what causes it and what to do about it is the table in states.ts.
 */
export const PROBE_STATES = [
  'open',
  'refused',
  'timeout',
  'unreachable',
  'error',
  'rejected',
] as const;
export type ProbeState = (typeof PROBE_STATES)[number];

/** A probe's outcome as data: the scheduler and the store decide what to do with it. */
export interface ProbeResult {
  readonly state: ProbeState;
  /** Connect time from a monotonic clock; the time to the deadline on timeout. */
  readonly durationSeconds: number;
  /** The errno code (`ECONNREFUSED`, `EMFILE`, ...) or a short reason, when not open. */
  readonly error?: string;
  /**
   * True when the connect failed on this host before anything was sent (no route, a
   * prohibit route, no descriptor): such an error says nothing about the node.
   */
  readonly local?: boolean;
}

/** What the scheduler needs of anything it probes: a port target or a node's echo. */
export interface ProbeJob {
  /** Unique in a cycle, stable across cycles. */
  readonly key: string;
  /** Jobs of one node are spread over the cycle. */
  readonly node: string;
  /** The IP literal probed; pacing is per IP. Empty when there is none to send to. */
  readonly ip: string;
}

/** Where one probe goes. Hosts are resolved before the prober is called. */
export interface ProbeRequest {
  /** An IPv4 or IPv6 literal. */
  readonly ip: string;
  readonly port: number;
  readonly timeoutMs: number;
  /**
   * After the timeout, keep the connect open this long for an EHOSTUNREACH still to
   * come: our own neighbour resolution gives up only after about 3 s, so a dead host on
   * the link otherwise only ever reads as silence. Asked for IPs not known to be up.
   */
  readonly lingerMs?: number;
}

/** One prober per protocol; all share this shape. */
export type Prober = (request: ProbeRequest) => Promise<ProbeResult>;
