/**
 * Where a TCP probe runs when there are probe threads: on the main thread while the
 * exporter probes slowly and its loop is idle, on the threads otherwise.
 *
 * A probe on a thread costs two messages and wake-ups on both sides. At a steady 1,350
 * probes a second (20,000 targets every 15 s) the threads alone took 16.5% of a core,
 * routed 10.0% (bench/steady-cpu.ts, --probe.main-thread-rate=0 against the default). A
 * burst (the first cycle, `check`) or a large cluster needs the threads' throughput,
 * and a busy main loop (a storm of scrapes) would late-stamp a connect time measured
 * on it: either sends the probe to the threads. So does a request being served
 * (`workInHand`): its render may hold the loop for tens of milliseconds right after the
 * probe starts, and a storm whose renders run on the render thread leaves the loop
 * under the utilisation threshold between its turns, where probes went to the main
 * thread and came back late (connect p95 3 ms under 50 scrapers, 0.7 ms quiet).
 */
import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import type { Prober } from './types.js';

/** Above this share of the last sample busy, the main loop takes no probe. */
export const MAIN_THREAD_BUSY_AT = 0.3;

/** How often the main loop's utilisation is sampled. */
const SAMPLE_MS = 100;

/** The last second, in quarters: a rate that forgets a burst within a second. */
const BUCKET_MS = 250;
const BUCKETS = 4;

export interface ProbeRouteOptions {
  /** The main thread's prober. */
  readonly main: Prober;
  /** The threads' prober. */
  readonly pool: Prober;
  /**
   * While fewer probes than this ran in the last second, the main thread takes the next
   * (`--probe.main-thread-rate`, whose default is the one figure of it).
   */
  readonly mainBelowPerSecond: number;
  /** Default MAIN_THREAD_BUSY_AT. */
  readonly busyAt?: number;
  /** True while the main loop has work in hand (the exporter: a request being served). */
  readonly workInHand?: () => boolean;
  /** For tests: the clock, in ms. Default performance.now. */
  readonly now?: () => number;
  /** For tests: the main loop's utilisation since the last call, 0 to 1. */
  readonly utilization?: () => number;
}

export interface ProbeRoute {
  readonly probe: Prober;
  /** Probes each side has taken since the start (for tests and benchmarks). */
  readonly counts: { readonly main: number; readonly pool: number };
  /** Stops sampling the loop; probes still route, as if it were idle. */
  stop(): void;
}

export function routeProbes(options: ProbeRouteOptions): ProbeRoute {
  const { main, pool } = options;
  const limit = options.mainBelowPerSecond;
  const busyAt = options.busyAt ?? MAIN_THREAD_BUSY_AT;
  const now = options.now ?? (() => performance.now());
  const utilization = options.utilization ?? loopUtilization();
  const workInHand = options.workInHand ?? (() => false);
  const counts = { main: 0, pool: 0 };

  const recent = new Float64Array(BUCKETS);
  let bucket = Math.floor(now() / BUCKET_MS);
  /** Counts one probe now; returns the probes in the last second, this one included. */
  const countOne = () => {
    const at = Math.floor(now() / BUCKET_MS);
    for (let b = bucket + 1; b <= Math.min(at, bucket + BUCKETS); b++) recent[b % BUCKETS] = 0;
    bucket = Math.max(bucket, at);
    recent[bucket % BUCKETS] = (recent[bucket % BUCKETS] as number) + 1;
    let sum = 0;
    for (const n of recent) sum += n;
    return sum;
  };

  let busy = false;
  const sampler = setInterval(() => {
    busy = utilization() > busyAt;
  }, SAMPLE_MS);
  // Sampling must not keep a finished process alive.
  sampler.unref();

  return {
    probe: (request) => {
      if (countOne() <= limit && !busy && !workInHand()) {
        counts.main++;
        return main(request);
      }
      counts.pool++;
      return pool(request);
    },
    counts,
    stop: () => {
      clearInterval(sampler);
      busy = false;
    },
  };
}

/** The main loop's utilisation since the previous call. */
function loopUtilization(): () => number {
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  return () => {
    const since = performance.eventLoopUtilization(last);
    last = performance.eventLoopUtilization();
    return since.utilization;
  };
}
