/**
 * Host names, resolved ahead of and beside probing, never in its way. A resolver that
 * drops queries makes each lookup wait out the system resolver's timeouts (5 s, twice,
 * with glibc's defaults); waiting for that at every cycle start stretched a 5 s cycle to
 * 52 s with nine such names, IP-literal nodes included. So names live in a cache that
 * its own loop refreshes: a cycle takes whatever answer is there.
 *
 * - Each name is looked up again every `refreshMs`, with at most `parallel` lookups in
 *   flight (they run on libuv's thread pool, which gzip and file reads share) and each
 *   given up after `timeoutMs` (the system call goes on in its thread; the name is not
 *   asked again until it returns, so a dead resolver holds at most `parallel` threads).
 * - A name that fails keeps its last good answer for `staleMs`, said once in the log;
 *   after that it is an error with the resolver's reason, as is a name that never
 *   resolved.
 * - Every answer of a name is kept (`dns.lookup` with `all`), so a dual-stack name is
 *   probed on both families, filtered by `ipFamilies`.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { familyOf, type IpFamily } from '../discovery/families.js';
import { type Clock, systemClock } from '../util/clock.js';
import { type Logger, silentLogger } from '../util/log.js';

/** Every answer of one lookup: IP literals, in the resolver's order. */
export type LookupAllFn = (host: string) => Promise<readonly string[]>;

/** What a cycle can use of a name now. */
export type NameAnswer =
  /** Probe these (one or more IPs); `stale` when the latest lookups failed. */
  | { readonly ips: readonly string[]; readonly stale: boolean }
  /** Not resolvable: the resolver's code, or `ENODATA` when no answer is of a family asked for. */
  | { readonly error: string }
  /** Asked, no answer yet: not probed until there is one. */
  | { readonly pending: true };

export interface NameCacheOptions {
  readonly ipFamilies: readonly IpFamily[];
  /** Default 15000 (the default probe interval). */
  readonly refreshMs?: number;
  /** Default 5000. */
  readonly timeoutMs?: number;
  /** Default 2. */
  readonly parallel?: number;
  /** How long the last good answer stands in for a failing resolver. Default 300000. */
  readonly staleMs?: number;
  /** Default `dns.lookup(host, { all: true })`: the system resolver, /etc/hosts included. */
  readonly lookup?: LookupAllFn;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

interface NameState {
  /** The last good answer, filtered by family; empty before the first. */
  ips: readonly string[];
  /** Wall-clock ms of the last good answer. */
  goodAtMs: number;
  /** The latest lookup's error, or undefined when it succeeded. */
  error: string | undefined;
  /** Wall-clock ms when the latest lookup ended; 0 before the first. */
  doneAtMs: number;
  inFlight: boolean;
  /** Said once per outage: "using the last good answer". */
  staleLogged: boolean;
}

const defaultLookup: LookupAllFn = async (host) =>
  (await dnsLookup(host, { all: true, verbatim: true })).map((a) => a.address);

export class NameCache {
  readonly #options: Required<Omit<NameCacheOptions, 'clock' | 'logger' | 'lookup'>>;
  readonly #lookup: LookupAllFn;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #names = new Map<string, NameState>();
  #inFlight = 0;
  /** Aborts the pending wake-up of the refresh loop. */
  #wake: AbortController | undefined;
  #stopped = false;
  /** Bumped whenever an answer a cycle would use changes. */
  #version = 0;
  readonly #waiters = new Set<() => void>();

  constructor(options: NameCacheOptions) {
    this.#options = {
      ipFamilies: options.ipFamilies,
      refreshMs: options.refreshMs ?? 15_000,
      timeoutMs: options.timeoutMs ?? 5_000,
      parallel: Math.max(1, Math.floor(options.parallel ?? 2)),
      staleMs: options.staleMs ?? 300_000,
    };
    this.#lookup = options.lookup ?? defaultLookup;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
  }

  /** Changes whenever an answer changes: a cycle re-expands its targets only then. */
  get version(): number {
    return this.#version;
  }

  /**
   * The names to keep resolved (IP literals are ignored). Names no longer given are
   * forgotten; new ones are looked up at once.
   */
  setNames(hosts: Iterable<string>): void {
    const wanted = new Set<string>();
    for (const host of hosts) if (isIP(host) === 0) wanted.add(host);
    for (const name of this.#names.keys()) {
      if (!wanted.has(name)) {
        this.#names.delete(name);
        this.#version++;
      }
    }
    for (const name of wanted) {
      if (this.#names.has(name)) continue;
      this.#names.set(name, {
        ips: [],
        goodAtMs: 0,
        error: undefined,
        doneAtMs: 0,
        inFlight: false,
        staleLogged: false,
      });
      this.#version++;
    }
    this.#pump();
  }

  /** What a cycle may use of `host` now. An IP literal is its own answer. */
  answer(host: string): NameAnswer {
    if (isIP(host) !== 0) return { ips: [host], stale: false };
    const state = this.#names.get(host);
    if (!state || state.doneAtMs === 0) return { pending: true };
    if (state.error === undefined) {
      return state.ips.length > 0 ? { ips: state.ips, stale: false } : { error: 'ENODATA' };
    }
    if (state.ips.length > 0 && this.#clock.now() - state.goodAtMs <= this.#options.staleMs) {
      return { ips: state.ips, stale: true };
    }
    return { error: state.error };
  }

  /** True for an IP literal, or a name whose latest lookup succeeded. */
  resolves(host: string): boolean {
    if (isIP(host) !== 0) return true;
    const state = this.#names.get(host);
    return state !== undefined && state.doneAtMs !== 0 && state.error === undefined;
  }

  /** Resolves when every name has had a first outcome, or after `withinMs`, whichever is first. */
  async settled(withinMs: number): Promise<void> {
    if (this.#allSettled()) return;
    const abort = new AbortController();
    await Promise.race([
      new Promise<void>((resolve) => {
        const check = () => {
          if (!this.#allSettled()) return;
          this.#waiters.delete(check);
          resolve();
        };
        this.#waiters.add(check);
      }),
      this.#clock.sleep(withinMs, abort.signal),
    ]);
    abort.abort();
  }

  #allSettled(): boolean {
    for (const state of this.#names.values()) if (state.doneAtMs === 0) return false;
    return true;
  }

  stop(): void {
    this.#stopped = true;
    this.#wake?.abort();
    this.#wake = undefined;
  }

  /** Starts the lookups that are due, then sleeps until the next one is. */
  #pump(): void {
    if (this.#stopped) return;
    this.#wake?.abort();
    this.#wake = undefined;
    const now = this.#clock.now();
    this.#expireStale(now);
    let nextDue = Number.POSITIVE_INFINITY;
    // Never asked first, then the longest since asked: a name added late is not starved.
    const due = [...this.#names]
      .filter(([, s]) => !s.inFlight)
      .sort(([, a], [, b]) => a.doneAtMs - b.doneAtMs);
    for (const [name, state] of due) {
      const dueAt = state.doneAtMs === 0 ? 0 : state.doneAtMs + this.#options.refreshMs;
      if (dueAt > now) {
        nextDue = Math.min(nextDue, dueAt);
        continue;
      }
      if (this.#inFlight >= this.#options.parallel) break;
      this.#start(name, state);
    }
    if (nextDue !== Number.POSITIVE_INFINITY) {
      const wake = new AbortController();
      this.#wake = wake;
      this.#clock.sleep(Math.max(1, nextDue - now), wake.signal).then(() => {
        if (this.#wake === wake) this.#pump();
      });
    }
  }

  #start(name: string, state: NameState): void {
    state.inFlight = true;
    this.#inFlight++;
    let timedOut = false;
    const deadline = new AbortController();
    this.#clock.sleep(this.#options.timeoutMs, deadline.signal).then(() => {
      if (deadline.signal.aborted) return;
      // The lookup goes on in its thread; the name waits for it, the others do not.
      timedOut = true;
      this.#settle(name, state, { error: 'ETIMEOUT' });
    });
    const ended = (outcome: { readonly ips: readonly string[] } | { readonly error: string }) => {
      deadline.abort();
      if (!timedOut) this.#settle(name, state, outcome);
      this.#release(state);
    };
    this.#lookup(name).then(
      (ips) => ended({ ips }),
      (error: unknown) => ended({ error: errorCode(error) }),
    );
  }

  /** The lookup's thread is free again: another name may use it. */
  #release(state: NameState): void {
    state.inFlight = false;
    this.#inFlight--;
    this.#pump();
  }

  #settle(
    name: string,
    state: NameState,
    outcome: { readonly ips: readonly string[] } | { readonly error: string },
  ): void {
    if (this.#names.get(name) !== state) return;
    const before = this.answer(name);
    state.doneAtMs = this.#clock.now();
    if ('ips' in outcome) {
      const ips = [...new Set(outcome.ips)].filter((ip) => {
        const family = familyOf(ip);
        return family !== undefined && this.#options.ipFamilies.includes(family);
      });
      if (state.error !== undefined && state.staleLogged) {
        this.#logger.info('name resolves again', { name, ips });
      }
      state.ips = ips;
      state.goodAtMs = state.doneAtMs;
      state.error = undefined;
      state.staleLogged = false;
    } else {
      state.error = outcome.error;
      if (state.ips.length > 0 && !state.staleLogged) {
        state.staleLogged = true;
        this.#logger.warn('name does not resolve; probing its last good answer for a while', {
          name,
          reason: outcome.error,
          ips: state.ips,
          forSeconds: this.#options.staleMs / 1000,
        });
      }
    }
    if (!sameAnswer(before, this.answer(name))) this.#version++;
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** A stale answer that outlived `staleMs` is an error from now on: cycles must see it. */
  #expireStale(now: number): void {
    for (const [name, state] of this.#names) {
      if (state.error === undefined || state.ips.length === 0) continue;
      if (now - state.goodAtMs <= this.#options.staleMs) continue;
      state.ips = [];
      this.#version++;
      this.#logger.warn('name still does not resolve; its last good answer is no longer probed', {
        name,
        reason: state.error,
      });
    }
  }
}

function sameAnswer(a: NameAnswer, b: NameAnswer): boolean {
  if ('pending' in a || 'pending' in b) return 'pending' in a && 'pending' in b;
  if ('error' in a || 'error' in b) return 'error' in a && 'error' in b && a.error === b.error;
  return (
    a.stale === b.stale && a.ips.length === b.ips.length && a.ips.every((ip, i) => ip === b.ips[i])
  );
}

function errorCode(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && code !== '') return code;
  return error instanceof Error ? error.message : String(error);
}
