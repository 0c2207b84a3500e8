/**
 * ICMP echo for one address family over net-ping's raw socket: the fallback where the
 * kernel refuses an ICMP datagram socket (net.ipv4.ping_group_range does not cover
 * the process's group). A raw socket needs CAP_NET_RAW.
 *
 * net-ping is loaded on first use, not at import: its native addon must not be able to
 * stop an exporter that runs with ICMP off, or on a platform where it did not build.
 */
import { randomInt } from 'node:crypto';
import { createRequire } from 'node:module';
import type NetPing from 'net-ping';
import type { Logger } from '../util/log.js';
import type { IcmpFamily, IcmpFamilyPinger, PingResult } from './icmp-types.js';

type NetPingModule = typeof NetPing;

let netPing: NetPingModule | undefined;

/** Loads net-ping once; throws when it (or raw-socket's addon) does not load. */
function loadNetPing(): NetPingModule {
  netPing ??= createRequire(import.meta.url)('net-ping') as NetPingModule;
  return netPing;
}

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

export class RawPinger implements IcmpFamilyPinger {
  readonly socket = 'raw' as const;
  readonly #netPing: NetPingModule;
  #session: NetPing.Session | undefined;

  /** Opens the raw socket; throws when net-ping does not load or socket(2) is refused. */
  constructor(
    readonly family: IcmpFamily,
    logger: Logger,
  ) {
    const module = loadNetPing();
    this.#netPing = module;
    const session = module.createSession({
      networkProtocol: family === 4 ? module.NetworkProtocol.IPv4 : module.NetworkProtocol.IPv6,
      retries: 0,
      sessionId: allocateSessionId(),
    });
    session.on('error', (err) => {
      // raw-socket closes its socket on error and net-ping keeps the dead one;
      // close() drops it, so the next ping opens a fresh socket.
      logger.warn('ICMP socket failed; reopening on the next ping', {
        family: `IPv${family}`,
        err,
      });
      session.close();
    });
    this.#session = session;
  }

  ping(ip: string, timeoutMs: number): Promise<PingResult> {
    const session = this.#session;
    if (session === undefined) return Promise.resolve({ up: false, error: 'icmp disabled' });
    const netPing = this.#netPing;
    return new Promise<PingResult>((resolve) => {
      const startedAt = performance.now();
      try {
        // net-ping reads the session's timeout when it queues a request, so this
        // sets the timeout of this request only. No retries: one echo per probe.
        session.timeout = Math.max(1, Math.ceil(timeoutMs));
        session.pingHost(ip, (error) => {
          if (error === null) {
            // net-ping's own sent/rcvd are Dates with millisecond steps: a loopback echo
            // would read 0. The monotonic clock includes the event loop's delay, so this
            // is an upper bound; datagram sockets measure from kernel timestamps instead.
            resolve({
              up: true,
              rttSeconds: (performance.now() - startedAt) / 1000,
              rttFrom: 'clock',
            });
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

  close(): void {
    const session = this.#session;
    this.#session = undefined;
    session?.close();
  }
}

function pingError(netPing: NetPingModule, error: Error): string {
  if (error instanceof netPing.RequestTimedOutError) return 'timeout';
  if (error instanceof netPing.DestinationUnreachableError) return 'unreachable';
  return describe(error);
}

/** An errno code where there is one, else the message. */
export function describe(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && code !== '') return code;
  return err instanceof Error ? err.message : String(err);
}
