/** What the ICMP pinger and its two socket kinds (datagram, raw) share. */

export type IcmpFamily = 4 | 6;

/**
 * `datagram`: an ICMP datagram socket, allowed by net.ipv4.ping_group_range, no
 * capability needed. `raw`: net-ping's raw socket, which needs CAP_NET_RAW.
 */
export type IcmpSocketKind = 'datagram' | 'raw';

export interface PingResult {
  readonly up: boolean;
  /**
   * Round trip, when `up`. Datagram sockets: from the send time and the kernel's
   * receive timestamp. Raw sockets: an upper bound, from a monotonic clock read in
   * JavaScript, which includes the event loop's delay in noticing the reply.
   */
  readonly rttSeconds?: number;
  /**
   * Where `rttSeconds` came from: `kernel` (the send time and the kernel's receive
   * timestamp), or `clock`, a monotonic clock read in JavaScript: the raw socket, or a
   * datagram reply the kernel did not stamp on arrival (the first after the system's
   * timestamping switched on).
   */
  readonly rttFrom?: 'kernel' | 'clock';
  /** `timeout`, `unreachable`, `icmp disabled`, or the socket's error, when not `up`. */
  readonly error?: string;
}

/** One address family's socket. `ping` never rejects. */
export interface IcmpFamilyPinger {
  readonly socket: IcmpSocketKind;
  readonly family: IcmpFamily;
  ping(ip: string, timeoutMs: number): Promise<PingResult>;
  close(): void;
}
