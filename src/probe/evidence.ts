/**
 * Whether a host is up, from what the probes already saw, and the state of each probe
 * given that. EHOSTUNREACH and ENETUNREACH come both from a firewall that rejects
 * (ICMP admin-prohibited, host-prohibited, net-prohibited...) and from a host that is
 * gone; the operator's next step is the opposite ("open the port" against "is the node
 * up?"), so the state must not depend on which one the errno happened to be.
 *
 * What the kernel does for an address with no host behind it: the first SYN starts
 * neighbour resolution (ARP or NDP), which gives up after about 3 s (3 probes a second
 * apart); every connect queued on it meanwhile fails with EHOSTUNREACH at that moment.
 * So a dead host always shows silence (the connect that started resolution times out
 * at a 2 s deadline, or fails only after ~3 s) next to EHOSTUNREACH, while a connect
 * that joined late can fail fast. A firewall's reject comes back in one round trip,
 * and a host behind it answers nothing else only when every probed port is rejected.
 *
 * The evidence, per IP and per cycle (this one and the last):
 * - up: a port answered (open or refused), or the echo did; or, with nothing else known,
 *   its unreachable errors came back fast and nothing was silent;
 * - down: nothing answered, some error was EHOSTUNREACH/ENETUNREACH, and some probe was
 *   silent (a connect or the echo) or failed slowly: the signature of a neighbour that
 *   never answers.
 * This cycle's evidence wins over the last one's, so a host that dies reads down as
 * soon as its signature shows. A down host's ports all read `unreachable`, timeouts
 * included, whatever their order in the cycle; an up host's EHOSTUNREACH reads
 * `rejected`. A failure before anything was sent (`local`: no route here) is
 * `unreachable` whatever the host does.
 */
import { HOST_DEPENDENT_ERRNOS } from './states.js';
import type { ProbeResult, ProbeState } from './types.js';

/**
 * An unreachable error faster than this is a round trip, not a neighbour giving up
 * (which takes about 3 s for a fresh resolution). Above 1 s: on a fast link the first
 * ICMPv6 error reaches the socket while connect() still holds it and is dropped
 * (TcpExtLockDroppedIcmps), so an IPv6 reject arrives with the SYN retransmitted 1 s
 * later (measured on the test bed).
 */
export const FAST_ERROR_SECONDS = 1.5;

/** What one cycle showed of one IP. */
interface Facts {
  /** A port answered, or the echo did. */
  answered: boolean;
  /** Network-origin EHOSTUNREACH / ENETUNREACH. */
  unreachable: number;
  /** Of which came back within FAST_ERROR_SECONDS. */
  fastUnreachable: number;
  /** Probes that timed out. */
  silent: number;
  /** An echo was sent and nothing came back. */
  echoSilent: boolean;
}

/** `up`, `down`, or nothing known either way. */
export type HostJudgement = 'up' | 'down' | 'unknown';

function judgeFacts(facts: Facts | undefined): HostJudgement {
  if (!facts) return 'unknown';
  if (facts.answered) return 'up';
  const slow = facts.unreachable - facts.fastUnreachable;
  if (facts.unreachable > 0 && (facts.silent > 0 || slow > 0 || facts.echoSilent)) return 'down';
  return 'unknown';
}

/** Fast unreachable errors and no silence: a rejecting host, with nothing else to go on. */
function fastOnly(facts: Facts | undefined): boolean {
  return (
    facts !== undefined &&
    facts.fastUnreachable > 0 &&
    facts.fastUnreachable === facts.unreachable &&
    facts.silent === 0 &&
    !facts.echoSilent
  );
}

/** The evidence of one prober's cycles; the exporter keeps one, `check` one per run. */
export class HostEvidence {
  #current = new Map<string, Facts>();
  #last = new Map<string, Facts>();

  /** The cycle's facts become the last cycle's. */
  newCycle(): void {
    this.#last = this.#current;
    this.#current = new Map();
  }

  #facts(ip: string): Facts {
    let facts = this.#current.get(ip);
    if (!facts) {
      facts = {
        answered: false,
        unreachable: 0,
        fastUnreachable: 0,
        silent: 0,
        echoSilent: false,
      };
      this.#current.set(ip, facts);
    }
    return facts;
  }

  /** Takes a probe's raw result (the errno's own state) as evidence. */
  note(ip: string, raw: ProbeResult): void {
    if (ip === '' || raw.local) return;
    if (raw.state === 'open' || raw.state === 'refused') {
      this.#facts(ip).answered = true;
    } else if (raw.state === 'timeout') {
      this.#facts(ip).silent++;
    } else if (raw.error !== undefined && HOST_DEPENDENT_ERRNOS.has(raw.error)) {
      const facts = this.#facts(ip);
      facts.unreachable++;
      if (raw.durationSeconds < FAST_ERROR_SECONDS) facts.fastUnreachable++;
    }
  }

  /**
   * An echo's outcome. A reply says the host is up. An echo that went unanswered is
   * silence like a timed-out connect: the echo may be what started neighbour resolution
   * on a dead address, so that every connect after it joined late and failed fast, which
   * alone would read as a firewall's reject (seen with check on a loaded machine). Hosts
   * that reject ports answer echo (RHEL's iptables and firewalld let it through), and a
   * firewall that rejects echo answers with an error, not silence.
   */
  noteEcho(ip: string, state: ProbeState): void {
    if (ip === '') return;
    if (state === 'open') this.#facts(ip).answered = true;
    else if (state === 'timeout') this.#facts(ip).echoSilent = true;
  }

  /** Up, down or unknown, from this cycle's facts, then the last cycle's. */
  judge(ip: string): HostJudgement {
    const now = judgeFacts(this.#current.get(ip));
    if (now !== 'unknown') return now;
    const before = judgeFacts(this.#last.get(ip));
    if (before !== 'unknown') return before;
    return fastOnly(this.#current.get(ip)) || fastOnly(this.#last.get(ip)) ? 'up' : 'unknown';
  }

  /** The state of a raw result on this IP, given what is known of the host. */
  stateOf(ip: string, raw: ProbeResult): ProbeState {
    if (raw.local) {
      // No route from here, or our own policy: nothing about the node.
      return raw.state === 'unreachable' ? 'unreachable' : raw.state;
    }
    if (raw.state === 'timeout') return this.judge(ip) === 'down' ? 'unreachable' : 'timeout';
    if (raw.error !== undefined && HOST_DEPENDENT_ERRNOS.has(raw.error)) {
      return this.judge(ip) === 'up' ? 'rejected' : 'unreachable';
    }
    return raw.state;
  }

  /** note() then stateOf(): the exporter judges each result as it arrives. */
  classify(ip: string, raw: ProbeResult): ProbeState {
    this.note(ip, raw);
    return this.stateOf(ip, raw);
  }
}

/** A raw result with the state the evidence gives it. */
export function withState(raw: ProbeResult, state: ProbeState): ProbeResult {
  return raw.state === state ? raw : { ...raw, state };
}
