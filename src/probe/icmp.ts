/**
 * ICMP echo per node, through net-ping's raw sockets. A raw socket needs
 * CAP_NET_RAW, which a hardened pod often lacks; in `auto` mode that costs one
 * warning and the port probes carry on, in `on` mode it stops the start.
 *
 * net-ping is loaded on `open()`, not at import: its native addon must not be able
 * to stop an exporter that runs with ICMP off, or on a platform where it did not build.
 */
import { randomInt } from 'node:crypto';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import type NetPing from 'net-ping';
import type { Logger } from '../util/log.js';

export const ICMP_MODES = ['auto', 'on', 'off'] as const;
/** `auto`: ping where a raw socket may be opened; `on`: refuse to start without; `off`: never. */
export type IcmpMode = (typeof ICMP_MODES)[number];

export interface IcmpPingerOptions {
  readonly mode: IcmpMode;
  /** Gets the one warning when `auto` finds no raw socket, and raw socket errors. */
  readonly logger: Logger;
}

export interface IcmpStatus {
  /** True when at least one address family can be pinged. */
  readonly enabled: boolean;
  /** Why ICMP is off, or why one family is, for the log and the status page. */
  readonly reason?: string;
}

export interface PingResult {
  readonly up: boolean;
  /** Round trip from a monotonic clock, when `up`. */
  readonly rttSeconds?: number;
  /** `timeout`, `unreachable`, `icmp disabled`, or the socket's error, when not `up`. */
  readonly error?: string;
}

/** Thrown by `open()` in mode `on` when no raw socket can be opened. */
export class IcmpUnavailableError extends Error {
  readonly code = 'ICMP_UNAVAILABLE';
  constructor(reason: string, options?: ErrorOptions) {
    super(
      `ICMP mode is "on" but no raw ICMP socket could be opened (${reason}); grant CAP_NET_RAW or set the ICMP mode to "auto" or "off"`,
      options,
    );
    this.name = 'IcmpUnavailableError';
  }
}

type NetPingModule = typeof NetPing;
type Session = NetPing.Session;
type Family = 4 | 6;

const DISABLED: PingResult = Object.freeze({ up: false, error: 'icmp disabled' });

// Every raw ICMP socket on the host sees every echo reply, and net-ping matches
// replies to sessions by this id. Its default, the pid, is 1 in most containers, so
// two exporters on one host network would take each other's replies: start at a
// random id and count up so this process's own sessions never share one either.
let nextSessionId = randomInt(1, 65535);
function allocateSessionId(): number {
  const id = nextSessionId;
  nextSessionId = (nextSessionId % 65534) + 1;
  return id;
}

export class IcmpPinger {
  readonly #options: IcmpPingerOptions;
  #netPing: NetPingModule | undefined;
  #v4: Session | undefined;
  #v6: Session | undefined;
  #status: IcmpStatus | undefined;

  constructor(options: IcmpPingerOptions) {
    this.#options = options;
  }

  /** Opens one raw socket per address family. Idempotent: a second call returns the first status. */
  open(): IcmpStatus {
    if (this.#status !== undefined) return this.#status;
    const { mode, logger } = this.#options;
    if (mode === 'off') {
      this.#status = { enabled: false, reason: 'icmp mode is off' };
      return this.#status;
    }

    let netPing: NetPingModule;
    try {
      netPing = createRequire(import.meta.url)('net-ping') as NetPingModule;
    } catch (err) {
      return this.#refuse(`net-ping did not load: ${describe(err)}`, err);
    }
    this.#netPing = netPing;

    const v4 = this.#openSession(netPing, 4);
    const v6 = this.#openSession(netPing, 6);
    if (!(v4 instanceof Refusal)) this.#v4 = v4;
    if (!(v6 instanceof Refusal)) this.#v6 = v6;

    if (v4 instanceof Refusal && v6 instanceof Refusal) {
      const reason = v4.reason === v6.reason ? v4.reason : `IPv4: ${v4.reason}; IPv6: ${v6.reason}`;
      return this.#refuse(reason, v4.cause);
    }
    if (v4 instanceof Refusal || v6 instanceof Refusal) {
      // A kernel without IPv6 is common and harmless: ping what can be pinged.
      const reason =
        v4 instanceof Refusal ? `IPv4: ${v4.reason}` : `IPv6: ${(v6 as Refusal).reason}`;
      logger.warn('ICMP probing works for one address family only', { reason });
      this.#status = { enabled: true, reason };
      return this.#status;
    }
    this.#status = { enabled: true };
    return this.#status;
  }

  /** One echo request. Never rejects. */
  ping(ip: string, timeoutMs: number): Promise<PingResult> {
    const family = isIP(ip);
    if (family === 0) return Promise.resolve({ up: false, error: 'not an IP literal' });
    const session = family === 4 ? this.#v4 : this.#v6;
    if (session === undefined) return Promise.resolve(DISABLED);
    const netPing = this.#netPing as NetPingModule;

    return new Promise<PingResult>((resolve) => {
      const startedAt = performance.now();
      try {
        // net-ping reads the session's timeout when it queues a request, so this
        // sets the timeout of this request only. No retries: one echo per probe.
        session.timeout = Math.max(1, Math.ceil(timeoutMs));
        session.pingHost(ip, (error) => {
          if (error === null) {
            // net-ping's own sent/rcvd are Dates with millisecond steps: a loopback
            // echo would read 0. The monotonic clock includes event-loop delay, which
            // at the scale of ICMP probes (one per node per cycle) is the better trade.
            resolve({ up: true, rttSeconds: (performance.now() - startedAt) / 1000 });
          } else {
            resolve({ up: false, error: pingError(netPing, error) });
          }
        });
      } catch (err) {
        // pingHost re-creates the raw socket after close(), and that can throw.
        resolve({ up: false, error: describe(err) });
      }
    });
  }

  /** Closes the raw sockets; pings still in flight resolve as not up. */
  close(): void {
    const sessions = [this.#v4, this.#v6];
    this.#v4 = undefined;
    this.#v6 = undefined;
    for (const session of sessions) session?.close();
  }

  #openSession(netPing: NetPingModule, family: Family): Session | Refusal {
    try {
      const session = netPing.createSession({
        networkProtocol: family === 4 ? netPing.NetworkProtocol.IPv4 : netPing.NetworkProtocol.IPv6,
        retries: 0,
        sessionId: allocateSessionId(),
      });
      session.on('error', (err) => {
        // raw-socket closes its socket on error and net-ping keeps the dead one;
        // close() drops it, so the next ping opens a fresh socket.
        this.#options.logger.warn('ICMP socket failed; reopening on the next ping', {
          family: `IPv${family}`,
          err,
        });
        session.close();
      });
      return session;
    } catch (err) {
      // raw-socket throws synchronously, with no errno code, when socket(2) fails.
      return new Refusal(describe(err), err);
    }
  }

  #refuse(reason: string, cause: unknown): IcmpStatus {
    this.close();
    if (this.#options.mode === 'on') {
      throw new IcmpUnavailableError(reason, cause === undefined ? undefined : { cause });
    }
    this.#options.logger.warn('ICMP probing disabled: no raw socket', { reason });
    this.#status = { enabled: false, reason };
    return this.#status;
  }
}

/** Why one family's raw socket could not be opened. */
class Refusal {
  constructor(
    readonly reason: string,
    readonly cause: unknown,
  ) {}
}

function pingError(netPing: NetPingModule, error: Error): string {
  if (error instanceof netPing.RequestTimedOutError) return 'timeout';
  if (error instanceof netPing.DestinationUnreachableError) return 'unreachable';
  return describe(error);
}

function describe(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && code !== '') return code;
  return err instanceof Error ? err.message : String(err);
}
