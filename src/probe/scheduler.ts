import { type Clock, systemClock } from '../util/clock.js';
import { errorWithCode } from '../util/errors.js';
import { type Logger, silentLogger } from '../util/log.js';
import { ConcurrencyLimit, RESOURCE_EXHAUSTED } from './concurrency-limit.js';
import { AddressPacer } from './pacing.js';
import type { ProbeJob, ProbeResult } from './types.js';

/** How often a spread cycle wakes, at most, to launch the probes that fell due. */
export const DEFAULT_TICK_MS = 10;

/**
 * How long past its own timeout a probe may stay unsettled before the scheduler
 * gives up on it. Probers enforce the timeout; this only keeps a prober bug from
 * holding a concurrency slot, and a cycle, forever. Generous, since a verdict of
 * `error` for a probe that was only late is a wrong verdict: on a loaded 2-core machine
 * a probe thread's answer for a dropped port (timeout 2 s, linger 1.5 s) reached the
 * main thread more than 1 s late, and the guard called it an exporter fault.
 */
export const PROBE_GRACE_MS = 5000;

export interface SchedulerOptions<J extends ProbeJob = ProbeJob> {
  /** Each cycle starts every intervalMs. */
  readonly intervalMs: number;
  /** Per-probe deadline, passed to the prober. */
  readonly timeoutMs: number;
  /**
   * Probes in flight at most. Fewer while probes fail with EMFILE or ENFILE: the limit
   * halves, then grows back as probes succeed (see ConcurrencyLimit).
   */
  readonly concurrency: number;
  /** Default systemClock. Monotonic time schedules; `now()` stamps finishedAtMs. */
  readonly clock?: Clock;
  /** Runs one probe (a port, or a node's echo). A throw or rejection counts as state 'error'. */
  readonly probe: (job: J, timeoutMs: number) => Promise<ProbeResult>;
  /** Called once per finished probe, in the order results arrive. */
  readonly onResult: (job: J, result: ProbeResult, finishedAtMs: number) => void;
  /**
   * The jobs of the next cycle, asked at each cycle start (the pipeline expands targets
   * by their names' answers then). Returning the same array as last time keeps the
   * cycle's order without working it out again. Without it, setTargets() decides.
   */
  readonly jobsForCycle?: () => readonly J[];
  /** Called when a cycle starts, with its jobs. May return a promise the cycle awaits (bounded by the caller). */
  readonly onCycleStart?: (jobs: readonly J[]) => void | Promise<void>;
  /** Called when every probe of a cycle has finished. */
  readonly onCycleEnd?: (stats: CycleStats) => void;
  /** Default true; false = as fast as the concurrency allows (benchmarks, one-shot `check`). */
  readonly spread?: boolean;
  /**
   * Run the first cycle as fast as the concurrency allows, then spread the rest, so
   * a fresh start shows every target within seconds. Default false.
   */
  readonly burstFirstCycle?: boolean;
  /**
   * How long a probe may stay open past its timeout (ProbeRequest.lingerMs): a spread
   * cycle ends its starts this much earlier, and an overdue probe is given this much
   * more. Default 0.
   */
  readonly lingerMs?: number;
  /** Dispatch granularity of a spread cycle; default DEFAULT_TICK_MS. */
  readonly tickMs?: number;
  /** Where a failing hook or an overdue prober is reported; default silent. */
  readonly logger?: Logger;
  /** Pacing per IP (pacing.ts); default a new AddressPacer. */
  readonly pacer?: AddressPacer;
  /**
   * How long pacing may hold an IP's probes back in a cycle that is not spread (the
   * first burst, check). Default unbounded: check takes longer rather than read a
   * rate-limited reject as a drop. A spread cycle holds them back until its window ends.
   */
  readonly burstPacingLimitMs?: number;
}

export interface CycleStats {
  /** Wall-clock milliseconds when the cycle started. */
  readonly startedAtMs: number;
  readonly durationSeconds: number;
  /** Probes that finished in this cycle. */
  readonly probes: number;
  /** True when the cycle took longer than the interval, so the next one started late. */
  readonly overran: boolean;
  /** Probes that pacing held back (an IP's ICMP budget, or its probes in flight). */
  readonly paced: number;
  /** IPs whose probes pacing held back. */
  readonly pacedIps: number;
}

export type SchedulerErrorCode =
  | 'SCHEDULER_INVALID_OPTIONS'
  | 'SCHEDULER_ALREADY_STARTED'
  | 'SCHEDULER_STOPPED';

export class SchedulerError extends errorWithCode<SchedulerErrorCode>('SchedulerError') {}

/** 32-bit FNV-1a: cheap, stable across runs and platforms, good enough to scatter names. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * The probe order of a cycle: each node's targets spaced evenly through the whole
 * order, each node at its own phase, so a node sees one port at a time instead of all
 * of them in a burst — whether it has 5 targets or 500. Depends only on the target
 * set, so a target keeps its place, and its probe time, from cycle to cycle.
 */
export function interleaveByNode<J extends ProbeJob>(targets: readonly J[]): J[] {
  const byNode = new Map<string, J[]>();
  for (const target of targets) {
    const group = byNode.get(target.node);
    if (group) group.push(target);
    else byNode.set(target.node, [target]);
  }
  const placed: { position: number; key: string; target: J }[] = [];
  for (const [node, group] of byNode) {
    group.sort((a, b) => compareText(a.key, b.key));
    const phase = fnv1a(node) / 2 ** 32;
    for (let j = 0; j < group.length; j++) {
      const target = group[j] as J;
      placed.push({ position: (j + phase) / group.length, key: target.key, target });
    }
  }
  placed.sort((a, b) => a.position - b.position || compareText(a.key, b.key));
  return placed.map((p) => p.target);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function errorReason(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return typeof code === 'string' ? code : error.message;
  }
  return String(error);
}

/** One probe of a cycle, from launch until its result is taken. */
interface Launched<J extends ProbeJob> {
  readonly target: J;
  readonly startedAt: number;
  /** Its number from ConcurrencyLimit.launched(). */
  readonly launch: number;
  done: boolean;
}

interface CycleSettings<J extends ProbeJob> {
  readonly clock: Clock;
  readonly timeoutMs: number;
  /** Shared by every cycle, so a shortage learnt in one is remembered in the next. */
  readonly limit: ConcurrencyLimit;
  readonly tickMs: number;
  readonly logger: Logger;
  readonly probe: SchedulerOptions<J>['probe'];
  readonly onResult: SchedulerOptions<J>['onResult'];
  /** Shared by every cycle, as the kernel's buckets are. */
  readonly pacer: AddressPacer;
  readonly lingerMs: number;
}

/**
 * The dispatch of one cycle. Event-driven rather than one timer per probe: `pump`
 * runs on a single pending wake-up and whenever a probe finishes, launches every probe
 * that is due while a slot is free, then arms the next wake-up. With tens of thousands
 * of targets this is one timer per tick and one promise per probe.
 */
class CycleRun<J extends ProbeJob> {
  readonly #settings: CycleSettings<J>;
  readonly #targets: readonly J[];
  readonly #startedAt: number;
  readonly #stepMs: number;
  /** Until when pacing may hold probes back; past it they go whatever their IP's budget. */
  readonly #paceUntil: number;
  /** In a burst, no IP gets more than this many probes at once. */
  readonly #maxInFlightPerIp: number;
  readonly #launched: Launched<J>[] = [];
  /** Probes pacing held back, per IP, in cycle order. */
  readonly #deferred = new Map<string, J[]>();
  #deferredCount = 0;
  /**
   * IPs with probes held back that may launch now: one of their probes ended, or they
   * were left when every slot was taken. Only these are looked at after a probe ends,
   * not every held-back IP: in check's burst over 200 nodes, most held at their cap in
   * flight, that scan once per result was the main thread's biggest cost.
   */
  readonly #ready = new Set<string>();
  /** When time alone may let a held-back IP go: its ICMP budget, or pacing's window end. */
  #timedWakeAt = Number.POSITIVE_INFINITY;
  /** Probes held back for their IP's ICMP budget (not only for its probes in flight). */
  #paced = 0;
  readonly #pacedIps = new Set<string>();
  /** Index into #launched of the oldest probe that may still be in flight. */
  #oldest = 0;
  #next = 0;
  #inFlight = 0;
  #finished = 0;
  #stopping = false;
  #pumping = false;
  #ended = false;
  #wakeAt = Number.POSITIVE_INFINITY;
  #wakeAbort: AbortController | undefined;
  readonly #whenEnded: Promise<number>;
  #end!: (finished: number) => void;

  constructor(
    settings: CycleSettings<J>,
    targets: readonly J[],
    startedAt: number,
    windowMs: number,
    burstPacingLimitMs: number,
  ) {
    this.#settings = settings;
    this.#targets = targets;
    this.#startedAt = startedAt;
    this.#stepMs = targets.length > 0 ? windowMs / targets.length : 0;
    const spread = windowMs > 0;
    this.burst = !spread;
    this.#paceUntil = startedAt + (spread ? windowMs : burstPacingLimitMs);
    this.#maxInFlightPerIp = spread ? Number.POSITIVE_INFINITY : settings.pacer.burstInFlight;
    this.#whenEnded = new Promise((resolve) => {
      this.#end = resolve;
    });
  }

  /** True for a cycle that launches as fast as the concurrency allows (not spread). */
  readonly burst: boolean;

  /** Probes held back for their IP's ICMP budget so far, and over how many IPs. */
  get paced(): { readonly probes: number; readonly ips: number } {
    return { probes: this.#paced, ips: this.#pacedIps.size };
  }

  /** Starts dispatching; resolves with the number of probes finished once none is in flight. */
  run(): Promise<number> {
    this.#pump();
    return this.#whenEnded;
  }

  /** Launches nothing more; the cycle ends when the probes in flight finish or expire. */
  stop(): void {
    this.#stopping = true;
    this.#pump();
  }

  #dueAt(index: number): number {
    return this.#startedAt + index * this.#stepMs;
  }

  /** 0 when a probe to `ip` may start now, else how long it waits (Infinity: for a probe to end). */
  #waitFor(ip: string, now: number): number {
    if (now >= this.#paceUntil) return 0;
    return this.#settings.pacer.waitMs(ip, now, this.#maxInFlightPerIp);
  }

  #pump(): void {
    if (this.#pumping || this.#ended) return;
    this.#pumping = true;
    try {
      const { clock, limit, tickMs } = this.#settings;
      const concurrency = limit.current;
      const now = clock.monotonic();
      this.#expireOverdue(now);
      const count = this.#targets.length;
      let deferredWake = Number.POSITIVE_INFINITY;
      if (!this.#stopping) {
        deferredWake = this.#launchDeferred(now, concurrency);
        while (
          this.#next < count &&
          this.#inFlight < concurrency &&
          this.#dueAt(this.#next) <= now
        ) {
          const target = this.#targets[this.#next++] as J;
          const queue = this.#deferred.get(target.ip);
          // An IP's probes keep their order: behind one held back, the next waits too.
          const wait = queue ? Number.POSITIVE_INFINITY : this.#waitFor(target.ip, now);
          if (wait === 0) {
            this.#launch(target, now);
            continue;
          }
          if (wait !== Number.POSITIVE_INFINITY) {
            this.#pacedIps.add(target.ip);
            deferredWake = Math.min(deferredWake, now + wait);
          }
          this.#defer(target, queue, wait, now);
        }
      }
      const dispatched = this.#stopping || (this.#next >= count && this.#deferredCount === 0);
      if (dispatched && this.#inFlight === 0) {
        this.#finish();
        return;
      }
      let wakeAt = Number.POSITIVE_INFINITY;
      // With every slot taken the next launch waits for a probe to finish, not for time.
      if (!dispatched && this.#inFlight < concurrency) {
        if (this.#next < count) wakeAt = Math.max(this.#dueAt(this.#next), now + tickMs);
        if (deferredWake !== Number.POSITIVE_INFINITY) {
          wakeAt = Math.min(wakeAt, Math.max(deferredWake, now + 1));
        }
        // Pacing ends with its window: held-back probes go then at the latest.
        if (this.#deferredCount > 0 && this.#paceUntil > now) {
          wakeAt = Math.min(wakeAt, this.#paceUntil);
        }
      }
      const oldest = this.#oldestInFlight();
      if (oldest) wakeAt = Math.min(wakeAt, this.#expiresAt(oldest));
      this.#arm(wakeAt, now);
    } finally {
      this.#pumping = false;
    }
  }

  #defer(target: J, queue: J[] | undefined, wait: number, now: number): void {
    if (queue) queue.push(target);
    else this.#deferred.set(target.ip, [target]);
    this.#deferredCount++;
    if (this.#pacedIps.has(target.ip)) this.#paced++;
    // An IP waiting for a probe of its own to end is made ready by #settle; one waiting
    // for its budget, and every one at the pacing window's end, by the clock.
    if (this.#paceUntil > now) {
      this.#timedWakeAt = Math.min(this.#timedWakeAt, this.#paceUntil, now + wait);
    }
  }

  /** Launches the held-back probes whose IP may go now; returns the next time one may. */
  #launchDeferred(now: number, concurrency: number): number {
    if (this.#deferredCount === 0) {
      this.#ready.clear();
      return Number.POSITIVE_INFINITY;
    }
    if (now >= this.#timedWakeAt) {
      this.#timedWakeAt = Number.POSITIVE_INFINITY;
      for (const ip of this.#deferred.keys()) this.#ready.add(ip);
    }
    for (const ip of this.#ready) {
      // The rest stay ready, in their order, for the next slot that frees.
      if (this.#inFlight >= concurrency) break;
      const queue = this.#deferred.get(ip);
      let wait = 0;
      while (queue !== undefined && queue.length > 0 && this.#inFlight < concurrency) {
        wait = this.#waitFor(ip, now);
        if (wait !== 0) break;
        this.#deferredCount--;
        this.#launch(queue.shift() as J, now);
      }
      if (queue !== undefined && queue.length === 0) this.#deferred.delete(ip);
      if (wait !== 0 && wait !== Number.POSITIVE_INFINITY && queue !== undefined) {
        if (!this.#pacedIps.has(ip)) {
          this.#pacedIps.add(ip);
          this.#paced += queue.length;
        }
        this.#timedWakeAt = Math.min(this.#timedWakeAt, now + wait);
      }
      // Still free to go, it waits only for a slot: it keeps its place.
      if (wait === 0 && queue !== undefined && queue.length > 0) break;
      this.#ready.delete(ip);
    }
    return this.#timedWakeAt;
  }

  #launch(target: J, now: number): void {
    const launch = this.#settings.limit.launched();
    const launched: Launched<J> = { target, startedAt: now, launch, done: false };
    this.#launched.push(launched);
    this.#inFlight++;
    this.#settings.pacer.started(target.ip, now);
    let pending: Promise<ProbeResult>;
    try {
      pending = this.#settings.probe(target, this.#settings.timeoutMs);
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (result) => this.#settle(launched, result, true),
      (error: unknown) => this.#settle(launched, this.#errorResult(launched, error), true),
    );
  }

  #errorResult(launched: Launched<J>, error: unknown): ProbeResult {
    const elapsedMs = this.#settings.clock.monotonic() - launched.startedAt;
    return {
      state: 'error',
      durationSeconds: Math.max(0, elapsedMs) / 1000,
      error: errorReason(error),
    };
  }

  #settle(launched: Launched<J>, result: ProbeResult, pumpAfter: boolean): void {
    // A probe that expired and then settled late has already been reported.
    if (launched.done) return;
    launched.done = true;
    this.#inFlight--;
    this.#finished++;
    const exhausted = result.state === 'error' && RESOURCE_EXHAUSTED.has(result.error ?? '');
    this.#settings.limit.finished(launched.launch, exhausted);
    this.#settings.pacer.finished(launched.target.ip, result, this.#settings.clock.monotonic());
    if (this.#deferred.has(launched.target.ip)) this.#ready.add(launched.target.ip);
    try {
      this.#settings.onResult(launched.target, result, this.#settings.clock.now());
    } catch (error) {
      this.#settings.logger.error('result handler failed', { target: launched.target.key, error });
    }
    if (pumpAfter) this.#pump();
  }

  #expiresAt(launched: Launched<J>): number {
    return launched.startedAt + this.#settings.timeoutMs + this.#settings.lingerMs + PROBE_GRACE_MS;
  }

  #oldestInFlight(): Launched<J> | undefined {
    // Probes launch in time order and share one deadline, so the oldest expires first.
    for (;;) {
      const launched = this.#launched[this.#oldest];
      if (launched === undefined || !launched.done) return launched;
      this.#oldest++;
    }
  }

  #expireOverdue(now: number): void {
    for (;;) {
      const oldest = this.#oldestInFlight();
      if (!oldest || this.#expiresAt(oldest) > now) return;
      this.#settings.logger.warn('probe did not settle by its deadline', {
        target: oldest.target.key,
        timeoutMs: this.#settings.timeoutMs,
      });
      this.#settle(
        oldest,
        this.#errorResult(oldest, 'probe did not settle by its deadline'),
        false,
      );
    }
  }

  /** Keeps one pending wake-up: the earliest one needed. */
  #arm(wakeAt: number, now: number): void {
    if (this.#wakeAbort && this.#wakeAt <= wakeAt) return;
    this.#disarm();
    if (wakeAt === Number.POSITIVE_INFINITY) return;
    const abort = new AbortController();
    this.#wakeAbort = abort;
    this.#wakeAt = wakeAt;
    this.#settings.clock.sleep(wakeAt - now, abort.signal).then(() => {
      if (this.#wakeAbort !== abort) return;
      this.#wakeAbort = undefined;
      this.#wakeAt = Number.POSITIVE_INFINITY;
      this.#pump();
    });
  }

  #disarm(): void {
    const abort = this.#wakeAbort;
    this.#wakeAbort = undefined;
    this.#wakeAt = Number.POSITIVE_INFINITY;
    abort?.abort();
  }

  #finish(): void {
    this.#ended = true;
    this.#disarm();
    this.#launched.length = 0;
    this.#deferred.clear();
    this.#ready.clear();
    this.#end(this.#finished);
  }
}

function validate<J extends ProbeJob>(options: SchedulerOptions<J>): void {
  const problems: string[] = [];
  const { intervalMs, timeoutMs, concurrency, tickMs } = options;
  if (!(Number.isFinite(intervalMs) && intervalMs > 0)) {
    problems.push(`intervalMs: expected a positive number, got ${intervalMs}`);
  }
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    problems.push(`timeoutMs: expected a positive number, got ${timeoutMs}`);
  }
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) {
    problems.push(`concurrency: expected an integer of at least 1, got ${concurrency}`);
  }
  if (tickMs !== undefined && !(Number.isFinite(tickMs) && tickMs > 0)) {
    problems.push(`tickMs: expected a positive number, got ${tickMs}`);
  }
  if (problems.length > 0) {
    throw new SchedulerError('SCHEDULER_INVALID_OPTIONS', problems.join('; '));
  }
}

/**
 * Probes every target once per interval on its own clock, so a scrape never waits for
 * a probe. A cycle spreads its starts evenly over the interval less one timeout, so
 * the last probe can finish before the next cycle, and never runs more than
 * `concurrency` probes at once. Cycles never overlap: one that runs long delays the
 * next to its end, and the interval counts again from there.
 */
export class Scheduler<J extends ProbeJob = ProbeJob> {
  readonly #options: SchedulerOptions<J>;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #settings: CycleSettings<J>;
  readonly #spread: boolean;
  #ordered: readonly J[] = [];
  /** The job list #ordered was worked out from, to skip ordering an unchanged one again. */
  #orderedFrom: readonly J[] | undefined;
  #pendingTargets: readonly J[] | undefined;
  #ready = false;
  #started = false;
  #stopped = false;
  #current: CycleRun<J> | undefined;
  /** Cycles run one after another: the loop's and runOnce's queue here. */
  #tail: Promise<unknown> = Promise.resolve();
  #loop: Promise<void> | undefined;
  readonly #loopAbort = new AbortController();
  #stopping: Promise<void> | undefined;
  /** The limit was lowered and has not been reported back at the configured value. */
  #lowered = false;

  constructor(options: SchedulerOptions<J>) {
    validate(options);
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
    this.#spread = options.spread ?? true;
    this.#settings = {
      clock: this.#clock,
      timeoutMs: options.timeoutMs,
      limit: new ConcurrencyLimit(options.concurrency),
      tickMs: options.tickMs ?? DEFAULT_TICK_MS,
      logger: this.#logger,
      probe: options.probe,
      onResult: options.onResult,
      pacer: options.pacer ?? new AddressPacer(),
      lingerMs: options.lingerMs ?? 0,
    };
  }

  /** True once the first cycle finished. */
  get ready(): boolean {
    return this.#ready;
  }

  /**
   * True while a burst cycle runs (the first one with burstFirstCycle, every one with
   * spread false): it launches a whole cycle's probes in as few loop turns as it can.
   */
  get bursting(): boolean {
    return this.#current?.burst ?? false;
  }

  /** Takes effect at the next cycle start, never mid-cycle (unless jobsForCycle is given). */
  setTargets(targets: readonly J[]): void {
    this.#pendingTargets = targets;
  }

  /** Starts the background cycles; the first starts at once. */
  start(): void {
    if (this.#stopped) throw new SchedulerError('SCHEDULER_STOPPED', 'the scheduler was stopped');
    if (this.#started) {
      throw new SchedulerError('SCHEDULER_ALREADY_STARTED', 'the scheduler is already running');
    }
    this.#started = true;
    this.#loop = this.#runLoop();
  }

  /** Stops dispatching and resolves once the probes in flight finish or pass their deadline. */
  stop(): Promise<void> {
    if (!this.#stopping) {
      this.#stopped = true;
      this.#loopAbort.abort();
      this.#current?.stop();
      this.#stopping = Promise.all([this.#loop, this.#tail]).then(() => undefined);
    }
    return this.#stopping;
  }

  /** One cycle now, as fast as the concurrency allows, after any cycle under way. */
  runOnce(): Promise<CycleStats> {
    if (this.#stopped) {
      return Promise.reject(new SchedulerError('SCHEDULER_STOPPED', 'the scheduler was stopped'));
    }
    return this.#exclusive(() => this.#runCycle(false));
  }

  #exclusive<T>(cycle: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(cycle);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #runLoop(): Promise<void> {
    const { intervalMs } = this.#options;
    const signal = this.#loopAbort.signal;
    let nextStart = this.#clock.monotonic();
    while (!this.#stopped) {
      const waitMs = nextStart - this.#clock.monotonic();
      if (waitMs > 0) await this.#clock.sleep(waitMs, signal);
      if (this.#stopped) break;
      try {
        const spread = this.#spread && (this.#ready || !this.#options.burstFirstCycle);
        await this.#exclusive(() => this.#runCycle(spread));
      } catch (error) {
        this.#logger.error('probe cycle failed', { error });
      }
      // Planned times, not actual ones, so timer lateness does not drift the grid; after
      // an overrun the grid restarts from the late cycle's start.
      nextStart = Math.max(nextStart + intervalMs, this.#clock.monotonic());
    }
  }

  /** One line per cycle in which probes ran out of descriptors, and one when the limit is back. */
  #reportLimit(): void {
    const { limit } = this.#settings;
    const report = limit.takeReport();
    if (report) {
      this.#lowered = true;
      this.#logger.warn('probes ran out of file descriptors; running fewer at once', {
        reason: 'EMFILE or ENFILE',
        probes: report.exhausted,
        concurrency: report.current,
        lowest: report.lowest,
        configured: report.max,
      });
    } else if (this.#lowered && limit.current === limit.max) {
      this.#lowered = false;
      this.#logger.info('probe concurrency back to the configured value', {
        concurrency: limit.max,
      });
    }
  }

  /** The jobs of the cycle about to start, in cycle order. */
  #jobsInOrder(): readonly J[] {
    const pulled = this.#options.jobsForCycle?.();
    const jobs = pulled ?? this.#pendingTargets;
    this.#pendingTargets = undefined;
    if (jobs !== undefined && jobs !== this.#orderedFrom) {
      this.#ordered = interleaveByNode(jobs);
      this.#orderedFrom = jobs;
    }
    return this.#ordered;
  }

  async #runCycle(spread: boolean): Promise<CycleStats> {
    const targets = this.#jobsInOrder();
    const startedAt = this.#clock.monotonic();
    const startedAtMs = this.#clock.now();
    const { intervalMs, timeoutMs, onCycleStart, onCycleEnd } = this.#options;
    if (onCycleStart) {
      try {
        await onCycleStart(targets);
      } catch (error) {
        this.#logger.error('cycle start handler failed', { error });
      }
    }
    const windowMs = spread
      ? Math.max(0, intervalMs - timeoutMs - (this.#options.lingerMs ?? 0))
      : 0;
    this.#settings.limit.newCycle();
    this.#settings.pacer.prune(startedAt);
    const run = new CycleRun(
      this.#settings,
      targets,
      startedAt,
      windowMs,
      this.#options.burstPacingLimitMs ?? Number.POSITIVE_INFINITY,
    );
    this.#current = run;
    if (this.#stopped) run.stop();
    const probes = await run.run();
    this.#current = undefined;
    const durationMs = this.#clock.monotonic() - startedAt;
    const stats: CycleStats = {
      startedAtMs,
      durationSeconds: durationMs / 1000,
      probes,
      overran: durationMs > intervalMs,
      paced: run.paced.probes,
      pacedIps: run.paced.ips,
    };
    this.#reportLimit();
    // A cycle cut short by stop() is not a measurement of anything.
    if (this.#stopped) return stats;
    this.#ready = true;
    if (onCycleEnd) {
      try {
        onCycleEnd(stats);
      } catch (error) {
        this.#logger.error('cycle end handler failed', { error });
      }
    }
    return stats;
  }
}
