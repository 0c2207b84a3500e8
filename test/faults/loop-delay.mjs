/**
 * Preloaded into an exporter under test (NODE_OPTIONS=--import=this file): measures
 * how long its event loop stalls. Each SIGUSR2 writes one JSON line to stderr with
 * the worst stall since the last SIGUSR2 (or since start), then starts over, so a test
 * can bracket exactly the window it loads.
 *
 * Plain JavaScript: NODE_OPTIONS imports run before the command line's `--import tsx`.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** The sampling timer's period; a sample is this plus however long the loop was held. */
const RESOLUTION_MS = 2;

const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
histogram.enable();

process.on('SIGUSR2', () => {
  const ms = (ns) => Math.max(0, ns / 1e6 - RESOLUTION_MS);
  const report = {
    msg: 'event loop delay',
    maxStallMs: ms(histogram.max),
    p99StallMs: ms(histogram.percentile(99)),
    meanStallMs: ms(histogram.mean),
    samples: histogram.count,
  };
  process.stderr.write(`${JSON.stringify(report)}\n`);
  histogram.reset();
});
