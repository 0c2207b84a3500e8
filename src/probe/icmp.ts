/**
 * ICMP echo per node. For each address family the pinger takes the first socket the
 * kernel gives it:
 *
 * 1. an ICMP datagram socket (src/probe/icmp-datagram.ts), which needs no capability,
 *    only the process's group inside net.ipv4.ping_group_range (one namespaced sysctl,
 *    on Kubernetes' safe list, covering IPv4 and IPv6); its round trips come from
 *    kernel timestamps;
 * 2. else net-ping's raw socket (src/probe/icmp-raw.ts), which needs CAP_NET_RAW.
 *
 * Without either, `auto` costs one warning and the port probes carry on; `on` stops
 * the start. open() logs one line saying which socket it got, or why none.
 */
import { isIP } from 'node:net';
import type { Logger } from '../util/log.js';
import { DatagramPinger } from './icmp-datagram.js';
import { describe, RawPinger } from './icmp-raw.js';
import type { IcmpFamily, IcmpFamilyPinger, IcmpSocketKind, PingResult } from './icmp-types.js';

export type { IcmpSocketKind, PingResult } from './icmp-types.js';

export const ICMP_MODES = ['auto', 'on', 'off'] as const;
/** `auto`: ping where a socket may be opened; `on`: refuse to start without; `off`: never. */
export type IcmpMode = (typeof ICMP_MODES)[number];

export interface IcmpPingerOptions {
  readonly mode: IcmpMode;
  /** Gets the one line of open() (which socket, or why none), and raw socket errors. */
  readonly logger: Logger;
}

export interface IcmpStatus {
  /** True when at least one address family can be pinged. */
  readonly enabled: boolean;
  /** Why ICMP is off, or why one family is, for the log and the status page. */
  readonly reason?: string;
  /** The socket kind in use, when enabled (IPv4's where the families differ). */
  readonly socket?: IcmpSocketKind;
}

/** Thrown by `open()` in mode `on` when no ICMP socket can be opened. */
export class IcmpUnavailableError extends Error {
  readonly code = 'ICMP_UNAVAILABLE';
  constructor(reason: string, options?: ErrorOptions) {
    super(
      `ICMP mode is "on" but no ICMP socket could be opened (${reason}); put the process's group in net.ipv4.ping_group_range, grant CAP_NET_RAW, or set the ICMP mode to "auto" or "off"`,
      options,
    );
    this.name = 'IcmpUnavailableError';
  }
}

const DISABLED: PingResult = Object.freeze({ up: false, error: 'icmp disabled' });
const FAMILIES: readonly IcmpFamily[] = [4, 6];

/** What one family got: a socket, or why neither kind opened. */
type Opened =
  | { readonly pinger: IcmpFamilyPinger; readonly datagramRefused?: string }
  | { readonly refused: string; readonly cause: unknown };

export class IcmpPinger {
  readonly #options: IcmpPingerOptions;
  readonly #pingers = new Map<IcmpFamily, IcmpFamilyPinger>();
  #status: IcmpStatus | undefined;

  constructor(options: IcmpPingerOptions) {
    this.#options = options;
  }

  /** Opens one socket per address family. Idempotent: a second call returns the first status. */
  open(): IcmpStatus {
    if (this.#status !== undefined) return this.#status;
    const { mode, logger } = this.#options;
    if (mode === 'off') {
      this.#status = { enabled: false, reason: 'icmp mode is off' };
      return this.#status;
    }

    const opened = new Map<IcmpFamily, Opened>();
    for (const family of FAMILIES) {
      const result = this.#openFamily(family);
      opened.set(family, result);
      if ('pinger' in result) this.#pingers.set(family, result.pinger);
    }
    const v4 = opened.get(4) as Opened;
    const v6 = opened.get(6) as Opened;

    if ('refused' in v4 && 'refused' in v6) {
      const reason =
        v4.refused === v6.refused ? v4.refused : `IPv4: ${v4.refused}; IPv6: ${v6.refused}`;
      this.close();
      if (mode === 'on') throw new IcmpUnavailableError(reason, { cause: v4.cause });
      logger.warn('ICMP probing disabled: no ICMP socket', { reason });
      this.#status = { enabled: false, reason };
      return this.#status;
    }

    const working = 'pinger' in v4 ? v4 : (v6 as Extract<Opened, { pinger: unknown }>);
    const socket = working.pinger.socket;
    // Why the datagram socket was refused, when the raw one stood in: the operator's
    // way to drop CAP_NET_RAW is to set the sysctl.
    const datagram = working.datagramRefused;
    const details = { socket, ...(datagram !== undefined && { datagram }) };
    if ('refused' in v4 || 'refused' in v6) {
      // A kernel without IPv6 is common and harmless: ping what can be pinged.
      const reason =
        'refused' in v4 ? `IPv4: ${v4.refused}` : `IPv6: ${(v6 as { refused: string }).refused}`;
      logger.warn('ICMP probing works for one address family only', { ...details, reason });
      this.#status = { enabled: true, reason, socket };
      return this.#status;
    }
    logger.info('ICMP probing enabled', details);
    this.#status = { enabled: true, socket };
    return this.#status;
  }

  /** One echo request. Never rejects. */
  ping(ip: string, timeoutMs: number): Promise<PingResult> {
    const family = ipFamily(ip);
    if (family === undefined) return Promise.resolve({ up: false, error: 'not an IP literal' });
    return this.#pingers.get(family)?.ping(ip, timeoutMs) ?? Promise.resolve(DISABLED);
  }

  /** Closes the sockets; pings still in flight resolve as not up. */
  close(): void {
    for (const pinger of this.#pingers.values()) pinger.close();
    this.#pingers.clear();
  }

  #openFamily(family: IcmpFamily): Opened {
    let datagramRefused: string;
    try {
      return { pinger: new DatagramPinger(family) };
    } catch (err) {
      datagramRefused = datagramRefusal(err);
    }
    try {
      return { pinger: new RawPinger(family, this.#options.logger), datagramRefused };
    } catch (err) {
      // raw-socket throws synchronously, with no errno code, when socket(2) fails.
      return {
        refused: `datagram socket: ${datagramRefused}; raw socket: ${rawRefusal(err)}`,
        cause: err,
      };
    }
  }
}

/** Why the kernel (or the missing addon) refused an ICMP datagram socket. */
function datagramRefusal(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES') {
    return `EACCES, net.ipv4.ping_group_range does not include group ${process.getgid?.() ?? '?'}`;
  }
  if (code === 'MODULE_NOT_FOUND' || code === 'ERR_DLOPEN_FAILED') {
    return 'the icmp_dgram addon is not built (npm ci builds it)';
  }
  return describe(err);
}

function rawRefusal(err: unknown): string {
  const reason = describe(err);
  return reason === 'Operation not permitted' ? `${reason}, needs CAP_NET_RAW` : reason;
}

function ipFamily(ip: string): IcmpFamily | undefined {
  const family = isIP(ip);
  return family === 4 || family === 6 ? family : undefined;
}
