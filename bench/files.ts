/**
 * The files the benchmark hands its children: a target list ("ip port" a line) and,
 * back from each contender, the state it saw per target ("ip port state" a line).
 * Plain text, so nmap's -iL list, our children and a reader with `less` agree.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

export interface Endpoint {
  readonly ip: string;
  readonly port: number;
}

/** What every contender child prints as its one line of JSON on stdout. */
export interface ChildReport {
  readonly probes: number;
  readonly wallSeconds: number;
  /** user+sys of the probing process over the measured window; absent when not measured there. */
  readonly cpuSeconds?: number;
  /** Probes per state name, as the contender names states after mapping to ours. */
  readonly states: Readonly<Record<string, number>>;
  readonly [extra: string]: unknown;
}

export function writeEndpoints(path: string, endpoints: readonly Endpoint[]): void {
  writeFileSync(path, endpoints.map((e) => `${e.ip} ${e.port}\n`).join(''));
}

export function readEndpoints(path: string): Endpoint[] {
  const endpoints: Endpoint[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line === '') continue;
    const [ip, port] = line.split(' ');
    const number = Number(port);
    if (ip === undefined || !Number.isInteger(number)) {
      throw new Error(`${path}: expected "ip port", got ${JSON.stringify(line)}`);
    }
    endpoints.push({ ip, port: number });
  }
  return endpoints;
}

export function endpointKey(ip: string, port: number): string {
  return `${ip}:${port}`;
}

/** Writes "ip port state" lines; `states[i]` belongs to `endpoints[i]`. */
export function writeStates(
  path: string,
  endpoints: readonly Endpoint[],
  states: readonly (string | undefined)[],
): void {
  const lines: string[] = [];
  for (let i = 0; i < endpoints.length; i++) {
    const endpoint = endpoints[i] as Endpoint;
    lines.push(`${endpoint.ip} ${endpoint.port} ${states[i] ?? 'missing'}\n`);
  }
  writeFileSync(path, lines.join(''));
}

/** "ip:port" -> state, from a states file. */
export function readStates(path: string): Map<string, string> {
  const states = new Map<string, string>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line === '') continue;
    const [ip, port, state] = line.split(' ');
    if (ip !== undefined && port !== undefined && state !== undefined) {
      states.set(endpointKey(ip, Number(port)), state);
    }
  }
  return states;
}

export function countStates(states: Iterable<string | undefined>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const state of states) {
    const name = state ?? 'missing';
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

/** Open file descriptors of this process (Linux): a leak of sockets shows here. */
export function openFileDescriptors(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}
