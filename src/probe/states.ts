/**
 * The one table of what a probe state means and what the operator does about it, and
 * of which errno (and which ICMP message behind it) leads to which state. The check
 * output, the status page, the alert descriptions, the runbook and the README all take
 * their words from here, so they cannot disagree.
 *
 * Linux turns an ICMP destination-unreachable that answers a SYN into a connect()
 * error (net/ipv4/icmp.c icmp_err_convert, net/ipv6/icmp.c tab_unreach); the rows
 * below follow those two tables. Some errnos say the same thing whoever sent them
 * (EACCES, ENOPROTOOPT: only a host or a firewall on the way answers so); two
 * (EHOSTUNREACH, ENETUNREACH) come both from a firewall's reject and from a host that
 * is gone, and only evidence about the host tells them apart (evidence.ts).
 */
import type { ProbeState } from './types.js';

export interface StateGuide {
  readonly state: ProbeState;
  /** The value of imanager_port_state. */
  readonly value: number;
  /** A few words for tables: `nothing listens`. */
  readonly short: string;
  /** What the state says about the port, in one line. */
  readonly meaning: string;
  /** The next step when the port should answer, in one line. */
  readonly action: string;
}

/** In the order of PROBE_STATES (the value of imanager_port_state). */
export const STATE_GUIDE: Readonly<Record<ProbeState, StateGuide>> = {
  open: {
    state: 'open',
    short: 'answers',
    value: 0,
    meaning: 'a TCP connect succeeded',
    action: 'nothing to do; where the port should be closed, close it to this vantage',
  },
  refused: {
    state: 'refused',
    short: 'nothing listens',
    value: 1,
    meaning: 'the node answered that nothing listens there (TCP reset or ICMP port unreachable)',
    action: 'start the service or fix the port it listens on',
  },
  timeout: {
    state: 'timeout',
    short: 'dropped on the way',
    value: 2,
    meaning:
      'no answer before the timeout: a firewall drops the packets, or the listener is overloaded',
    action: 'open the port in the firewall or security group on the way, or relieve the listener',
  },
  unreachable: {
    state: 'unreachable',
    short: 'node down or no route',
    value: 3,
    meaning: 'the node is down or there is no route to it: none of its ports answer',
    action: 'check that the node is up and routed from here; its port alerts wait for it',
  },
  error: {
    state: 'error',
    short: 'not probed',
    value: 4,
    meaning:
      'the probe could not run here: a name that does not resolve, no file descriptor, no local address',
    action: "fix the exporter's side: the reason names what failed",
  },
  rejected: {
    state: 'rejected',
    short: 'a firewall rejects it',
    value: 5,
    meaning:
      'a firewall on the way answered that the port is blocked (ICMP prohibited or unreachable)',
    action:
      'open the port in the firewall that rejects it (nftables, iptables, firewalld, security group)',
  },
};

/** When a cause leads to its state. */
export type CauseCondition =
  /** Whatever else is known. */
  | 'always'
  /** The host answered otherwise: another port, an echo, or an error too fast for a neighbour failure. */
  | 'host up'
  /** No evidence that the host is up. */
  | 'host down';

export interface ProbeCause {
  /** The errno of the connect, `ETIMEDOUT` for the probe's own deadline, or `connected`. */
  readonly errno: string;
  /** What sends it: the ICMP message, or what happened on this host. */
  readonly source: string;
  /** The nftables rule that produces it, for the test bed and the runbook; absent when none does. */
  readonly nft?: string;
  readonly condition: CauseCondition;
  readonly state: ProbeState;
}

/** Every cause the classification knows, for the README and runbook tables. */
export const PROBE_CAUSES: readonly ProbeCause[] = [
  { errno: 'connected', source: 'the TCP handshake completed', condition: 'always', state: 'open' },
  {
    errno: 'ECONNREFUSED',
    source: 'TCP reset: nothing listens',
    nft: 'reject with tcp reset',
    condition: 'always',
    state: 'refused',
  },
  {
    errno: 'ECONNREFUSED',
    source:
      'ICMP port unreachable / ICMPv6 port unreachable (iptables REJECT, kube-proxy for a Service without endpoints)',
    nft: 'reject with icmp port-unreachable',
    condition: 'always',
    state: 'refused',
  },
  {
    errno: 'ETIMEDOUT',
    source: 'no answer: a drop rule, a full accept queue, a host that is silent',
    nft: 'drop',
    condition: 'host up',
    state: 'timeout',
  },
  {
    errno: 'ETIMEDOUT',
    source: 'no answer from a host that is evidently down',
    condition: 'host down',
    state: 'unreachable',
  },
  {
    errno: 'EHOSTUNREACH',
    source:
      'ICMP admin-prohibited, host-prohibited, host-unreachable; firewalld icmpx admin-prohibited (IPv4); ICMPv6 address unreachable',
    nft: 'reject with icmp admin-prohibited',
    condition: 'host up',
    state: 'rejected',
  },
  {
    errno: 'EHOSTUNREACH',
    source:
      'neighbour resolution failed (no host behind the address), or a router says the host is gone',
    condition: 'host down',
    state: 'unreachable',
  },
  {
    errno: 'ENETUNREACH',
    source: 'ICMP net-prohibited or net-unreachable; ICMPv6 no route',
    nft: 'reject with icmp net-prohibited',
    condition: 'host up',
    state: 'rejected',
  },
  {
    errno: 'ENETUNREACH',
    source: 'no route to the address from this host, or a router says so',
    condition: 'host down',
    state: 'unreachable',
  },
  {
    errno: 'EACCES',
    source:
      'ICMPv6 admin-prohibited, policy-fail, reject-route; firewalld icmpx admin-prohibited (IPv6); a prohibit route here',
    nft: 'reject with icmpv6 admin-prohibited',
    condition: 'always',
    state: 'rejected',
  },
  {
    errno: 'EPERM',
    source: "this host's own firewall rejects the connect (output chain)",
    condition: 'always',
    state: 'rejected',
  },
  {
    errno: 'ENOPROTOOPT',
    source: 'ICMP protocol unreachable',
    nft: 'reject with icmp prot-unreachable',
    condition: 'always',
    state: 'rejected',
  },
  {
    errno: 'EHOSTDOWN',
    source: 'ICMP host unknown',
    condition: 'always',
    state: 'unreachable',
  },
  {
    errno: 'ENONET',
    source: 'ICMP host isolated',
    condition: 'always',
    state: 'unreachable',
  },
  {
    errno: 'EMFILE, ENFILE, EADDRNOTAVAIL, ENOBUFS',
    source: 'this host ran out of descriptors, local ports or buffers',
    condition: 'always',
    state: 'error',
  },
  {
    errno: 'ENOTFOUND, EAI_AGAIN, ENODATA, ETIMEOUT',
    source: 'the node name does not resolve, or the resolver did not answer within 5 s',
    condition: 'always',
    state: 'error',
  },
];

/** Errnos whose state depends on whether the host is up (see evidence.ts). */
export const HOST_DEPENDENT_ERRNOS: ReadonlySet<string> = new Set(['EHOSTUNREACH', 'ENETUNREACH']);

/**
 * The state an errno gives on its own, before any evidence about the host: the
 * `always` rows, `timeout` for a deadline, and for EHOSTUNREACH and ENETUNREACH
 * `unreachable`, which evidence that the host is up turns into `rejected`.
 */
export function stateOfErrno(code: string): ProbeState {
  switch (code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ETIMEDOUT':
      return 'timeout';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'ENONET':
      return 'unreachable';
    case 'EACCES':
    case 'EPERM':
    case 'ENOPROTOOPT':
      return 'rejected';
    default:
      return 'error';
  }
}

/**
 * The states of a node address that answers nothing at all: the probe's own deadline
 * passed (ETIMEDOUT) or the kernel found no host there (every `host down` cause). A node
 * whose every probed port is in one of these is down from this vantage: the alert
 * rules' imanager:node_down and the status page's "nothing answers" row both mean this.
 * A reject is an answer (a firewall on the way spoke for the host), so it is not here.
 */
export const NODE_DOWN_STATES: readonly ProbeState[] = [
  ...new Set(
    PROBE_CAUSES.filter((c) => c.errno === 'ETIMEDOUT' || c.condition === 'host down').map(
      (c) => c.state,
    ),
  ),
];
