/**
 * Probes targets on a probe pool of one worker and prints one JSON line:
 *   { "results": ProbeResult[], "probers": ("lean" | "net")[] }
 * For the pool tests that need a network namespace (timeouts, unreachable routes).
 *
 *   node --import tsx test/probe/pool-probe-once.ts --prober lean --target 127.0.0.1:8080
 *     [--target [::1]:8080] [--timeout-ms 2000] [--listen 127.0.0.1:8080]
 */
import { createServer, type Server } from 'node:net';
import { parseArgs } from 'node:util';
import { createProbePool, type PoolProber } from '../../src/probe/pool.js';

const { values } = parseArgs({
  options: {
    prober: { type: 'string', default: 'lean' },
    target: { type: 'string', multiple: true, default: [] },
    'timeout-ms': { type: 'string', default: '2000' },
    listen: { type: 'string', multiple: true, default: [] },
  },
});

function hostPort(text: string): { ip: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(text);
  if (match === null) throw new Error(`expected ip:port or [ipv6]:port, got ${text}`);
  return { ip: match[1] as string, port: Number(match[2]) };
}

const servers: Server[] = [];
for (const address of values.listen) {
  const { ip, port } = hostPort(address);
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, ip, resolve);
  });
  servers.push(server);
}

const pool = createProbePool({ workers: 1, prober: values.prober as PoolProber });
const timeoutMs = Number(values['timeout-ms']);
const results = await Promise.all(
  values.target.map((target) => pool.probe({ ...hostPort(target), timeoutMs })),
);
const probers = pool.probers();
await pool.close();
for (const server of servers) server.close();
process.stdout.write(`${JSON.stringify({ results, probers })}\n`);
