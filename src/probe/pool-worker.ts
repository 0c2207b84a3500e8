/**
 * A probe pool's worker thread (see pool.ts): runs tcpProbe for every request it is
 * sent, and sends the results back once per turn of its loop, column by column.
 */
import { parentPort } from 'node:worker_threads';
import type { RequestBatch, ResultBatch } from './pool.js';
import { tcpProbe } from './tcp.js';
import { PROBE_STATES, type ProbeResult } from './types.js';

const STATE_INDEX: ReadonlyMap<string, number> = new Map(PROBE_STATES.map((s, i) => [s, i]));
const ERROR_INDEX = PROBE_STATES.indexOf('error');

const port = parentPort;
if (port === null) throw new Error('pool-worker.ts runs as a worker thread of the probe pool');

let out: { -readonly [K in keyof ResultBatch]: ResultBatch[K] } | undefined;

function send(): void {
  const batch = out;
  out = undefined;
  if (batch) port?.postMessage(batch);
}

function done(id: number, result: ProbeResult): void {
  if (out === undefined) {
    out = { ids: [], states: [], durationsSeconds: [], errors: [] };
    // After the I/O of this turn: every result it settled goes in one message.
    setImmediate(send);
  }
  out.ids.push(id);
  out.states.push(STATE_INDEX.get(result.state) ?? ERROR_INDEX);
  out.durationsSeconds.push(result.durationSeconds);
  out.errors.push(result.error ?? null);
}

port.on('message', (batch: RequestBatch) => {
  const { ids, ips, ports, timeoutsMs } = batch;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i] as number;
    tcpProbe({
      ip: ips[i] as string,
      port: ports[i] as number,
      timeoutMs: timeoutsMs[i] as number,
    }).then((result) => done(id, result));
  }
});
