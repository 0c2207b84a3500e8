/**
 * TCP probes on worker threads. One Node.js thread tops out near 15,000 connects a
 * second here (a socket, a timer, a promise and an errno error per probe); the pool
 * spreads them over N threads, and a probe's connect time is measured on a loop
 * that does nothing else, so a scrape or a re-plan on the main thread cannot
 * inflate it.
 *
 * The pool is a Prober (the same contract as tcpProbe), so the scheduler and the
 * per-cycle resolver use it unchanged. Requests made in one turn of the event loop
 * go to a worker as one message (the scheduler launches every due probe in one
 * synchronous pass); each worker sends its results back once per turn of its own
 * loop. A probe goes to the worker with the fewest in flight.
 */
import { availableParallelism } from 'node:os';
import type { EventLoopUtilization } from 'node:perf_hooks';
import type { Worker } from 'node:worker_threads';
import { errorWithCode } from '../util/errors.js';
import { type Logger, silentLogger } from '../util/log.js';
import { startModuleWorker } from '../util/worker.js';
import { handleProber, tcpBinding } from './handle-connect.js';
import { tcpProbe } from './tcp.js';
import type { ProbeRequest, ProbeResult, Prober } from './types.js';
import { PROBE_STATES } from './types.js';

/**
 * How a worker connects: `lean`, on Node's TCP handle directly (half the CPU of
 * tcpProbe, see pool-worker.ts), falling back to `net` (tcpProbe) where the binding
 * is missing.
 */
export type PoolProber = 'lean' | 'net';

export interface ProbePoolOptions {
  /** Worker threads, at least 1. */
  readonly workers: number;
  /** Default `lean`. */
  readonly prober?: PoolProber;
  /** Where a worker that died is reported. Default: silent. */
  readonly logger?: Logger;
}

export interface ProbePool {
  /** A TCP probe on one of the workers; never rejects. */
  readonly probe: Prober;
  /** Worker threads running. */
  readonly size: number;
  /** How busy each worker's event loop has been since it started (for benchmarks). */
  eventLoopUtilization(): EventLoopUtilization[];
  /** The prober each worker runs, once it has started (for logs and benchmarks). */
  probers(): (PoolProber | undefined)[];
  /** Messages of requests posted to each worker so far (for tests and benchmarks). */
  batchesPosted(): number[];
  /** Resolves with probers() once every worker has started or failed to. */
  whenStarted(): Promise<(PoolProber | undefined)[]>;
  /** Ends every worker; probes still in flight settle as `error` (`EPOOLCLOSED`). */
  close(): Promise<void>;
}

/** Most threads `auto` starts: past this the kernel's connect, not a thread, is the limit. */
export const AUTO_WORKERS_MAX = 4;

/**
 * Worker threads for `--probe.workers`: a number as given; `auto`, one per core up to
 * AUTO_WORKERS_MAX, and none on one core, where a thread would only share that core
 * with the main thread and pay for the messages between them.
 */
export function workerCount(
  setting: number | 'auto' = 'auto',
  cores = availableParallelism(),
): number {
  if (setting !== 'auto') return setting;
  return cores > 1 ? Math.min(cores, AUTO_WORKERS_MAX) : 0;
}

export type ProbePoolErrorCode = 'PROBE_POOL_INVALID_OPTIONS';

export class ProbePoolError extends errorWithCode<ProbePoolErrorCode>('ProbePoolError') {}

/** Main thread -> worker: the probes of one turn, column by column. */
export interface RequestBatch {
  readonly ids: number[];
  readonly ips: string[];
  readonly ports: number[];
  readonly timeoutsMs: number[];
  /** ProbeRequest.lingerMs, 0 for none. */
  readonly lingersMs: number[];
}

/** What a worker is started with. */
export interface PoolWorkerData {
  readonly prober: PoolProber;
}

/** A worker's first message: it started, and runs this prober. */
export interface WorkerHello {
  readonly prober: PoolProber;
}

/** Worker -> main thread: results of one turn; `states` index PROBE_STATES. */
export interface ResultBatch {
  readonly ids: number[];
  readonly states: number[];
  readonly durationsSeconds: number[];
  /** The errno code, or null for an open port. */
  readonly errors: (string | null)[];
  /** 1 where the connect failed before anything was sent (ProbeResult.local). */
  readonly locals: number[];
}

type Settle = (result: ProbeResult) => void;

/** Where probes go when no worker could start: the main thread's lean path. */
const leanBinding = tcpBinding();
const mainThreadProbe: Prober = leanBinding ? handleProber(leanBinding) : tcpProbe;

/** One worker thread and what is queued for it. */
class PoolWorker {
  readonly worker: Worker;
  inFlight = 0;
  /** Set by its first message: it started, so a later exit is worth a replacement. */
  prober: PoolProber | undefined;
  /** Settles when it has started, or exited first. */
  readonly started: Promise<void>;
  #markStarted!: () => void;
  /** Requests of this turn, not yet posted. */
  batch: RequestBatch | undefined;
  /** Batches posted to it. */
  posted = 0;
  readonly ids = new Set<number>();

  constructor(worker: Worker) {
    this.worker = worker;
    this.started = new Promise((resolve) => {
      this.#markStarted = resolve;
    });
  }

  markStarted(): void {
    this.#markStarted();
  }
}

/**
 * A probe allocates a few small objects that live for one connect: a small young
 * generation is enough, and a worker's heap stays a few MB instead of growing its
 * semi-spaces to the 16 MB that suit a general-purpose thread.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 4 };

/** How far ahead of the least busy thread one turn's probes may put another (see pick). */
const TURN_SLACK = 64;

function startWorker(data: PoolWorkerData): Worker {
  return startModuleWorker(import.meta.url, 'pool-worker', {
    workerData: data,
    resourceLimits: WORKER_LIMITS,
  });
}

export function createProbePool(options: ProbePoolOptions): ProbePool {
  const { workers: count } = options;
  if (!(Number.isInteger(count) && count >= 1 && count <= 64)) {
    throw new ProbePoolError(
      'PROBE_POOL_INVALID_OPTIONS',
      `workers: expected an integer 1-64, got ${count}`,
    );
  }
  const logger = options.logger ?? silentLogger;
  const pending = new Map<number, Settle>();
  const workers: PoolWorker[] = [];
  let nextId = 1;
  let flushScheduled = false;
  let closed = false;

  const settle = (id: number, result: ProbeResult) => {
    const done = pending.get(id);
    if (done === undefined) return;
    pending.delete(id);
    done(result);
  };

  const onResults = (w: PoolWorker, batch: ResultBatch) => {
    const { ids, states, durationsSeconds, errors, locals } = batch;
    w.inFlight -= ids.length;
    if (w.inFlight === 0) w.worker.unref();
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      w.ids.delete(id);
      const state = PROBE_STATES[states[i] as number] ?? 'error';
      const durationSeconds = durationsSeconds[i] as number;
      const error = errors[i];
      settle(
        id,
        error === null || error === undefined
          ? { state, durationSeconds }
          : locals[i] === 1
            ? { state, durationSeconds, error, local: true }
            : { state, durationSeconds, error },
      );
    }
  };

  /** Probes a worker took with it: nobody will answer them now. */
  const failInFlight = (w: PoolWorker, error: string) => {
    for (const id of w.ids) settle(id, { state: 'error', durationSeconds: 0, error });
    w.ids.clear();
    w.inFlight = 0;
    w.batch = undefined;
  };

  const spawn = (): PoolWorker => {
    const w = new PoolWorker(startWorker({ prober: options.prober ?? 'lean' }));
    w.worker.on('message', (message: ResultBatch | WorkerHello) => {
      if ('prober' in message) {
        w.prober = message.prober;
        w.markStarted();
        if (w.inFlight === 0) w.worker.unref();
      } else onResults(w, message);
    });
    w.worker.on('error', (err) => logger.error('probe worker failed', { err }));
    w.worker.on('exit', (code) => {
      w.markStarted();
      failInFlight(w, closed ? 'EPOOLCLOSED' : 'EWORKEREXIT');
      const index = workers.indexOf(w);
      if (index < 0 || closed) return;
      // One that worked and died (out of memory, say) is replaced; one that never
      // started would only fail again: its share goes to the others, or to the main
      // thread when none is left.
      if (w.prober !== undefined) {
        logger.warn('probe worker exited; replacing it', { code });
        workers[index] = spawn();
      } else {
        workers.splice(index, 1);
        logger.error('probe worker could not start', {
          code,
          workersLeft: workers.length,
          ...(workers.length === 0 && { fallback: 'probing on the main thread' }),
        });
      }
    });
    // An idle pool must not keep a process alive; one starting or with probes in
    // flight must (it is unref'd once started, ref'd while probes are in flight).
    return w;
  };
  for (let i = 0; i < count; i++) workers.push(spawn());

  const flush = () => {
    flushScheduled = false;
    turnWorker = undefined;
    for (const w of workers) {
      const batch = w.batch;
      if (batch === undefined) continue;
      w.batch = undefined;
      w.posted++;
      w.worker.postMessage(batch);
    }
  };

  const leastBusy = (): PoolWorker => {
    let best = workers[0] as PoolWorker;
    for (let i = 1; i < workers.length; i++) {
      const w = workers[i] as PoolWorker;
      if (w.inFlight < best.inFlight) best = w;
    }
    return best;
  };

  /** The thread this turn's probes went to, while its batch is not yet posted. */
  let turnWorker: PoolWorker | undefined;
  /**
   * A turn's probes go to one thread while it is less than TURN_SLACK probes ahead of
   * the least busy: a spread cycle launches a few probes a turn, and split between
   * the threads each few was a message of its own, and a wake-up of both sides.
   */
  const pick = (): PoolWorker => {
    const least = leastBusy();
    const w = turnWorker;
    if (w?.batch !== undefined && w.inFlight - least.inFlight < TURN_SLACK) return w;
    turnWorker = least;
    return least;
  };

  const probe: Prober = (request: ProbeRequest) =>
    new Promise<ProbeResult>((resolve) => {
      if (closed) {
        resolve({ state: 'error', durationSeconds: 0, error: 'EPOOLCLOSED' });
        return;
      }
      if (workers.length === 0) {
        mainThreadProbe(request).then(resolve);
        return;
      }
      const id = nextId++;
      pending.set(id, resolve);
      const w = pick();
      if (w.inFlight++ === 0) w.worker.ref();
      w.ids.add(id);
      if (w.batch === undefined) {
        w.batch = { ids: [], ips: [], ports: [], timeoutsMs: [], lingersMs: [] };
      }
      const batch = w.batch;
      batch.ids.push(id);
      batch.ips.push(request.ip);
      batch.ports.push(request.port);
      batch.timeoutsMs.push(request.timeoutMs);
      batch.lingersMs.push(request.lingerMs ?? 0);
      if (!flushScheduled) {
        flushScheduled = true;
        // After the caller's synchronous pass: one message for every probe it launched.
        queueMicrotask(flush);
      }
    });

  return {
    probe,
    get size() {
      return workers.length;
    },
    eventLoopUtilization: () => workers.map((w) => w.worker.performance.eventLoopUtilization()),
    probers: () => workers.map((w) => w.prober),
    batchesPosted: () => workers.map((w) => w.posted),
    async whenStarted() {
      await Promise.all(workers.map((w) => w.started));
      return workers.map((w) => w.prober);
    },
    async close() {
      if (closed) return;
      closed = true;
      const all = workers.splice(0);
      await Promise.all(all.map((w) => w.worker.terminate()));
      for (const w of all) failInFlight(w, 'EPOOLCLOSED');
      for (const id of [...pending.keys()]) {
        settle(id, { state: 'error', durationSeconds: 0, error: 'EPOOLCLOSED' });
      }
    },
  };
}
