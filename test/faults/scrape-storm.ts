/**
 * Scrapes a URL with many concurrent clients for a while (autocannon) and prints one
 * JSON object: requests, errors, timeouts, non-2xx answers, latency. Runs as its own
 * process, inside the network namespace of the exporter under test. RATE, when given,
 * caps the scrapes per second over all clients (as Prometheus scrapes, not a flood).
 * Every request asks for gzip, as Prometheus does.
 *
 *   node --import tsx test/faults/scrape-storm.ts URL CONNECTIONS SECONDS [RATE]
 */
import autocannon from 'autocannon';

const [url, connections = '50', seconds = '30', rate] = process.argv.slice(2);
if (!url) {
  process.stderr.write('usage: scrape-storm.ts URL CONNECTIONS SECONDS\n');
  process.exit(2);
}
const result = await autocannon({
  url,
  connections: Number(connections),
  duration: Number(seconds),
  // Prometheus's default scrape timeout: an answer later than this is a failed scrape.
  timeout: 10,
  // As Prometheus asks: gzip, which the exporter makes once per render for all scrapes.
  headers: { 'accept-encoding': 'gzip' },
  ...(rate !== undefined && { overallRate: Number(rate) }),
});
process.stdout.write(
  `${JSON.stringify({
    requests: result.requests.total,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    bytes: result.throughput.total,
    latencyMs: {
      mean: result.latency.mean,
      p50: result.latency.p50,
      p99: result.latency.p99,
      max: result.latency.max,
    },
  })}\n`,
);
