/**
 * Drives prometheus-blackbox-exporter as Prometheus does: one
 * `GET /probe?module=tcp&target=IP:PORT` per target, over keep-alive connections,
 * `--concurrency` in flight.
 *
 *   node --import tsx bench/blackbox-driver.ts --url http://127.0.0.1:PORT --pid PID
 *     --targets FILE [--states FILE] [--concurrency 256] [--timeout-ms 2000]
 *
 * Runs where blackbox runs (inside the benchmark's namespace when there is one), so
 * it can reach it. The CPU charged is blackbox's own: utime+stime from
 * /proc/PID/stat, read just before the first measured request and just after the
 * last answer. This driver's own CPU is not counted.
 *
 * Blackbox reports only probe_success; a failed probe is called `timeout` when it
 * took at least 90% of the timeout and `refused` otherwise.
 */
import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';
import { countStates, type Endpoint, readEndpoints, writeStates } from './files.js';
import { processCpuSeconds } from './proc.js';

const READY_DEADLINE_MS = 15_000;
const READY_POLL_MS = 100;

function get(agent: Agent, url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function sampleValue(body: string, name: string): number | undefined {
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(body);
  return match ? Number(match[1]) : undefined;
}

async function waitHealthy(agent: Agent, base: string): Promise<void> {
  const started = Date.now();
  let last = '';
  while (Date.now() - started < READY_DEADLINE_MS) {
    try {
      const { status } = await get(agent, `${base}/-/healthy`);
      if (status === 200) return;
      last = `HTTP ${status}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
  }
  throw new Error(`blackbox at ${base} not healthy after ${READY_DEADLINE_MS} ms: ${last}`);
}

async function probeAll(
  agent: Agent,
  base: string,
  endpoints: readonly Endpoint[],
  concurrency: number,
  timeoutMs: number,
  states: (string | undefined)[],
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < endpoints.length) {
      const index = next++;
      const { ip, port } = endpoints[index] as Endpoint;
      try {
        const { status, body } = await get(agent, `${base}/probe?module=tcp&target=${ip}:${port}`);
        const success = sampleValue(body, 'probe_success');
        const duration = sampleValue(body, 'probe_duration_seconds') ?? 0;
        if (status !== 200 || success === undefined) states[index] = 'error';
        else if (success === 1) states[index] = 'open';
        else states[index] = duration >= (0.9 * timeoutMs) / 1000 ? 'timeout' : 'refused';
      } catch {
        states[index] = 'error';
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, endpoints.length) }, worker));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      pid: { type: 'string' },
      targets: { type: 'string' },
      states: { type: 'string' },
      concurrency: { type: 'string', default: '256' },
      'timeout-ms': { type: 'string', default: '2000' },
    },
  });
  if (values.url === undefined || values.pid === undefined || values.targets === undefined) {
    throw new Error('blackbox-driver: --url, --pid and --targets are required');
  }
  const pid = Number(values.pid);
  const concurrency = Number(values.concurrency);
  const timeoutMs = Number(values['timeout-ms']);
  const endpoints = readEndpoints(values.targets);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });

  await waitHealthy(agent, values.url);
  // Opens the keep-alive connections and wakes blackbox's runtime, unmeasured, as a
  // Prometheus that has been scraping for a while would have.
  const warm = endpoints.slice(0, Math.min(concurrency, endpoints.length));
  await probeAll(agent, values.url, warm, concurrency, timeoutMs, []);

  const states: (string | undefined)[] = new Array(endpoints.length);
  const cpuBefore = processCpuSeconds(pid);
  const wallBefore = performance.now();
  await probeAll(agent, values.url, endpoints, concurrency, timeoutMs, states);
  const wallSeconds = (performance.now() - wallBefore) / 1000;
  const cpuSeconds = processCpuSeconds(pid) - cpuBefore;
  agent.destroy();
  if (values.states !== undefined) writeStates(values.states, endpoints, states);

  const report = {
    probes: endpoints.length,
    wallSeconds,
    cpuSeconds,
    states: countStates(states),
    driverCpuSeconds: (() => {
      const usage = process.cpuUsage();
      return (usage.user + usage.system) / 1e6;
    })(),
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`blackbox-driver: ${error instanceof Error ? error.stack : error}\n`);
    process.exit(1);
  },
);
