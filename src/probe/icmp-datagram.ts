/**
 * ICMP echo for one address family over a Linux ICMP datagram socket, through the
 * addon in native/icmp_dgram.c (built by `npm ci` from binding.gyp). No capability is
 * needed: the kernel allows the socket when the process's group lies in
 * net.ipv4.ping_group_range, and says EACCES otherwise.
 *
 * The kernel hands this socket only the replies to its own echo identifier, so
 * requests are matched by sequence number alone, and the round trip comes from the
 * addon's two timestamps (send time in the payload, the kernel's receive stamp), not
 * from when this event loop got round to the reply.
 */
import { randomInt } from 'node:crypto';
import { createRequire } from 'node:module';
import type { IcmpFamily, IcmpFamilyPinger, PingResult } from './icmp-types.js';

/** The addon's socket (native/icmp_dgram.c). */
interface NativeSocket {
  send(ip: string, seq: number): void;
  close(): void;
}

interface Addon {
  open(
    family: IcmpFamily,
    onMessage: (
      kind: number,
      seq: number,
      rttNs: number,
      icmpType: number,
      icmpCode: number,
      address: string,
    ) => void,
  ): NativeSocket;
}

const REPLY = 0;
const SEQUENCES = 65536;

interface Pending {
  readonly resolve: (result: PingResult) => void;
  readonly timer: NodeJS.Timeout;
  readonly startedAt: number;
}

// Relative to this file, in src/probe/ and in dist/probe/ alike: node-gyp builds into
// build/Release/ at the repository root (and the image copies it to the same place).
const ADDON_PATH = '../../build/Release/icmp_dgram.node';

let addon: Addon | undefined;

/** Loads the addon once; throws when it was not built (`npm ci` builds it). */
function loadAddon(): Addon {
  addon ??= createRequire(import.meta.url)(ADDON_PATH) as Addon;
  return addon;
}

export class DatagramPinger implements IcmpFamilyPinger {
  readonly socket = 'datagram' as const;
  readonly #native: NativeSocket;
  readonly #pending = new Map<number, Pending>();
  #nextSeq = randomInt(0, SEQUENCES);
  #closed = false;

  /** Opens the socket; throws the addon's Error (`code` EACCES when the sysctl refuses). */
  constructor(readonly family: IcmpFamily) {
    this.#native = loadAddon().open(family, (kind, seq, rttNs, icmpType, icmpCode) =>
      this.#answer(kind, seq, rttNs, icmpType, icmpCode),
    );
  }

  ping(ip: string, timeoutMs: number): Promise<PingResult> {
    if (this.#closed) return Promise.resolve({ up: false, error: 'icmp disabled' });
    const seq = this.#allocateSeq();
    if (seq === undefined) return Promise.resolve({ up: false, error: 'too many pings in flight' });
    return new Promise<PingResult>((resolve) => {
      const timer = setTimeout(() => this.#settle(seq, { up: false, error: 'timeout' }), timeoutMs);
      this.#pending.set(seq, { resolve, timer, startedAt: performance.now() });
      try {
        this.#native.send(ip, seq);
      } catch (err) {
        // The same words as the raw socket's: "No route to host" from a reject route.
        this.#settle(seq, { up: false, error: (err as Error).message });
      }
    });
  }

  /** Closes the socket; pings still in flight resolve as not up. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.close();
    for (const seq of [...this.#pending.keys()]) {
      this.#settle(seq, { up: false, error: 'icmp disabled' });
    }
  }

  #answer(kind: number, seq: number, rttNs: number, icmpType: number, icmpCode: number): void {
    const pending = this.#pending.get(seq);
    if (pending === undefined) return; // late: its timeout already answered
    if (kind === REPLY) {
      // -1: no arrival timestamp (or the wall clock stepped); the monotonic clock is next best.
      this.#settle(
        seq,
        rttNs >= 0
          ? { up: true, rttSeconds: rttNs / 1e9, rttFrom: 'kernel' }
          : {
              up: true,
              rttSeconds: (performance.now() - pending.startedAt) / 1000,
              rttFrom: 'clock',
            },
      );
      return;
    }
    this.#settle(seq, { up: false, error: icmpErrorWords(this.family, icmpType, icmpCode) });
  }

  #settle(seq: number, result: PingResult): void {
    const pending = this.#pending.get(seq);
    if (pending === undefined) return;
    this.#pending.delete(seq);
    clearTimeout(pending.timer);
    pending.resolve(result);
  }

  #allocateSeq(): number | undefined {
    for (let tries = 0; tries < SEQUENCES; tries++) {
      const seq = this.#nextSeq;
      this.#nextSeq = (this.#nextSeq + 1) % SEQUENCES;
      if (!this.#pending.has(seq)) return seq;
    }
    return undefined;
  }
}

/** An ICMP error about our echo, in the words net-ping's errors give on the raw path. */
function icmpErrorWords(family: IcmpFamily, type: number, code: number): string {
  const unreachable = family === 4 ? 3 : 1;
  const timeExceeded = family === 4 ? 11 : 3;
  if (type === unreachable) return 'unreachable';
  if (type === timeExceeded) return 'time exceeded';
  return `ICMP${family === 6 ? 'v6' : ''} type ${type} code ${code}`;
}
